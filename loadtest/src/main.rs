//! `aula-loadtest`: run a scenario of bots against an Aula server and report how it held up.
//!
//! Subcommands `class`, `lecture`, `meeting`, `surge`, `churn`, `impair`, `budget` (see `--help`
//! of each), and `compare` and `morning`, which start servers themselves and run a scenario
//! twice. The report is a table on stdout ending in a `VERDICT:` line, and the same as JSON
//! with `--json FILE`; `impair` and `budget` draw their figure as SVG with `--plot FILE`; a
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
    /// The school's morning: five classes of 1 + 29, every camera on, each student's page the
    /// teacher large and 9 thumbnails; once with bandwidth adaptation, once without
    /// (`--bandwidth-adaptation false`), each on a server started here; side by side.
    Morning {
        /// The `aula` binary to start.
        #[arg(long, value_name = "PATH_TO_AULA")]
        aula: PathBuf,
        #[command(flatten)]
        common: Common,
        /// Classes.
        #[arg(long, default_value_t = 5)]
        rooms: usize,
        /// Students per class, besides the teacher.
        #[arg(long, default_value_t = 29)]
        students: usize,
        #[command(flatten)]
        media: ClassMedia,
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
        /// Teacher's camera in kbit/s: its layers q,h,f (320×180, 640×360, 1280×720), or one
        /// number for one encoding without simulcast.
        #[arg(long, default_value = "150,450,1200", value_parser = parse_kbps)]
        teacher_kbps: Kbps,
    },
    /// One meeting room of N participants, all publishing audio and video.
    Meeting {
        #[command(flatten)]
        common: Common,
        /// Participants.
        #[arg(long, default_value_t = 20)]
        participants: usize,
        /// Each camera in kbit/s: layers q,h,f, or one number for one encoding.
        #[arg(long, default_value = "150,450,1200", value_parser = parse_kbps)]
        video_kbps: Kbps,
    },
    /// The 8 o'clock surge (issue 12): N people arrive within T seconds into R classes while
    /// K classes are already running. Each loads the room page, then joins; the server's queue
    /// lets them in; students leave after a seeded stay so the queue drains; the run ends when
    /// every student has left, or at --run-limit. Reports failures, page loads by status,
    /// arrival to admission, queue positions, first media, and the running classes' extra
    /// loss. Against Janus (no queue), or under `compare`, it is the plain surge: everyone
    /// joins and stays for --duration.
    Surge {
        #[command(flatten)]
        common: Common,
        /// People in all.
        #[arg(long, default_value_t = 300)]
        participants: usize,
        /// Class rooms; the first person of each joins as its teacher (host).
        #[arg(long, default_value_t = 10)]
        rooms: usize,
        /// The window all arrivals fall in (e.g. 10s).
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        within: Duration,
        /// Teachers' camera in kbit/s: layers q,h,f, or one number for one encoding.
        #[arg(long, default_value = "150,450,1200", value_parser = parse_kbps)]
        teacher_kbps: Kbps,
        /// Students' microphones (their cameras stay off: students receive their teacher).
        #[arg(long, default_value = "off", value_parser = parse_on_off, action = clap::ArgAction::Set)]
        students_audio: bool,
        /// A student's mean stay once admitted (each stays 0.5 to 1.5 times it, seeded).
        #[arg(long, default_value = "20s", value_parser = parse_duration)]
        stay: Duration,
        /// Classes already running before the surge (a teacher publishing, students
        /// receiving), whose loss is measured before and during it.
        #[arg(long, default_value_t = 3)]
        running_classes: usize,
        /// Students in each running class, besides the teacher.
        #[arg(long, default_value_t = 9)]
        running_students: usize,
        /// The running classes' baseline window before the surge.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        baseline: Duration,
        /// The longest the run lasts from the first arrival.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        run_limit: Duration,
        /// Each arrival loads the room page and its assets first (on or off).
        #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
        page_loads: bool,
        /// Write the figure (arrived, queue, present, a few positions) as SVG here.
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
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
    /// One class whose last student's downlink goes through a shaping relay (token bucket,
    /// drop-tail queue, delay) following a capacity profile, RFC 8867 section 5.1 by default
    /// (1, 2.5, 0.6, 1 Mbit/s at 0, 40, 60, 80 % of --duration, default 100s); the student
    /// before it has the same page on an unshaped relay, to show the demand.
    Impair {
        #[command(flatten)]
        common: Common,
        /// Students, besides the teacher: the shaped one and its twin are the last two.
        #[arg(long, default_value_t = 6)]
        students: usize,
        /// The capacity: seconds from the shaped student's start and Mbit/s from then, e.g.
        /// 0:1,40:2.5,60:0.6,80:1 [default: RFC 8867 5.1 scaled to --duration].
        #[arg(long, value_parser = aula_loadtest::link::Profile::parse)]
        profile: Option<aula_loadtest::link::Profile>,
        /// The bottleneck's drop-tail queue, ms (RFC 8867: 300).
        #[arg(long, default_value_t = 300)]
        queue_ms: u64,
        /// One-way delay each way, ms (RFC 8867 5.1: 50).
        #[arg(long, default_value_t = 50)]
        delay_ms: u64,
        /// The token bucket's depth, bytes: what passes at once after an idle moment (1500:
        /// a link that serializes every datagram behind the one before).
        #[arg(long, default_value_t = aula_loadtest::link::BURST_BYTES)]
        burst_bytes: u64,
        /// Write the figure (capacity, sent, received, demand, estimate) as SVG here.
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
        #[command(flatten)]
        media: ClassMedia,
    },
    /// R class rooms on a server whose egress is limited (--egress-limit-mbps, given to a
    /// server started with --start-server): total egress against the limit, and whether every
    /// host video and all audio keep flowing in every room.
    Budget {
        #[command(flatten)]
        common: Common,
        /// Rooms.
        #[arg(long, default_value_t = 3)]
        rooms: usize,
        /// Students per room, besides the teacher.
        #[arg(long, default_value_t = scenario::BUDGET_STUDENTS)]
        students: usize,
        /// The server's egress limit, Mbit/s.
        #[arg(long, default_value_t = scenario::BUDGET_LIMIT_MBPS)]
        egress_limit_mbps: f64,
        /// Write the figure (egress, limit, demand, rooms) as SVG here.
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
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
    /// Cameras send their three layers (on), or their largest alone as one encoding (off).
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    simulcast: bool,
    /// Bots tell their page's layout with `view` (on), or never (off: the server sends every
    /// camera at its middle layer).
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    views: bool,
    /// Thumbnails a student's page shows below the teacher; the other cameras are not shown.
    #[arg(long, default_value_t = scenario::THUMBNAILS)]
    thumbnails: usize,
    /// One more argument for a server this loadtest starts (--start-server, compare,
    /// morning), e.g. `--server-arg=--bandwidth-adaptation --server-arg=false`; repeatable.
    #[arg(long = "server-arg", value_name = "ARG", allow_hyphen_values = true)]
    server_args: Vec<String>,
}

/// A camera's bitrates, kbit/s: three simulcast layers or one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kbps {
    One(u32),
    Layers([u32; 3]),
}

impl Kbps {
    fn media(self) -> Media {
        match self {
            Kbps::One(kbps) => Media::camera(kbps),
            Kbps::Layers(layers) => Media::simulcast(layers),
        }
    }
}

#[derive(Args)]
struct ClassMedia {
    /// Teacher's camera in kbit/s: its layers q,h,f (320×180, 640×360, 1280×720), or one
    /// number for one encoding without simulcast.
    #[arg(long, default_value = "150,450,1200", value_parser = parse_kbps)]
    teacher_kbps: Kbps,
    /// Each student's camera in kbit/s, as --teacher-kbps. The default's largest layer is the
    /// 150 kbit/s of a student camera in a full class.
    #[arg(long, default_value = "50,100,150", value_parser = parse_kbps)]
    student_kbps: Kbps,
    /// Students' cameras: on or off.
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    students_video: bool,
    /// Students' microphones: on or off [default: on; budget: off, as a class's students
    /// join muted].
    #[arg(long, value_parser = parse_on_off, action = clap::ArgAction::Set)]
    students_audio: Option<bool>,
}

impl ClassMedia {
    fn apply(&self, spec: &mut Scenario) {
        spec.host = self.teacher_kbps.media();
        spec.participant = Media {
            audio: self.students_audio.unwrap_or(spec.participant.audio),
            video: self
                .students_video
                .then_some(self.student_kbps.media().video)
                .flatten(),
        };
    }
}

/// The scenario the flags describe, the flags every scenario shares, and where its figure
/// goes.
fn scenario(command: ScenarioCommand) -> (Scenario, Common, Option<PathBuf>) {
    let mut plot = None;
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
            spec.host = teacher_kbps.media();
            (spec, common)
        }
        ScenarioCommand::Meeting {
            common,
            participants,
            video_kbps,
        } => {
            let mut spec = Scenario::new(Kind::Meeting);
            spec.participants = participants;
            (spec.host, spec.participant) = (video_kbps.media(), video_kbps.media());
            (spec, common)
        }
        ScenarioCommand::Surge {
            common,
            participants,
            rooms,
            within,
            teacher_kbps,
            students_audio,
            stay,
            running_classes,
            running_students,
            baseline,
            run_limit,
            page_loads,
            plot: figure,
        } => {
            let mut spec = Scenario::new(Kind::Surge);
            (spec.participants, spec.rooms, spec.within) = (participants, rooms, Some(within));
            spec.host = teacher_kbps.media();
            spec.participant.audio = students_audio;
            spec.surge = aula_loadtest::surge::SurgeSpec {
                stay,
                running: running_classes,
                running_students,
                baseline,
                run_limit,
                page_loads,
            };
            plot = figure;
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
        ScenarioCommand::Impair {
            common,
            students,
            profile,
            queue_ms,
            delay_ms,
            burst_bytes,
            plot: figure,
            media,
        } => {
            let mut spec = Scenario::new(Kind::Impair);
            spec.students = students;
            spec.impair.profile = profile;
            spec.impair.queue = Duration::from_millis(queue_ms);
            spec.impair.delay = Duration::from_millis(delay_ms);
            spec.impair.burst_bytes = burst_bytes;
            media.apply(&mut spec);
            plot = figure;
            (spec, common)
        }
        ScenarioCommand::Budget {
            common,
            rooms,
            students,
            egress_limit_mbps,
            plot: figure,
            media,
        } => {
            let mut spec = Scenario::new(Kind::Budget);
            (spec.rooms, spec.students) = (rooms, students);
            spec.egress_limit_mbps = Some(egress_limit_mbps);
            media.apply(&mut spec);
            plot = figure;
            (spec, common)
        }
    };
    let mut spec = spec;
    spec.duration = common.duration.unwrap_or(spec.duration);
    spec.seed = common.seed;
    spec.join_timeout = common.join_timeout;
    spec.local_ip = common.local_ip;
    spec.progress = !common.quiet;
    spec.simulcast = common.simulcast;
    spec.views = common.views;
    spec.thumbnails = common.thumbnails;
    spec.server_flags = common.server_args.clone();
    (spec, common, plot)
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let (how, command) = match Cli::parse().command {
        Command::Scenario(command) => (How::Run, command),
        Command::Compare { args, scenario } => (How::Compare(args), scenario),
        Command::Morning {
            aula,
            common,
            rooms,
            students,
            media,
        } => {
            let command = ScenarioCommand::Class {
                common,
                rooms,
                students,
                media,
            };
            (How::Morning(aula), command)
        }
    };
    let (spec, common, plot) = scenario(command);
    let result = tokio::select! {
        r = async {
            match &how {
                How::Compare(args) => compare_servers(&spec, args, common.json.as_deref()).await,
                How::Morning(aula) => morning(&spec, aula, common.json.as_deref()).await,
                How::Run => run(&spec, &common, plot.as_deref()).await,
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

/// What to do with the scenario.
enum How {
    /// Run it against one server.
    Run,
    /// Against Aula and Janus.
    Compare(aula_loadtest::compare::CompareArgs),
    /// Against Aula with and without bandwidth adaptation (the `aula` binary given).
    Morning(PathBuf),
}

/// Time beyond ramp and duration after which a run is abandoned: room creation, bot leaving
/// and the server's start and stop all fit in it many times over.
const OVERRUN: Duration = Duration::from_secs(60);

async fn run(
    spec: &Scenario,
    common: &Common,
    plot: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
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
            let s = StartedServer::start_with(path, biggest + 10, &spec.server_flags())
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
    if spec.kind == Kind::Surge && server.target == Target::Aula {
        return surge(spec, &server, started, common.json.as_deref(), plot).await;
    }
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
    if let Some(path) = plot {
        let svg = match (&report.impair, &report.budget) {
            (Some(i), _) => Some(aula_loadtest::impair::svg(i)),
            (_, Some(b)) => Some(aula_loadtest::budget::svg(b)),
            _ => None,
        };
        if let Some(svg) = svg {
            std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(if report.verdict.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `surge` against Aula: see `aula_loadtest::surge`. Prints the table; writes the JSON and
/// the figure if asked. Exit 0 when the targets were met.
async fn surge(
    spec: &Scenario,
    server: &ServerUnderTest,
    started: Option<StartedServer>,
    json: Option<&std::path::Path>,
    plot: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let limit = spec.surge.run_limit + spec.surge.baseline + OVERRUN * 2;
    let report = tokio::time::timeout(limit, aula_loadtest::surge::run(spec, server))
        .await
        .with_context(|| format!("the run did not end within {limit:?}"))??;
    if let Some(s) = started {
        s.stop();
    }
    print!("{}", aula_loadtest::surge::report::render(&report));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("reports always serialize");
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = plot {
        let title = format!(
            "surge: {} people into {} classes within {:.0} s",
            report.arrivals, report.rooms, report.within_s
        );
        let svg = aula_loadtest::surge::report::svg(&report, &title);
        std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
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

/// Parses a camera's kbit/s: `150,450,1200` (layers q, h, f) or `1500` (one encoding).
fn parse_kbps(text: &str) -> Result<Kbps, String> {
    let numbers: Vec<u32> = text
        .split(',')
        .map(|n| n.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{text:?}: use kbit/s like 150,450,1200 or 1500"))?;
    match numbers[..] {
        [one] => Ok(Kbps::One(one)),
        [q, h, f] => Ok(Kbps::Layers([q, h, f])),
        _ => Err(format!("{text:?}: three layers (q,h,f) or one number")),
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

/// `compare`: see `aula_loadtest::compare`. Prints each side's report, then the ratio table;
/// writes both reports as JSON to `json` if given. Exit 0 when both runs happened.
async fn compare_servers(
    spec: &Scenario,
    args: &aula_loadtest::compare::CompareArgs,
    json: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use aula_loadtest::compare::Side;
    let comparison = aula_loadtest::compare::run(spec, args).await?;
    for (name, side) in [("aula", &comparison.aula), ("janus", &comparison.janus)] {
        if let Side::Report(report) = side {
            print!("== {name} ==\n{}", aula_loadtest::table::render(report));
        }
    }
    print!("{}", aula_loadtest::compare::render(&comparison));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&comparison).expect("reports always serialize");
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `morning`: see `aula_loadtest::morning`. Prints each side's report, then the side-by-side
/// table; writes both as JSON to `json` if given. Exit 0 when both sides met the targets.
async fn morning(
    spec: &Scenario,
    aula: &std::path::Path,
    json: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    use aula_loadtest::compare::Side;
    let m = aula_loadtest::morning::run(spec, aula).await?;
    let sides = [
        ("with allocator", &m.with_allocator),
        ("without allocator", &m.without_allocator),
    ];
    for (name, side) in sides {
        if let Side::Report(report) = side {
            print!("== {name} ==\n{}", aula_loadtest::table::render(report));
        }
    }
    print!("{}", aula_loadtest::morning::render(&m));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&m).expect("reports always serialize");
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    let met = sides.iter().all(|(_, s)| {
        s.report()
            .is_some_and(|r| aula_loadtest::morning::failures(r).is_empty())
    });
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
