//! `aula-loadtest`: run bots against an Aula server.
//!
//! Only one scenario so far, `class`: create a room, join a teacher and N students (all
//! publishing audio and video), run for a while, print what each bot received, and exit non-zero
//! if any bot failed to join or missed media from anyone.
//!
//! Exit codes: 0 when every bot got media from every other, 1 when some did not, 2 when the run
//! could not start (bad flags, server unreachable, room not created).

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use aula_loadtest::http::{self, ServerUrl};
use aula_loadtest::media::VideoConfig;
use aula_loadtest::stats::{DelayStats, StreamStats};
use aula_loadtest::{BotConfig, BotReport, BotStats};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "aula-loadtest",
    version,
    about = "Bots that load an Aula server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a room and fill it with a teacher and students, all publishing.
    Class(ClassArgs),
}

#[derive(Args)]
struct ClassArgs {
    /// Base URL of the server.
    #[arg(long, env = "AULA_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Students besides the teacher.
    #[arg(long, default_value_t = 4)]
    students: usize,
    /// How long the class runs after the bots start (e.g. 10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Video bitrate of each bot in kbit/s.
    #[arg(long, default_value_t = 300)]
    video_kbps: u32,
    /// Video frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Publish audio only.
    #[arg(long)]
    no_video: bool,
    /// Local address for the bots' UDP sockets.
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// How long a bot may take to connect and join.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    join_timeout: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Class(args) => class(args).await,
    };
    // Printed by hand: the whole cause on one line, and no backtrace even if RUST_BACKTRACE is
    // set, since these are operator errors (wrong URL, server down), not bugs.
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(2)
    })
}

/// Time to create the room; a healthy server answers in milliseconds.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between bot starts, so joins do not all land in the same millisecond.
const STAGGER: Duration = Duration::from_millis(20);
/// Time the bots get to leave and report once the class is over.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

async fn class(args: ClassArgs) -> anyhow::Result<ExitCode> {
    let server = ServerUrl::parse(&args.server)?;
    let room = http::create_room(&server, Some("Lasttest"), HTTP_TIMEOUT)
        .await
        .with_context(|| format!("creating a room on {}", server.http_base()))?;
    let teacher_secret = room
        .teacher_secret()
        .context("teacher_url has no k= secret")?;
    let student_secret = room
        .student_secret()
        .context("student_url has no k= secret")?;
    eprintln!(
        "room {}: teacher + {} students for {:?}",
        room.id, args.students, args.duration
    );

    let video = (!args.no_video).then(|| VideoConfig {
        bitrate_bps: args.video_kbps.saturating_mul(1000),
        fps: args.fps,
        ..VideoConfig::default()
    });
    let mut bots = Vec::new();
    for i in 0..=args.students {
        let (name, secret) = match i {
            0 => ("teacher".to_owned(), teacher_secret),
            _ => (format!("student-{i}"), student_secret),
        };
        let mut config = BotConfig::new(&server.ws_url(), &room.id, secret, &name);
        config.local_ip = args.local_ip;
        config.video = video;
        config.join_timeout = args.join_timeout;
        config.seed = i as u64;
        bots.push(aula_loadtest::spawn(config));
        tokio::time::sleep(STAGGER).await;
    }

    tokio::select! {
        () = tokio::time::sleep(args.duration) => {}
        _ = tokio::signal::ctrl_c() => eprintln!("interrupted; collecting reports"),
    }

    let leaving = futures_util::future::join_all(bots.into_iter().map(|bot| bot.leave()));
    let reports = tokio::time::timeout(LEAVE_TIMEOUT, leaving)
        .await
        .with_context(|| format!("the bots did not stop within {LEAVE_TIMEOUT:?}"))?;
    for report in &reports {
        print_report(report);
    }
    let failures = failures(&reports, video.is_some());
    for f in &failures {
        println!("FAIL {f}");
    }
    println!("{} bots, {} failures", reports.len(), failures.len());
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every bot must have joined, not failed, and received media from every other bot that joined.
fn failures(reports: &[BotReport], video: bool) -> Vec<String> {
    let ids: Vec<&str> = reports
        .iter()
        .filter_map(|r| r.stats.id.as_deref())
        .collect();
    let mut out = Vec::new();
    for r in reports {
        let name = &r.stats.name;
        if let Some(e) = &r.error {
            out.push(format!("{name}: {}", e.chain()));
        }
        let Some(me) = r.stats.id.as_deref() else {
            out.push(format!("{name}: never joined"));
            continue;
        };
        for other in ids.iter().filter(|&&id| id != me) {
            let got = r.stats.remote(other);
            let audio = got.is_some_and(|g| g.audio.frames > 0);
            let video_ok = !video || got.is_some_and(|g| g.video.frames > 0);
            if !audio || !video_ok {
                out.push(format!("{name}: no media from {other}"));
            }
        }
    }
    out
}

fn print_report(r: &BotReport) {
    let s = &r.stats;
    println!(
        "{} ({}): ws {} joined {} pub-ice {} sub-ice {} first-media {}; \
         sent {} audio, {} video ({} key, {} requested), {} kB",
        s.name,
        s.id.as_deref().unwrap_or("-"),
        ms(s.ws_open),
        ms(s.joined),
        ms(s.publish_ice_connected),
        ms(s.subscribe_ice_connected),
        ms(s.first_media),
        s.sent.audio_frames,
        s.sent.video_frames,
        s.sent.keyframes,
        s.sent.keyframe_requests,
        s.sent.bytes / 1000,
    );
    for remote in &s.remotes {
        println!(
            "  from {}: audio {}; video {}",
            remote.id,
            stream(&remote.audio),
            stream(&remote.video)
        );
    }
    print_errors(s);
}

fn print_errors(s: &BotStats) {
    for e in &s.errors {
        println!("  note: {e}");
    }
}

fn stream(s: &StreamStats) -> String {
    format!(
        "{} frames {} kB {} key {} missing, delay {}",
        s.frames,
        s.bytes / 1000,
        s.keyframes,
        s.frames_missing(),
        delay(&s.delay)
    )
}

fn delay(d: &DelayStats) -> String {
    match (d.mean(), d.percentile(0.99)) {
        (Some(mean), Some(p99)) => format!(
            "mean {:.1} ms p99 < {:.1} ms max {:.1} ms",
            mean.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            d.max_us as f64 / 1e3
        ),
        _ => "-".to_owned(),
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{}ms", d.as_millis()))
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

    fn report(name: &str, id: Option<&str>, from: &[&str]) -> BotReport {
        let mut stats = BotStats {
            name: name.into(),
            id: id.map(Into::into),
            ..BotStats::default()
        };
        for other in from {
            let mut r = aula_loadtest::stats::RemoteStats {
                id: (*other).into(),
                ..Default::default()
            };
            r.audio.frames = 1;
            r.video.frames = 1;
            stats.remotes.push(r);
        }
        BotReport { stats, error: None }
    }

    #[test]
    fn failures_name_missing_media_and_joins() {
        let ok = [
            report("a", Some("p0"), &["p1"]),
            report("b", Some("p1"), &["p0"]),
        ];
        assert!(failures(&ok, true).is_empty());
        let bad = [
            report("a", Some("p0"), &[]),
            report("b", Some("p1"), &["p0"]),
            report("c", None, &[]),
        ];
        assert_eq!(
            failures(&bad, true),
            vec![
                "a: no media from p1".to_owned(),
                "c: never joined".to_owned()
            ]
        );
    }
}
