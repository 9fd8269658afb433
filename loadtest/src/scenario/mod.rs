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
//! Cameras send three simulcast layers and every bot lays out what it receives as its page
//! would and says so with `view` ([`ViewPolicy`]): the engine is measured the way browsers
//! use it. `simulcast` and `views` turn either off for comparisons.
//!
//! It creates the rooms (in one place, [`create_room`]), starts the bots on the schedule of
//! [`plan`], in a churn run sends them away and back on the schedule of [`churn::schedule`],
//! samples the server every second (CPU and RSS from `/proc/PID`, counters from
//! `GET /metrics`, or the bots' received datagrams when the server has no metrics), prints a
//! progress line to stderr if asked, makes every bot leave, and summarizes it all in a
//! [`Report`]. Every run ends by itself: ramp + duration + at most [`LEAVE_TIMEOUT`].
//!
//! Two scenarios are about bandwidth (issue 11): `impair` puts one student's downlink behind
//! a shaping relay ([`crate::relay`]) that follows a capacity profile, and a twin student
//! behind an unshaped one to show what the first would have been sent; `budget` runs class
//! rooms on a server whose egress is limited. Both read the allocator's view of each room
//! (`GET /api/rooms/{id}/bandwidth`) every second beside `/metrics`.
//!
//! # Layout
//! - `mod.rs`: the scenarios, their plans, and [`run`].
//! - `run`: a run in progress: starting bots, sampling, leaving, the report.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

mod run;

use crate::churn::{self, ChurnSpec};
use crate::http::{RoomKind, RoomOptions};
use crate::impair::{ImpairSpec, LinkRole};
use crate::media::{Encodings, VideoConfig};
use crate::procstat;
use crate::report::Report;
use crate::server::ServerUnderTest;
use crate::target::{self, RoomTicket, Target};
use crate::view::ViewPolicy;
use run::Run;

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
    /// One class room where one student's downlink is shaped by a capacity profile.
    Impair,
    /// Class rooms on a server whose egress is limited to a third of what they ask for.
    Budget,
}

impl Kind {
    /// The kind of room the scenario creates.
    pub fn room_kind(self) -> RoomKind {
        match self {
            Kind::Meeting => RoomKind::Meeting,
            Kind::Class
            | Kind::Lecture
            | Kind::Surge
            | Kind::Churn
            | Kind::Impair
            | Kind::Budget => RoomKind::Class,
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

    /// Audio and a camera of one encoding at `kbps`.
    pub fn camera(kbps: u32) -> Media {
        Media {
            audio: true,
            video: Some(video(kbps)),
        }
    }

    /// Audio and a simulcast camera whose layers `q`, `h`, `f` send `kbps`.
    pub fn simulcast(kbps: [u32; 3]) -> Media {
        Media {
            audio: true,
            video: Some(VideoConfig::simulcast(kbps.map(|k| k.saturating_mul(1000)))),
        }
    }

    /// The same without simulcast: a simulcast camera sends its largest layer alone.
    pub fn without_simulcast(self) -> Media {
        let video = self.video.map(|mut v| {
            if let Encodings::Simulcast(layers) = v.encodings {
                v.encodings = Encodings::Single(layers[2]);
            }
            v
        });
        Media { video, ..self }
    }

    /// Whether it publishes anything.
    pub fn publishes(&self) -> bool {
        self.audio || self.video.is_some()
    }
}

/// A synthetic camera of one 640×360 encoding at `kbps` and 30 frames/s.
pub fn video(kbps: u32) -> VideoConfig {
    VideoConfig::single(kbps.saturating_mul(1000), 640, 360)
}

/// The layers of the web client's camera, kbit/s for `q`, `h`, `f` (320×180, 640×360,
/// 1280×720): the teacher's default, and everyone's in a meeting.
pub const CAMERA_KBPS: [u32; 3] = [150, 450, 1200];
/// A student's camera in a class: the issue's class of 30 has students at 150 kbit/s, here its
/// largest layer, and the smaller ones at a third and two thirds of it, so that each layer
/// still sends a packet or more per frame (a smaller share would make them silent sparks no
/// encoder produces).
pub const STUDENT_KBPS: [u32; 3] = [50, 100, 150];
/// Thumbnails a student's page shows below the stage at once: a strip of 9, as on a laptop.
pub const THUMBNAILS: usize = 9;

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
    /// Cameras with simulcast layers send them all; without, each sends its largest alone.
    pub simulcast: bool,
    /// Bots tell their page's layout with `view` (see [`ViewPolicy`]); without, the server
    /// sends every camera at its middle layer.
    pub views: bool,
    /// Thumbnails a student's page shows at once (the rest of the strip is not shown).
    pub thumbnails: usize,
    /// The shaped link (impair).
    pub impair: ImpairSpec,
    /// The server's egress limit, Mbit/s: given to a server this loadtest starts
    /// (`--egress-limit-mbps`), and what the budget scenario measures against (the server's
    /// `/metrics` say it too).
    pub egress_limit_mbps: Option<f64>,
    /// More flags for a server this loadtest starts, e.g. `--bandwidth-adaptation false`.
    pub server_flags: Vec<String>,
    /// Stays, running classes and the run's bound (surge, see [`crate::surge`]).
    pub surge: crate::surge::SurgeSpec,
}

impl Scenario {
    /// A scenario of `kind` with the sizes and media of the issue's examples; the CLI and
    /// tests change fields from here.
    pub fn new(kind: Kind) -> Scenario {
        let participant = match kind {
            // A thousand students cannot all publish beside the server on 2 cores; they
            // receive their teacher (`--students-audio on` gives them microphones).
            Kind::Lecture | Kind::Surge => Media::NONE,
            Kind::Meeting => Media::simulcast(CAMERA_KBPS),
            // Muted, as a class's students join: with nine open microphones a room's audio
            // alone (never held back) takes most of what a third of its demand leaves.
            Kind::Budget => Media {
                audio: false,
                ..Media::simulcast(STUDENT_KBPS)
            },
            _ => Media::simulcast(STUDENT_KBPS),
        };
        let host = Media::simulcast(CAMERA_KBPS);
        Scenario {
            kind,
            rooms: match kind {
                Kind::Surge => 10,
                Kind::Churn => 5,
                Kind::Budget => 3,
                _ => 1,
            },
            students: match kind {
                Kind::Lecture => 200,
                // Four publishing students, the shaped one and its twin.
                Kind::Impair => 6,
                Kind::Budget => BUDGET_STUDENTS,
                _ => 29,
            },
            participants: match kind {
                Kind::Meeting => 20,
                Kind::Churn => 10,
                _ => 300,
            },
            within: (kind == Kind::Surge).then_some(Duration::from_secs(10)),
            duration: Duration::from_secs(match kind {
                // A warm-up and a cool-down, and a minute of churn between them.
                Kind::Churn => 73,
                // RFC 8867's profile lasts 100 s.
                Kind::Impair => 100,
                // Budgets are shared twice a second; 30 s is 60 decisions after the ramp.
                Kind::Budget => 30,
                _ => 10,
            }),
            seed: 1,
            host,
            participant,
            join_timeout: Duration::from_secs(10),
            local_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            progress: false,
            churn: ChurnSpec::default(),
            simulcast: true,
            views: true,
            thumbnails: THUMBNAILS,
            impair: ImpairSpec::default(),
            egress_limit_mbps: (kind == Kind::Budget).then_some(BUDGET_LIMIT_MBPS),
            server_flags: Vec::new(),
            surge: crate::surge::SurgeSpec::default(),
        }
    }

    /// The flags a server this loadtest starts needs for the scenario.
    pub fn server_flags(&self) -> Vec<String> {
        let mut flags = self.server_flags.clone();
        if let Some(limit) = self.egress_limit_mbps {
            flags.extend(["--egress-limit-mbps".to_owned(), limit.to_string()]);
        }
        flags
    }

    /// Whether each room's allocation (`GET /api/rooms/{id}/bandwidth`) is read every second.
    pub fn reads_allocation(&self) -> bool {
        matches!(self.kind, Kind::Impair | Kind::Budget)
    }

    /// How a bot lays out what it receives: in a meeting a grid, in a class the teacher's
    /// page a grid of the students and a student's page the teacher on the stage with a strip
    /// of thumbnails.
    pub fn view(&self, host: bool) -> ViewPolicy {
        match (self.views, self.kind.room_kind(), host) {
            (false, _, _) => ViewPolicy::None,
            (true, RoomKind::Meeting, _) | (true, RoomKind::Class, true) => ViewPolicy::Grid,
            (true, RoomKind::Class, false) => ViewPolicy::Stage {
                thumbnails: self.thumbnails,
            },
        }
    }

    /// Participants per room.
    pub fn room_sizes(&self) -> Vec<usize> {
        match self.kind {
            Kind::Class | Kind::Budget => vec![1 + self.students; self.rooms],
            Kind::Lecture | Kind::Impair => vec![1 + self.students],
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
        if self.kind == Kind::Impair && self.students < 2 {
            return Err("impair needs at least 2 students: the shaped one and its twin".into());
        }
        if self
            .egress_limit_mbps
            .is_some_and(|l| !(l > 0.0 && l.is_finite()))
        {
            return Err("--egress-limit-mbps must be above 0".into());
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
    /// How it lays out what it receives.
    pub view: ViewPolicy,
    /// When it starts, from the start of the run.
    pub start: Duration,
    /// Behind a relay (impair): the shaped student, or its twin.
    pub link: Option<LinkRole>,
}

/// Students per budget room: with the teacher large and 9 thumbnails, a room of 1 + 9 with
/// the students muted asks for about 19 Mbit/s (measured: 57 Mbit/s for three rooms on an
/// unlimited server, docs/benchmarks.md).
pub const BUDGET_STUDENTS: usize = 9;
/// The budget scenario's egress limit, Mbit/s: a third of what its three rooms ask for.
pub const BUDGET_LIMIT_MBPS: f64 = 19.0;

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
    let last_seat = sizes.first().copied().unwrap_or(0).saturating_sub(1);
    seats
        .into_iter()
        .zip(starts)
        .map(|((room, seat), start)| BotPlan {
            // The last two students of an impair class: the shaped one joins last, so the
            // profile's clock starts with the run's steady part.
            link: match (spec.kind, last_seat.checked_sub(seat)) {
                (Kind::Impair, Some(0)) => Some(LinkRole::Shaped),
                (Kind::Impair, Some(1)) => Some(LinkRole::Twin),
                _ => None,
            },
            room,
            host: seat == 0,
            name: match seat {
                0 => format!("r{room}-{host_name}"),
                s => format!("r{room}-{other_name}-{s}"),
            },
            media: {
                let media = if seat == 0 {
                    spec.host
                } else {
                    spec.participant
                };
                if spec.simulcast {
                    media
                } else {
                    media.without_simulcast()
                }
            },
            view: spec.view(seat == 0),
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
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// How long a sample waits for the bots' snapshots and `/metrics`; a busy machine answers late.
pub(crate) const SAMPLE_WAIT: Duration = Duration::from_millis(800);

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
        assert_eq!(plan[0].media, Media::simulcast([150, 450, 1200]));
        assert_eq!(plan[2].media, Media::simulcast([50, 100, 150]));
        assert_eq!(plan[0].view, ViewPolicy::Grid);
        assert_eq!(plan[2].view, ViewPolicy::Stage { thumbnails: 9 });
    }

    #[test]
    fn simulcast_and_views_can_be_turned_off() {
        let mut spec = Scenario::new(Kind::Meeting);
        spec.participants = 2;
        assert!(plan(&spec).iter().all(|b| b.view == ViewPolicy::Grid));
        spec.simulcast = false;
        spec.views = false;
        let plan = plan(&spec);
        let Some(VideoConfig {
            encodings: Encodings::Single(top),
            ..
        }) = plan[1].media.video
        else {
            panic!("one encoding");
        };
        assert_eq!(
            (top.bitrate_bps, top.width, top.height),
            (1_200_000, 1280, 720)
        );
        assert!(plan.iter().all(|b| b.view == ViewPolicy::None));
        assert_eq!(Media::camera(300).without_simulcast(), Media::camera(300));
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
