//! The 8 o'clock surge at school scale (issue 12): a thousand people arrive within ten
//! seconds into their classes while some classes are already running, and the server's join
//! queue lets them in at the rate and up to the load it can carry.
//!
//! Each arrival loads the room page as a browser does ([`page`]), then its bot joins. A bot
//! the server queues waits with only its WebSocket open (keep-alive pings, each `queued`
//! noted) and sets up WebRTC once `joined` arrives, so the generator carries real media only
//! for those admitted. Students leave after a seeded stay (about [`SurgeSpec::stay`]), so the
//! queue drains within a bounded run; teachers stay to the end. Classes already running before
//! the surge (a teacher publishing, students receiving) measure their loss in a baseline
//! window before it and during it.
//!
//! The run ends by itself: when every student has left or failed, or at
//! [`SurgeSpec::run_limit`] after the first arrival; the report then names who was not let in.
//!
//! # Layout
//! - `mod.rs`: the spec, the arrivals and their stays (pure), and [`run`].
//! - [`page`]: a browser's page load, and the status classes of its answers.
//! - `run`: the run in progress: running classes, arrivals, samples every second, leaving.
//! - [`report`]: the figures, the verdict, the table and the plot.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub mod page;
pub mod report;
mod run;

use crate::scenario::{self, BotPlan, Kind, RunError, Scenario};
use crate::server::ServerUnderTest;
pub use report::SurgeReport;

/// What the surge scenario adds to a [`Scenario`] of kind surge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeSpec {
    /// A student's mean stay once admitted; each stays between half and one and a half times
    /// it (seeded). Lessons last 45 minutes; the run compresses the leaving of a morning's
    /// first hour into a few minutes so the queue drains within a bounded run.
    pub stay: Duration,
    /// Classes already running when the surge begins.
    pub running: usize,
    /// Students in each running class, besides its teacher; they receive only.
    pub running_students: usize,
    /// The window before the surge in which the running classes' loss is the baseline.
    pub baseline: Duration,
    /// The run ends at this time after the first arrival even if students are still there.
    pub run_limit: Duration,
    /// Each arrival loads the room page and its assets before its WebSocket.
    pub page_loads: bool,
}

impl Default for SurgeSpec {
    fn default() -> Self {
        SurgeSpec {
            stay: Duration::from_secs(20),
            running: 3,
            running_students: 9,
            baseline: Duration::from_secs(10),
            run_limit: Duration::from_secs(300),
            page_loads: true,
        }
    }
}

/// Time the running classes get to connect before the baseline window: ICE, DTLS and the
/// first keyframes.
pub const WARMUP: Duration = Duration::from_secs(5);

/// One person of the surge.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Room, name, role, media, page layout, and when they arrive (from the first arrival's
    /// window start).
    pub plan: BotPlan,
    /// How long a student stays once admitted; `None` for a teacher, who stays to the end.
    pub stay: Option<Duration>,
    /// The home address the person's WebSocket comes from.
    pub address: IpAddr,
}

/// Everyone of the surge, in order of arrival: the scenario's seeded plan (the teachers
/// first), each student with a stay ([`stays`]) and each person an address of their own.
pub fn arrivals(spec: &Scenario) -> Vec<Arrival> {
    let plan = scenario::plan(spec);
    let stays = stays(plan.len(), spec.surge.stay, spec.seed);
    plan.into_iter()
        .zip(stays)
        .enumerate()
        .map(|(i, (plan, stay))| Arrival {
            stay: (!plan.host).then_some(stay),
            plan,
            address: home_address(i),
        })
        .collect()
}

/// `n` stays of mean `mean`, uniform between half and one and a half times it, seeded: the
/// longest is bounded, so is the run.
pub fn stays(n: usize, mean: Duration, seed: u64) -> Vec<Duration> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5757_a1e5);
    (0..n)
        .map(|_| mean.mul_f64(0.5 + rng.random::<f64>()))
        .collect()
}

/// The `i`th person's home address, 10.x.y.z: each counts as its own household in the join
/// queue's per-address bound, as pupils at home do.
pub fn home_address(i: usize) -> IpAddr {
    let i = i as u32 + 1;
    IpAddr::V4(Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8))
}

/// Checks the surge's own settings, with a message for the operator if not.
pub fn validate(spec: &Scenario) -> Result<(), String> {
    spec.validate()?;
    let s = &spec.surge;
    if s.stay.is_zero() {
        return Err("--stay must be above 0".into());
    }
    if s.run_limit <= spec.within.unwrap_or_default() {
        return Err("--run-limit must be longer than --within".into());
    }
    if s.running > 0 && s.baseline.is_zero() {
        return Err("--baseline must be above 0 with running classes".into());
    }
    Ok(())
}

/// Runs the surge against `server` (Aula) and reports it. See the module doc.
pub async fn run(spec: &Scenario, server: &ServerUnderTest) -> Result<SurgeReport, RunError> {
    validate(spec).map_err(RunError::Invalid)?;
    if spec.kind != Kind::Surge {
        return Err(RunError::Invalid("not a surge scenario".into()));
    }
    let arrivals = arrivals(spec);
    let mut rooms = Vec::new();
    for index in 0..spec.rooms {
        rooms.push(scenario::create_room(server, spec.kind.room_kind(), index).await?);
    }
    let mut running = Vec::new();
    for index in 0..spec.surge.running {
        let kind = spec.kind.room_kind();
        running.push(scenario::create_room(server, kind, spec.rooms + index).await?);
    }
    let paths = match spec.surge.page_loads {
        true => page::discover(&server.url, &rooms[0].id).await,
        false => Vec::new(),
    };
    let run = run::SurgeRun::new(spec, server, arrivals, rooms, paths);
    Ok(run.drive(running).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(participants: usize, rooms: usize) -> Scenario {
        let mut spec = Scenario::new(Kind::Surge);
        (spec.participants, spec.rooms) = (participants, rooms);
        spec
    }

    #[test]
    fn stays_are_seeded_and_bounded_around_the_mean() {
        let mean = Duration::from_secs(20);
        let a = stays(1000, mean, 1);
        assert_eq!(a, stays(1000, mean, 1), "same seed, same stays");
        assert_ne!(a, stays(1000, mean, 2));
        assert!(a.iter().all(|s| *s >= mean / 2 && *s < mean * 3 / 2));
        let avg = a.iter().sum::<Duration>() / 1000;
        assert!(avg > mean * 95 / 100 && avg < mean * 105 / 100, "{avg:?}");
    }

    #[test]
    fn teachers_arrive_first_and_stay_students_leave() {
        let people = arrivals(&spec(100, 10));
        assert_eq!(people.len(), 100);
        assert!(people[..10].iter().all(|a| a.plan.host && a.stay.is_none()));
        assert!(
            people[10..]
                .iter()
                .all(|a| !a.plan.host && a.stay.is_some())
        );
        assert!(
            people
                .windows(2)
                .all(|w| w[0].plan.start <= w[1].plan.start)
        );
        assert!(
            people
                .iter()
                .all(|a| a.plan.start < Duration::from_secs(10))
        );
        assert!(people[0].plan.media.video.is_some(), "a teacher's camera");
        assert!(people[10..].iter().all(|a| !a.plan.media.publishes()));
    }

    #[test]
    fn everyone_has_a_home_address_of_their_own() {
        let people = arrivals(&spec(1000, 33));
        let mut addresses: Vec<IpAddr> = people.iter().map(|a| a.address).collect();
        addresses.sort();
        addresses.dedup();
        assert_eq!(addresses.len(), 1000);
        assert_eq!(home_address(0), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(home_address(255), IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0)));
    }

    #[test]
    fn nonsense_settings_are_refused() {
        let mut s = spec(100, 10);
        assert!(validate(&s).is_ok());
        s.surge.run_limit = Duration::from_secs(5);
        assert!(validate(&s).is_err());
        s.surge.run_limit = Duration::from_secs(60);
        s.surge.stay = Duration::ZERO;
        assert!(validate(&s).is_err());
    }
}
