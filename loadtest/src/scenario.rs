//! Scenarios: who joins which room when, publishing what, and the run that carries one out and
//! measures it.
//!
//! The entry point for other commands (e.g. a comparison with another SFU):
//!
//! ```text
//! pub async fn scenario::run(spec: &Scenario, server: &ServerUnderTest) -> Result<Report, RunError>
//! // ServerUnderTest { target: Target, url: ServerUrl, pid: Option<u32> }
//! ```
//!
//! It creates the rooms (in one place, [`create_room`]), starts the bots on the schedule of
//! [`plan`], in a churn run sends them away and back on the schedule of [`churn::schedule`],
//! samples the server every second (CPU and RSS from `/proc/PID`, counters from
//! `GET /metrics`, or the bots' received datagrams when the server has no metrics), prints a
//! progress line to stderr if asked, makes every bot leave, and summarizes it all in a
//! [`Report`]. Every run ends by itself: ramp + duration + at most [`LEAVE_TIMEOUT`].

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::churn::{self, ChurnReport, ChurnSpec, Conductor};
use crate::http::{RoomKind, RoomOptions};
use crate::media::{AudioConfig, VideoConfig};
use crate::report::{Outcome, Report, Sample};
use crate::server::{self, ServerUnderTest};
use crate::target::{self, RoomTicket, Target};
use crate::{BotConfig, BotHandle, procstat};

/// Which scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Class rooms of one teacher (the host) and students (participants).
    Class,
    /// One class room: a teacher to many students who only receive.
    Lecture,
    /// One meeting room where everyone publishes.
    Meeting,
    /// Many participants joining class rooms within a short window, then staying.
    Surge,
    /// Class rooms where participants, hosts included, leave and come back all the time.
    Churn,
}

impl Kind {
    /// The kind of room the scenario creates.
    pub fn room_kind(self) -> RoomKind {
        match self {
            Kind::Meeting => RoomKind::Meeting,
            Kind::Class | Kind::Lecture | Kind::Surge | Kind::Churn => RoomKind::Class,
        }
    }

    /// The names of the host and of the others, for bot names: a class has a teacher and
    /// students, a meeting a host and participants.
    fn role_names(self) -> (&'static str, &'static str) {
        match self.room_kind() {
            RoomKind::Class => ("teacher", "student"),
            RoomKind::Meeting => ("host", "participant"),
        }
    }
}

/// What one participant publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media {
    /// A synthetic microphone.
    pub audio: bool,
    /// A synthetic camera.
    pub video: Option<VideoConfig>,
}

impl Media {
    /// Publishes nothing: receives only.
    pub const NONE: Media = Media {
        audio: false,
        video: None,
    };

    /// Audio and a camera at `kbps`.
    pub fn camera(kbps: u32) -> Media {
        Media {
            audio: true,
            video: Some(video(kbps)),
        }
    }

    /// Whether it publishes anything.
    pub fn publishes(&self) -> bool {
        self.audio || self.video.is_some()
    }
}

/// A synthetic camera at `kbps` and 30 frames/s.
pub fn video(kbps: u32) -> VideoConfig {
    VideoConfig {
        bitrate_bps: kbps.saturating_mul(1000),
        ..VideoConfig::default()
    }
}

/// A scenario, fully specified.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Which one.
    pub kind: Kind,
    /// Rooms (class, surge); 1 for lecture and meeting.
    pub rooms: usize,
    /// Students (participants besides the teacher) per room (class, lecture).
    pub students: usize,
    /// Participants in all (meeting, surge); per room (churn).
    pub participants: usize,
    /// The window in which all bots start (surge); others start 20 ms apart.
    pub within: Option<Duration>,
    /// How long the run lasts after the last bot has started.
    pub duration: Duration,
    /// Seeds join times and frame sizes.
    pub seed: u64,
    /// What the first participant of each room publishes (joins with the host link).
    pub host: Media,
    /// What everyone else publishes (joins with the participant link).
    pub participant: Media,
    /// How long a bot may take to open the WebSocket and be `joined`.
    pub join_timeout: Duration,
    /// Local address of the bots' UDP sockets.
    pub local_ip: IpAddr,
    /// Print a progress line to stderr every second.
    pub progress: bool,
    /// How much churn (churn).
    pub churn: ChurnSpec,
}

impl Scenario {
    /// A scenario of `kind` with the sizes and media of the issue's examples; the CLI and
    /// tests change fields from here.
    pub fn new(kind: Kind) -> Scenario {
        let participant = match kind {
            Kind::Lecture => Media::NONE,
            Kind::Meeting => Media::camera(300),
            Kind::Class | Kind::Surge | Kind::Churn => Media::camera(150),
        };
        let host = match kind {
            Kind::Meeting => Media::camera(300),
            _ => Media::camera(1500),
        };
        Scenario {
            kind,
            rooms: match kind {
                Kind::Surge => 10,
                Kind::Churn => 5,
                _ => 1,
            },
            students: if kind == Kind::Lecture { 200 } else { 29 },
            participants: match kind {
                Kind::Meeting => 20,
                Kind::Churn => 10,
                _ => 300,
            },
            within: (kind == Kind::Surge).then_some(Duration::from_secs(10)),
            // Churn needs its warm-up and cool-down, and a minute of churn between them.
            duration: Duration::from_secs(if kind == Kind::Churn { 73 } else { 10 }),
            seed: 1,
            host,
            participant,
            join_timeout: Duration::from_secs(10),
            local_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            progress: false,
            churn: ChurnSpec::default(),
        }
    }

    /// Participants per room.
    pub fn room_sizes(&self) -> Vec<usize> {
        match self.kind {
            Kind::Class => vec![1 + self.students; self.rooms],
            Kind::Lecture => vec![1 + self.students],
            Kind::Meeting => vec![self.participants],
            Kind::Churn => vec![self.participants; self.rooms],
            Kind::Surge => (0..self.rooms)
                .map(|r| {
                    self.participants / self.rooms + usize::from(r < self.participants % self.rooms)
                })
                .collect(),
        }
    }

    /// Checks the sizes make sense, with a message for the operator if not.
    pub fn validate(&self) -> Result<(), String> {
        if self.rooms == 0 {
            return Err("--rooms must be at least 1".into());
        }
        let rooms = self.room_sizes();
        if rooms.is_empty() {
            return Err("--rooms must be at least 1".into());
        }
        if rooms.contains(&0) {
            return Err(format!(
                "{} participants cannot fill {} rooms",
                self.participants, self.rooms
            ));
        }
        if rooms.iter().sum::<usize>() > 5000 {
            return Err("more than 5000 bots; split the load over several machines".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be above 0".into());
        }
        if self.kind == Kind::Churn {
            self.validate_churn()?;
        }
        Ok(())
    }

    fn validate_churn(&self) -> Result<(), String> {
        let c = &self.churn;
        if !(0.0..=churn::MAX_PER_MIN).contains(&c.per_min) {
            return Err(format!(
                "--churn-per-min must be from 0 to {}",
                churn::MAX_PER_MIN
            ));
        }
        if !(0.0..=1.0).contains(&c.resume_share) {
            return Err("--resume-share must be between 0 and 1".into());
        }
        if self.participants < 2 {
            return Err("churn needs at least 2 participants per room".into());
        }
        let ramp = plan(self).last().map_or(Duration::ZERO, |b| b.start);
        if churn::event_window(ramp, self.duration).is_none() {
            let least = churn::WARMUP + churn::COOLDOWN + Duration::from_secs(1);
            return Err(format!(
                "--duration must be at least {least:?} for churn (warm-up and cool-down)"
            ));
        }
        Ok(())
    }
}

/// One bot of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct BotPlan {
    /// Index of its room.
    pub room: usize,
    /// Joins with the host link (the teacher, in a class).
    pub host: bool,
    /// Display name.
    pub name: String,
    /// What it publishes.
    pub media: Media,
    /// When it starts, from the start of the run.
    pub start: Duration,
}

/// Time between bot starts outside a surge, so joins do not all land in the same millisecond.
pub const STAGGER: Duration = Duration::from_millis(20);

/// Every bot with its room and start time, sorted by start time. Rooms are filled in turns, so
/// each room's host comes first; a surge spreads starts at seeded random times.
pub fn plan(spec: &Scenario) -> Vec<BotPlan> {
    let sizes = spec.room_sizes();
    let (host_name, other_name) = spec.kind.role_names();
    let mut seats = Vec::new();
    for seat in 0..sizes.iter().copied().max().unwrap_or(0) {
        for (room, size) in sizes.iter().enumerate() {
            if seat < *size {
                seats.push((room, seat));
            }
        }
    }
    let starts: Vec<Duration> = match spec.within {
        Some(window) => {
            let mut rng = StdRng::seed_from_u64(spec.seed);
            let mut t: Vec<Duration> = (0..seats.len())
                .map(|_| window.mul_f64(rng.random::<f64>()))
                .collect();
            t.sort();
            t
        }
        None => (0..seats.len()).map(|i| STAGGER * i as u32).collect(),
    };
    seats
        .into_iter()
        .zip(starts)
        .map(|((room, seat), start)| BotPlan {
            room,
            host: seat == 0,
            name: match seat {
                0 => format!("r{room}-{host_name}"),
                s => format!("r{room}-{other_name}-{s}"),
            },
            media: if seat == 0 {
                spec.host
            } else {
                spec.participant
            },
            start,
        })
        .collect()
}

/// Why a run could not start. Everything after the start is in the [`Report`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario makes no sense.
    #[error("{0}")]
    Invalid(String),
    /// A room could not be created (server down, refusing, another kind of server).
    #[error("creating room {index} on {server} failed")]
    Room {
        /// Which room.
        index: usize,
        /// Where.
        server: String,
        /// Why.
        source: anyhow::Error,
    },
    /// The pid to measure does not exist.
    #[error("no process {0} to measure (--server-pid)")]
    NoProcess(u32),
}

/// Time for one room to be created; a healthy server answers in milliseconds.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Time the bots get to leave and report once the run is over.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Time between samples (and progress lines).
const TICK: Duration = Duration::from_secs(1);
/// How long a sample waits for the bots' snapshots and `/metrics`; a busy machine answers late.
const SAMPLE_WAIT: Duration = Duration::from_millis(800);

/// Creates one room of `kind`, without a lobby: bots do not wait to be admitted. The one place
/// rooms are made, so each target's way is in `target`.
pub async fn create_room(
    server: &ServerUnderTest,
    kind: RoomKind,
    index: usize,
) -> Result<RoomTicket, RunError> {
    let options = RoomOptions::no_lobby(kind).title(&format!("loadtest {index}"));
    target::create_room(server.target, &server.url, &options, HTTP_TIMEOUT)
        .await
        .map_err(|source| RunError::Room {
            index,
            server: server.url.http_base(),
            source,
        })
}

/// Runs a scenario against a server and reports what happened. See the module doc.
pub async fn run(spec: &Scenario, server: &ServerUnderTest) -> Result<Report, RunError> {
    spec.validate().map_err(RunError::Invalid)?;
    if spec.kind == Kind::Churn && server.target != Target::Aula {
        let why = "churn resumes sessions, which only Aula has";
        return Err(RunError::Invalid(why.into()));
    }
    if let Some(pid) = server.pid {
        procstat::Proc::Pid(pid)
            .sample()
            .ok_or(RunError::NoProcess(pid))?;
    }
    let plan = plan(spec);
    let mut rooms = Vec::new();
    for index in 0..spec.room_sizes().len() {
        rooms.push(create_room(server, spec.kind.room_kind(), index).await?);
    }
    let mut run = Run::new(spec, server, &plan, rooms);
    run.drive().await;
    Ok(run.finish().await)
}

/// A run in progress.
struct Run<'a> {
    spec: &'a Scenario,
    server: &'a ServerUnderTest,
    plan: &'a [BotPlan],
    rooms: Vec<RoomTicket>,
    start: Instant,
    /// Bots started so far, in plan order.
    bots: Vec<BotHandle>,
    samples: Vec<Sample>,
    /// Each bot's last answered snapshot (joined, datagrams received), so a bot too busy to
    /// answer within a tick still counts with what it said before.
    seen: Vec<(bool, u64)>,
    /// Sends bots away and back (churn).
    conductor: Option<Conductor>,
}

impl<'a> Run<'a> {
    fn new(
        spec: &'a Scenario,
        server: &'a ServerUnderTest,
        plan: &'a [BotPlan],
        rooms: Vec<RoomTicket>,
    ) -> Self {
        let start = Instant::now();
        let conductor = (spec.kind == Kind::Churn).then(|| {
            let ramp = plan.last().map_or(Duration::ZERO, |b| b.start);
            let sizes = spec.room_sizes();
            let events = churn::schedule(&spec.churn, &sizes, ramp, spec.duration, spec.seed);
            Conductor::new(events, plan, start, spec.seed)
        });
        Run {
            spec,
            server,
            plan,
            rooms,
            start,
            bots: Vec::with_capacity(plan.len()),
            samples: Vec::new(),
            seen: Vec::with_capacity(plan.len()),
            conductor,
        }
    }

    /// Starts bots on schedule and samples every tick until the run's end.
    async fn drive(&mut self) {
        let ramp = self.plan.last().map_or(Duration::ZERO, |b| b.start);
        let end = self.start + ramp + self.spec.duration;
        self.sample().await;
        let mut next_tick = self.start + TICK;
        while Instant::now() < end {
            let next_bot = self.plan.get(self.bots.len()).map(|b| self.start + b.start);
            let next_churn = self.conductor.as_ref().and_then(Conductor::next_due);
            let wake = [next_bot, next_churn]
                .into_iter()
                .flatten()
                .fold(next_tick.min(end), Instant::min);
            tokio::time::sleep_until(wake.into()).await;
            let now = Instant::now();
            while let Some(b) = self.plan.get(self.bots.len()) {
                if self.start + b.start > now {
                    break;
                }
                self.spawn_next();
            }
            if let Some(conductor) = &mut self.conductor {
                conductor.fire_due(now, &self.bots);
            }
            if now >= next_tick {
                self.sample().await;
                next_tick += TICK;
            }
        }
        self.sample().await;
    }

    fn spawn_next(&mut self) {
        let i = self.bots.len();
        let b = &self.plan[i];
        let room = &self.rooms[b.room];
        let secret = if b.host {
            &room.host_secret
        } else {
            &room.participant_secret
        };
        let ws_url = self.server.target.ws_url(&self.server.url);
        let mut config = BotConfig::new(&ws_url, &room.id, secret, &b.name);
        config.target = self.server.target;
        config.audio = b.media.audio.then(AudioConfig::default);
        config.video = b.media.video;
        config.local_ip = self.spec.local_ip;
        config.join_timeout = self.spec.join_timeout;
        config.seed = self.spec.seed.wrapping_mul(100_003).wrapping_add(i as u64);
        self.bots.push(crate::spawn(config));
    }

    /// One sample of server, loadtest and bots; a progress line if asked.
    async fn sample(&mut self) {
        let asked = Instant::now();
        let at = asked.duration_since(self.start);
        let snapshots = futures_util::future::join_all(
            self.bots
                .iter()
                .map(|b| tokio::time::timeout(SAMPLE_WAIT, b.stats())),
        );
        let metrics = server::metrics(&self.server.url, SAMPLE_WAIT);
        let (snapshots, metrics) = tokio::join!(snapshots, metrics);
        let mut sample = Sample {
            at,
            server: self
                .server
                .pid
                .and_then(|p| procstat::Proc::Pid(p).sample()),
            loadtest: procstat::Proc::Myself.sample(),
            machine: procstat::MachineSample::now(),
            metrics,
            started: self.bots.len(),
            ..Sample::default()
        };
        self.seen.resize(self.bots.len(), (false, 0));
        let bots = self.bots.iter().zip(snapshots).zip(&mut self.seen);
        for (i, ((bot, snap), seen)) in bots.enumerate() {
            if let Ok(Some(s)) = snap {
                *seen = (s.id.is_some(), s.datagrams_received);
                if let Some(conductor) = &mut self.conductor {
                    conductor.handle_snapshot(i, &s, asked);
                }
            } else if bot.is_finished() {
                sample.ended += 1;
            }
            sample.joined += usize::from(seen.0);
            sample.datagrams_received += seen.1;
        }
        if self.spec.progress {
            eprintln!(
                "{}",
                sample.progress_line(self.plan.len(), self.samples.last())
            );
        }
        self.samples.push(sample);
    }

    /// Makes every bot leave and builds the report.
    async fn finish(self) -> Report {
        let leaving = self
            .bots
            .into_iter()
            .map(|bot| tokio::time::timeout(LEAVE_TIMEOUT, bot.leave()));
        let reports = futures_util::future::join_all(leaving).await;
        let outcomes = self
            .plan
            .iter()
            .zip(reports)
            .map(|(plan, report)| Outcome {
                plan: plan.clone(),
                report: report.ok(),
            })
            .collect::<Vec<_>>();
        let churn = self.conductor.map(|c| {
            let ramp = self.plan.last().map_or(Duration::ZERO, |b| b.start);
            let (spec, conducted) = (&self.spec.churn, c.conducted());
            ChurnReport::build(spec, conducted, &outcomes, &self.samples, self.start, ramp)
        });
        Report::build(self.spec, self.server, &outcomes, &self.samples, churn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_fills_rooms_in_turns_teachers_first() {
        let mut spec = Scenario::new(Kind::Class);
        spec.rooms = 2;
        spec.students = 2;
        let plan = plan(&spec);
        let who: Vec<(usize, bool)> = plan.iter().map(|b| (b.room, b.host)).collect();
        assert_eq!(
            who,
            [
                (0, true),
                (1, true),
                (0, false),
                (1, false),
                (0, false),
                (1, false)
            ]
        );
        assert_eq!(plan[5].start, STAGGER * 5);
        assert_eq!(plan[1].name, "r1-teacher");
        assert_eq!(plan[2].name, "r0-student-1");
        assert_eq!(spec.kind.room_kind(), RoomKind::Class);
        assert_eq!(plan[0].media, Media::camera(1500));
        assert_eq!(plan[2].media, Media::camera(150));
    }

    #[test]
    fn lecture_students_only_receive() {
        let mut spec = Scenario::new(Kind::Lecture);
        spec.students = 3;
        let plan = plan(&spec);
        assert_eq!(plan.len(), 4);
        assert!(plan[0].media.publishes());
        assert!(plan[1..].iter().all(|b| !b.media.publishes()));
    }

    #[test]
    fn surge_spreads_seeded_starts_within_the_window() {
        let mut spec = Scenario::new(Kind::Surge);
        spec.participants = 25;
        spec.rooms = 3;
        assert_eq!(spec.room_sizes(), [9, 8, 8]);
        let a = plan(&spec);
        assert_eq!(a.len(), 25);
        assert!(a.windows(2).all(|w| w[0].start <= w[1].start));
        assert!(a.iter().all(|b| b.start < Duration::from_secs(10)));
        assert_eq!(a.iter().filter(|b| b.host).count(), 3);
        assert_eq!(a, plan(&spec), "same seed, same plan");
        spec.seed = 2;
        assert_ne!(a, plan(&spec));
    }

    #[test]
    fn nonsense_sizes_are_refused() {
        let mut spec = Scenario::new(Kind::Surge);
        spec.participants = 2;
        spec.rooms = 3;
        assert!(spec.validate().is_err());
        spec.rooms = 0;
        assert!(spec.validate().is_err());
        let mut spec = Scenario::new(Kind::Meeting);
        assert!(spec.validate().is_ok());
        assert_eq!(spec.kind.room_kind(), RoomKind::Meeting);
        assert_eq!(plan(&spec)[1].name, "r0-participant-1");
        spec.duration = Duration::ZERO;
        assert!(spec.validate().is_err());
    }
}
