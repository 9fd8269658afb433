//! `aula-loadtest`: run a scenario of bots against an Aula server and report how it held up.
//!
//! Subcommands `class`, `lecture`, `meeting`, `surge`, `churn` (see `--help` of each). The report is a
//! table on stdout ending in a `VERDICT:` line, and the same as JSON with `--json FILE`; a
//! progress line goes to stderr every second.
//!
//! Exit codes: 0 when every bot joined and got media from every publisher (and, for churn, no
//! renegotiation failed and no stayer lost media for over a second through someone else's
//! churn), 1 when not, 2 when the run could not start (bad flags, server unreachable, room not
//! created).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use aula_loadtest::churn::ChurnSpec;
use aula_loadtest::http::ServerUrl;
use aula_loadtest::scenario::{self, Kind, Media, Scenario};
use aula_loadtest::server::{ServerUnderTest, StartedServer};
use aula_loadtest::target::Target;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aula-loadtest",
    version,
    about = "Bots that load an Aula server the way a school does, and a report of how it held up"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Scenario(ScenarioCommand),
    /// Runs a scenario against Aula, then Janus 1.1.2 (each started here and stopped), and
    /// prints the ratio table, e.g. `compare --aula target/release/aula class --rooms 1`.
    Compare {
        #[command(flatten)]
        args: aula_loadtest::compare::CompareArgs,
        /// The scenario and its flags (its --server, --target and --start-server are ignored).
        #[command(subcommand)]
        scenario: ScenarioCommand,
    },
}

/// The scenarios. A separate enum from [`Command`] so that `compare` can take one as its
/// subcommand without the flags' definition recursing into itself.
#[derive(Subcommand)]
enum ScenarioCommand {
    /// R class rooms, each one teacher (host; camera) and S students (cameras, or off).
    Class {
        #[command(flatten)]
        common: Common,
        /// Rooms.
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Students per room, besides the teacher.
        #[arg(long, default_value_t = 29)]
        students: usize,
        #[command(flatten)]
        media: ClassMedia,
    },
    /// One class room: a teacher (host; camera) to N students who only receive.
    Lecture {
        #[command(flatten)]
        common: Common,
        /// Students.
        #[arg(long, default_value_t = 200)]
        students: usize,
        /// Teacher's camera in kbit/s.
        #[arg(long, default_value_t = 1500)]
        teacher_kbps: u32,
    },
    /// One meeting room of N participants, all publishing audio and video.
    Meeting {
        #[command(flatten)]
        common: Common,
        /// Participants.
        #[arg(long, default_value_t = 20)]
        participants: usize,
        /// Each camera in kbit/s.
        #[arg(long, default_value_t = 300)]
        video_kbps: u32,
    },
    /// N participants join R rooms within T seconds (the 8 o'clock problem), then stay.
    Surge {
        #[command(flatten)]
        common: Common,
        /// Participants in all.
        #[arg(long, default_value_t = 300)]
        participants: usize,
        /// Class rooms; the first participant of each joins as its teacher (host).
        #[arg(long, default_value_t = 10)]
        rooms: usize,
        /// The window all joins fall in (e.g. 10s).
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        within: Duration,
        #[command(flatten)]
        media: ClassMedia,
    },
    /// R class rooms of N bots that leave and come back, teachers included (resume, rejoin).
    ///
    /// At seeded random times for the whole --duration (default 73s: a 5 s warm-up, a minute
    /// of churn, 8 s to settle), a random bot either drops its socket and resumes, keeping its
    /// media connections, or leaves and joins anew. Reports resumes, rejoins, failed
    /// renegotiations and the stayers' longest media gaps.
    Churn {
        #[command(flatten)]
        common: Common,
        /// Rooms.
        #[arg(long, default_value_t = 5)]
        rooms: usize,
        /// Bots per room; the first joins with the host link.
        #[arg(long, default_value_t = 10)]
        participants: usize,
        /// Churn events per room per minute, each a random bot leaving and coming back; 0
        /// measures the stayers' gaps without churn, as a baseline.
        #[arg(long, default_value_t = 10.0)]
        churn_per_min: f64,
        /// The share of events that resume (socket dropped, media kept); the rest leave and
        /// join anew.
        #[arg(long, default_value_t = 0.5)]
        resume_share: f64,
        #[command(flatten)]
        media: ClassMedia,
    },
}

#[derive(Args)]
struct Common {
    /// Base URL of the server.
    #[arg(long, env = "AULA_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Which server the bots speak to (janus: its VideoRoom plugin over WebSocket).
    #[arg(long, value_enum, default_value = "aula")]
    target: Target,
    /// Measure this server process (CPU, RSS from /proc/PID).
    #[arg(long, conflicts_with = "start_server")]
    server_pid: Option<u32>,
    /// Start this `aula` binary on free loopback ports, measure it, stop it (ignores --server).
    #[arg(long, value_name = "PATH_TO_AULA")]
    start_server: Option<PathBuf>,
    /// How long to stay after the last bot started (e.g. 10s, 500ms, 2m) [default: 10s; churn:
    /// 73s].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Seeds join times and frame sizes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// How long a bot may take to open the WebSocket and be joined.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    join_timeout: Duration,
    /// Local address for the bots' UDP sockets.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct ClassMedia {
    /// Teacher's camera in kbit/s.
    #[arg(long, default_value_t = 1500)]
    teacher_kbps: u32,
    /// Each student's camera in kbit/s.
    #[arg(long, default_value_t = 150)]
    student_kbps: u32,
    /// Students' cameras: on or off.
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    students_video: bool,
    /// Students' microphones: on or off.
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    students_audio: bool,
}

impl ClassMedia {
    fn apply(&self, spec: &mut Scenario) {
        spec.host = Media::camera(self.teacher_kbps);
        spec.participant = Media {
            audio: self.students_audio,
            video: self
                .students_video
                .then(|| scenario::video(self.student_kbps)),
        };
    }
}

/// The scenario the flags describe, and the flags every scenario shares.
fn scenario(command: ScenarioCommand) -> (Scenario, Common) {
    let (spec, common) = match command {
        ScenarioCommand::Class {
            common,
            rooms,
            students,
            media,
        } => {
            let mut spec = Scenario::new(Kind::Class);
            (spec.rooms, spec.students) = (rooms, students);
            media.apply(&mut spec);
            (spec, common)
        }
        ScenarioCommand::Lecture {
            common,
            students,
            teacher_kbps,
        } => {
            let mut spec = Scenario::new(Kind::Lecture);
            spec.students = students;
            spec.host = Media::camera(teacher_kbps);
            (spec, common)
        }
        ScenarioCommand::Meeting {
            common,
            participants,
            video_kbps,
        } => {
            let mut spec = Scenario::new(Kind::Meeting);
            spec.participants = participants;
            (spec.host, spec.participant) = (Media::camera(video_kbps), Media::camera(video_kbps));
            (spec, common)
        }
        ScenarioCommand::Surge {
            common,
            participants,
            rooms,
            within,
            media,
        } => {
            let mut spec = Scenario::new(Kind::Surge);
            (spec.participants, spec.rooms, spec.within) = (participants, rooms, Some(within));
            media.apply(&mut spec);
            (spec, common)
        }
        ScenarioCommand::Churn {
            common,
            rooms,
            participants,
            churn_per_min,
            resume_share,
            media,
        } => {
            let mut spec = Scenario::new(Kind::Churn);
            (spec.rooms, spec.participants) = (rooms, participants);
            spec.churn = ChurnSpec {
                per_min: churn_per_min,
                resume_share,
            };
            media.apply(&mut spec);
            (spec, common)
        }
    };
    let mut spec = spec;
    spec.duration = common.duration.unwrap_or(spec.duration);
    spec.seed = common.seed;
    spec.join_timeout = common.join_timeout;
    spec.local_ip = common.local_ip;
    spec.progress = !common.quiet;
    (spec, common)
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let (compare, command) = match Cli::parse().command {
        Command::Scenario(command) => (None, command),
        Command::Compare { args, scenario } => (Some(args), scenario),
    };
    let (spec, common) = scenario(command);
    let result = tokio::select! {
        r = async {
            match &compare {
                Some(args) => compare_servers(&spec, args).await,
                None => run(&spec, &common).await,
            }
        } => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // Printed by hand: the whole cause on one line, and no backtrace even if RUST_BACKTRACE is
    // set, since these are operator errors (wrong URL, server down), not bugs.
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

/// Time beyond ramp and duration after which a run is abandoned: room creation, bot leaving
/// and the server's start and stop all fit in it many times over.
const OVERRUN: Duration = Duration::from_secs(60);

async fn run(spec: &Scenario, common: &Common) -> anyhow::Result<ExitCode> {
    spec.validate().map_err(anyhow::Error::msg)?;
    if common.start_server.is_some() && common.target != Target::Aula {
        anyhow::bail!(
            "--start-server starts an aula binary; start Janus yourself and pass --server-pid"
        );
    }
    let mut started = None;
    let server = match &common.start_server {
        Some(path) => {
            let biggest = spec.room_sizes().into_iter().max().unwrap_or(1);
            let s = StartedServer::start(path, biggest + 10)
                .await
                .with_context(|| format!("starting {}", path.display()))?;
            let sut = ServerUnderTest {
                target: Target::Aula,
                url: s.url.clone(),
                pid: Some(s.pid()),
            };
            eprintln!(
                "started {} (pid {}) at {}",
                path.display(),
                s.pid(),
                s.url.http_base()
            );
            started = Some(s);
            sut
        }
        None => ServerUnderTest {
            target: common.target,
            url: ServerUrl::parse(&common.server)?,
            pid: common.server_pid,
        },
    };
    let ramp = scenario::plan(spec)
        .last()
        .map_or(Duration::ZERO, |b| b.start);
    let limit = ramp + spec.duration + OVERRUN;
    let report = tokio::time::timeout(limit, scenario::run(spec, &server))
        .await
        .with_context(|| format!("the run did not end within {limit:?}"))??;
    if let Some(s) = started {
        s.stop();
    }
    print!("{}", aula_loadtest::table::render(&report));
    if let Some(path) = &common.json {
        let json = serde_json::to_string_pretty(&report).expect("reports always serialize");
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.verdict.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Parses `on` or `off` (also `true`/`false`, `yes`/`no`).
fn parse_on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("{text:?}: use on or off")),
    }
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s, 500ms or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("unknown unit {unit:?} in {text:?}; use ms, s or m")),
    }
}

/// `compare`: see `aula_loadtest::compare`. Exit 0 when both runs happened.
async fn compare_servers(
    spec: &Scenario,
    args: &aula_loadtest::compare::CompareArgs,
) -> anyhow::Result<ExitCode> {
    let comparison = aula_loadtest::compare::run(spec, args).await?;
    print!("{}", aula_loadtest::compare::render(&comparison));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn flags_become_scenarios() {
        let cli = Cli::try_parse_from([
            "t",
            "class",
            "--rooms",
            "5",
            "--students",
            "3",
            "--students-video",
            "off",
            "--duration",
            "2s",
            "--seed",
            "9",
        ])
        .expect("valid flags");
        let Command::Scenario(command) = cli.command else {
            panic!("a scenario")
        };
        let (spec, _) = scenario(command);
        assert_eq!(spec.room_sizes(), [4; 5]);
        assert_eq!(
            (spec.participant.audio, spec.participant.video),
            (true, None)
        );
        assert_eq!((spec.duration, spec.seed), (Duration::from_secs(2), 9));
        let cli = Cli::try_parse_from(["t", "surge", "--participants", "30", "--within", "3s"])
            .expect("valid flags");
        let Command::Scenario(command) = cli.command else {
            panic!("a scenario")
        };
        let (spec, _) = scenario(command);
        assert_eq!(spec.within, Some(Duration::from_secs(3)));
        assert_eq!(spec.room_sizes().iter().sum::<usize>(), 30);
    }

    #[test]
    fn churn_flags_become_a_churn_scenario() {
        let cli = Cli::try_parse_from([
            "t",
            "churn",
            "--rooms",
            "2",
            "--participants",
            "4",
            "--churn-per-min",
            "30",
            "--resume-share",
            "0.25",
            "--duration",
            "20s",
        ])
        .expect("valid flags");
        let Command::Scenario(command) = cli.command else {
            panic!("a scenario")
        };
        let (spec, _) = scenario(command);
        assert_eq!(spec.kind, Kind::Churn);
        assert_eq!(spec.room_sizes(), [4, 4]);
        assert_eq!((spec.churn.per_min, spec.churn.resume_share), (30.0, 0.25));
        assert_eq!(spec.duration, Duration::from_secs(20));
        assert!(spec.validate().is_ok());
        let cli = Cli::try_parse_from(["t", "churn"]).expect("valid flags");
        let Command::Scenario(command) = cli.command else {
            panic!("a scenario")
        };
        let (spec, _) = scenario(command);
        assert_eq!(spec.room_sizes(), [10; 5]);
        assert!(spec.validate().is_ok(), "the defaults run");
        let cli = Cli::try_parse_from(["t", "churn", "--duration", "10s"]).expect("valid flags");
        let Command::Scenario(command) = cli.command else {
            panic!("a scenario")
        };
        let (short, _) = scenario(command);
        assert!(
            short.validate().is_err(),
            "no room for warm-up and cool-down"
        );
    }

    #[test]
    fn wrong_flags_are_refused() {
        assert!(Cli::try_parse_from(["t", "class", "--students-video", "maybe"]).is_err());
        assert!(Cli::try_parse_from(["t", "lecture", "--rooms", "2"]).is_err());
        assert!(Cli::try_parse_from(["t", "meeting", "--duration", "5h"]).is_err());
        let both = ["t", "class", "--server-pid", "1", "--start-server", "/x"];
        assert!(Cli::try_parse_from(both).is_err());
        assert!(Cli::try_parse_from(["t", "churn", "--churn-per-min", "often"]).is_err());
    }
}
