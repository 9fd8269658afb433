//! The surge's figures: failures, page loads by status class, time from arrival to
//! admission, queue positions over time, first media after admission, and the running
//! classes' loss before and during the surge; the verdict against the targets, the
//! table, and the plot. Pure: built from what the run collected.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::Arrival;
use super::page::{PageLoad, StatusCounts};
use crate::plot::{Plot, Series};
use crate::report::Dist;
use crate::scenario::Scenario;
use crate::server::Metrics;
use crate::stats::BotStats;

/// The bound on the loss the surge may add to classes already running, percentage
/// points.
pub const MAX_EXTRA_LOSS_PERCENT: f64 = 0.5;
/// People whose queue positions the plot traces.
const TRACES: usize = 4;

/// One person as the run saw them. Times count from the first arrival's window start.
#[derive(Debug, Clone)]
pub struct Person {
    /// Who, when, how long they stay.
    pub arrival: Arrival,
    /// Their page load, once done.
    pub page: Option<PageLoad>,
    /// When their bot started (after the page load).
    pub started: Option<Duration>,
    /// Their bot's latest stats (its last answered sample, or its final report).
    pub last: Option<BotStats>,
    /// When they were sent away (stay over, bot ended, or the run's end).
    pub left_at: Option<Duration>,
    /// Their bot's end.
    pub ended: Option<Ended>,
}

/// How a bot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// Why it stopped on its own, if it did.
    pub error: Option<String>,
}

impl Person {
    /// Someone who has not arrived yet.
    pub fn new(arrival: Arrival) -> Person {
        Person {
            arrival,
            page: None,
            started: None,
            last: None,
            left_at: None,
            ended: None,
        }
    }

    /// When `joined` arrived.
    pub fn admitted(&self) -> Option<Duration> {
        Some(self.started? + self.last.as_ref()?.joined?)
    }

    /// From arrival (the page load's start) to admission.
    pub fn wait(&self) -> Option<Duration> {
        Some(self.admitted()?.saturating_sub(self.arrival.plan.start))
    }

    /// From admission to the first frame of anyone.
    pub fn first_media(&self) -> Option<Duration> {
        let s = self.last.as_ref()?;
        Some(s.first_media?.saturating_sub(s.joined?))
    }

    /// What went wrong, if anything: the error the bot ended with, else the first it noted.
    pub fn failure(&self) -> Option<String> {
        let ended = self.ended.as_ref().and_then(|e| e.error.clone());
        ended.or_else(|| self.last.as_ref()?.errors.first().cloned())
    }

    /// Waiting in the queue now: started, a `queued` heard, not admitted, not gone.
    fn waiting(&self) -> bool {
        let queued = self.last.as_ref().is_some_and(|s| !s.queue.is_empty());
        queued && self.admitted().is_none() && self.left_at.is_none()
    }

    /// Queue positions over time (from the first arrival).
    fn positions(&self) -> Vec<(f64, usize)> {
        let (Some(started), Some(s)) = (self.started, &self.last) else {
            return Vec::new();
        };
        let pos = |n: &crate::stats::QueueNote| ((started + n.at).as_secs_f64(), n.position);
        s.queue.iter().map(pos).collect()
    }
}

/// Frames received and missing, audio and video, summed over bots and their remotes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LossCount {
    /// Audio frames received.
    pub audio_frames: u64,
    /// Audio frames missing (gaps in the senders' frame numbers).
    pub audio_missing: u64,
    /// Video frames received.
    pub video_frames: u64,
    /// Video frames missing.
    pub video_missing: u64,
}

impl LossCount {
    /// The counters of `bots` now.
    pub fn of(bots: &[BotStats]) -> LossCount {
        let mut c = LossCount::default();
        for r in bots.iter().flat_map(|b| &b.remotes) {
            c.audio_frames += r.audio.frames;
            c.audio_missing += r.audio.frames_missing();
            c.video_frames += r.video.frames;
            c.video_missing += r.video.frames_missing();
        }
        c
    }

    /// What happened between `earlier` and this.
    pub fn since(&self, earlier: &LossCount) -> LossCount {
        LossCount {
            audio_frames: self.audio_frames.saturating_sub(earlier.audio_frames),
            audio_missing: self.audio_missing.saturating_sub(earlier.audio_missing),
            video_frames: self.video_frames.saturating_sub(earlier.video_frames),
            video_missing: self.video_missing.saturating_sub(earlier.video_missing),
        }
    }

    /// Missing over expected (received + missing), percent, all frames.
    pub fn percent(&self) -> f64 {
        let missing = self.audio_missing + self.video_missing;
        percent(missing, self.audio_frames + self.video_frames + missing)
    }

    /// The same for audio.
    pub fn audio_percent(&self) -> f64 {
        percent(self.audio_missing, self.audio_frames + self.audio_missing)
    }

    /// The same for video.
    pub fn video_percent(&self) -> f64 {
        percent(self.video_missing, self.video_frames + self.video_missing)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The running classes' counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunningSample {
    /// Bots that answered.
    pub answered: usize,
    /// Their counters.
    pub loss: LossCount,
}

/// One second of the surge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SurgeSecond {
    /// Seconds from the first arrival's window start.
    pub t: f64,
    /// People arrived so far.
    pub arrived: usize,
    /// Waiting in the queue (as the bots saw it).
    pub waiting: usize,
    /// Admitted and still there.
    pub admitted: usize,
    /// Gone: left after their stay, or failed.
    pub gone: usize,
    /// Of those, failed.
    pub failed: usize,
    /// The server's `aula_admission_queue_length`.
    pub server_queue: Option<u64>,
    /// The server's `aula_participants_present` (the running classes included).
    pub server_present: Option<u64>,
    /// Server CPU since the previous second, percent of one core.
    pub server_cpu: Option<f64>,
    /// The loadtest's CPU since the previous second, percent of one core.
    pub loadtest_cpu: Option<f64>,
    /// The running classes' counters now.
    pub running: RunningSample,
}

impl SurgeSecond {
    /// Counts `people` at `at`.
    pub fn count(
        at: Duration,
        people: &[Person],
        metrics: Option<&Metrics>,
        running: RunningSample,
        (server_cpu, loadtest_cpu): (Option<f64>, Option<f64>),
    ) -> SurgeSecond {
        let count = |f: &dyn Fn(&Person) -> bool| people.iter().filter(|p| f(p)).count();
        SurgeSecond {
            t: at.as_secs_f64(),
            arrived: count(&|p| p.arrival.plan.start <= at),
            waiting: count(&|p| p.waiting()),
            admitted: count(&|p| p.admitted().is_some() && p.left_at.is_none()),
            gone: count(&|p| p.ended.is_some()),
            failed: count(&|p| p.ended.is_some() && p.failure().is_some()),
            server_queue: metrics.and_then(|m| m.admission_queue_length),
            server_present: metrics.and_then(|m| m.participants_present),
            server_cpu,
            loadtest_cpu,
            running,
        }
    }

    /// The progress line for stderr.
    pub fn progress_line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
        let cpu = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0} %"));
        format!(
            "[{:5.1}s] arrived {} waiting {} admitted {} gone {} failed {} | server: queue {} \
             present {} cpu {} | loadtest cpu {}",
            self.t,
            self.arrived,
            self.waiting,
            self.admitted,
            self.gone,
            self.failed,
            opt(self.server_queue),
            opt(self.server_present),
            cpu(self.server_cpu),
            cpu(self.loadtest_cpu),
        )
    }
}

/// Loss in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LossWindow {
    /// Seconds.
    pub seconds: f64,
    /// The counts in it.
    pub count: LossCount,
    /// All frames, percent missing.
    pub percent: f64,
    /// Audio, percent.
    pub audio_percent: f64,
    /// Video, percent.
    pub video_percent: f64,
    /// Frames received per second, all bots: a server that stops sending (a paused or
    /// lowered video, which is not loss) shows here.
    pub frames_per_s: f64,
}

impl LossWindow {
    fn of(count: LossCount, seconds: f64) -> LossWindow {
        let frames = (count.audio_frames + count.video_frames) as f64;
        LossWindow {
            seconds,
            frames_per_s: frames / seconds.max(1e-3),
            count,
            percent: count.percent(),
            audio_percent: count.audio_percent(),
            video_percent: count.video_percent(),
        }
    }
}

/// The classes already running: their loss before the surge and during it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RunningLoss {
    /// Bots in them.
    pub bots: usize,
    /// Before the surge.
    pub baseline: LossWindow,
    /// From the first arrival to the run's end.
    pub surge: LossWindow,
    /// `surge.percent - baseline.percent`, percentage points.
    pub extra_percent: f64,
}

/// Whether the targets were met, and what missed them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verdict {
    /// Every target met.
    pub ok: bool,
    /// What missed, in words.
    pub failures: Vec<String>,
}

/// The surge's report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SurgeReport {
    /// People arriving, teachers among them.
    pub arrivals: usize,
    /// Teachers (hosts, who stay to the end).
    pub teachers: usize,
    /// Class rooms of the surge.
    pub rooms: usize,
    /// The window all arrivals fall in, seconds.
    pub within_s: f64,
    /// A student's mean stay once admitted, seconds.
    pub stay_mean_s: f64,
    /// The flags the server was started with here (if it was).
    pub server_flags: Vec<String>,
    /// Admitted (`joined`).
    pub admitted: usize,
    /// Of those, the ones who waited in the queue (got `queued`).
    pub queued: usize,
    /// Names of those never admitted (the run's limit came first, or they failed).
    pub not_admitted: Vec<String>,
    /// People whose bot ended with an error or noted one.
    pub failures: usize,
    /// The first few of those, `name: error`.
    pub failure_examples: Vec<String>,
    /// Of the failures, join timeouts.
    pub join_timeouts: usize,
    /// Joins the server answered `server_busy` and the bot made again.
    pub busy_retries: u64,
    /// Page loads' answers by status class, all arrivals.
    pub http: StatusCounts,
    /// Requests of one page load.
    pub page_requests: usize,
    /// One page load, first request to last byte, ms.
    pub page_load_ms: Dist,
    /// Body bytes of one page load (compressed), mean.
    pub page_bytes: u64,
    /// From arrival (page load's start) to `joined`, seconds.
    pub wait_s: Dist,
    /// The same for teachers alone (hosts go first in the queue).
    pub teacher_wait_s: Dist,
    /// Students: from `joined` to the first frame of anyone (their teacher), ms.
    pub first_media_ms: Dist,
    /// Students admitted who never got a frame.
    pub without_media: usize,
    /// The highest position and queue length any `queued` said.
    pub max_position: Option<usize>,
    /// The longest queue any `queued` said.
    pub max_waiting: Option<usize>,
    /// People whose position fell from their first `queued` to their last (of those who got
    /// two or more), and those whose position rose.
    pub positions_fell: usize,
    /// See `positions_fell`.
    pub positions_rose: usize,
    /// The most present on the server at once (`/metrics`), and the longest queue.
    pub peak_present: Option<u64>,
    /// See `peak_present`.
    pub peak_queue: Option<u64>,
    /// The classes already running, if any.
    pub running: Option<RunningLoss>,
    /// Server CPU per second, percent of one core.
    pub server_cpu_percent: Dist,
    /// The loadtest's CPU per second, percent of one core.
    pub loadtest_cpu_percent: Dist,
    /// From the first arrival's window start to the end, seconds.
    pub ran_s: f64,
    /// The run ended at its limit with students still there.
    pub hit_limit: bool,
    /// Every second.
    pub seconds: Vec<SurgeSecond>,
    /// A few people's queue positions over time: name and (seconds, position).
    pub traces: Vec<(String, Vec<(f64, usize)>)>,
    /// The targets.
    pub verdict: Verdict,
}

impl SurgeReport {
    /// The report of a run: `running` holds the running classes' counters at the baseline's
    /// start, the surge's start and its end (empty without running classes).
    pub fn build(
        spec: &Scenario,
        people: &[Person],
        seconds: &[SurgeSecond],
        running: &[RunningSample],
        ran: Duration,
    ) -> SurgeReport {
        let admitted: Vec<&Person> = people.iter().filter(|p| p.admitted().is_some()).collect();
        let failed: Vec<&Person> = people.iter().filter(|p| p.failure().is_some()).collect();
        // Students receive their teacher; a teacher may have nobody publishing to it.
        let students: Vec<&&Person> = admitted.iter().filter(|p| !p.arrival.plan.host).collect();
        let secs = |d: Duration| d.as_secs_f64();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pages: Vec<&PageLoad> = people.iter().filter_map(|p| p.page.as_ref()).collect();
        let mut http = StatusCounts::default();
        pages.iter().for_each(|p| http.add(&p.statuses));
        let notes = people
            .iter()
            .filter_map(|p| p.last.as_ref())
            .flat_map(|s| &s.queue);
        let (fell, rose) = position_trends(people);
        let mut r = SurgeReport {
            arrivals: people.len(),
            teachers: people.iter().filter(|p| p.arrival.plan.host).count(),
            rooms: spec.rooms,
            within_s: spec.within.map_or(0.0, secs),
            stay_mean_s: secs(spec.surge.stay),
            server_flags: spec.server_flags(),
            admitted: admitted.len(),
            queued: admitted.iter().filter(|p| p.waited_in_queue()).count(),
            not_admitted: people
                .iter()
                .filter(|p| p.admitted().is_none())
                .map(|p| p.arrival.plan.name.clone())
                .collect(),
            failures: failed.len(),
            failure_examples: failed
                .iter()
                .take(5)
                .map(|p| {
                    format!(
                        "{}: {}",
                        p.arrival.plan.name,
                        p.failure().unwrap_or_default()
                    )
                })
                .collect(),
            join_timeouts: failed
                .iter()
                .filter(|p| {
                    p.failure()
                        .is_some_and(|f| f.starts_with("no joined within"))
                })
                .count(),
            busy_retries: people
                .iter()
                .filter_map(|p| p.last.as_ref())
                .map(|s| u64::from(s.busy_retries))
                .sum(),
            http,
            page_requests: pages.first().map_or(0, |p| p.statuses.total()),
            page_load_ms: Dist::of(pages.iter().map(|p| ms(p.took)).collect()),
            page_bytes: pages.iter().map(|p| p.bytes).sum::<u64>() / pages.len().max(1) as u64,
            wait_s: Dist::of(admitted.iter().filter_map(|p| p.wait()).map(secs).collect()),
            teacher_wait_s: Dist::of(
                admitted
                    .iter()
                    .filter(|p| p.arrival.plan.host)
                    .filter_map(|p| p.wait())
                    .map(secs)
                    .collect(),
            ),
            first_media_ms: Dist::of(
                students
                    .iter()
                    .filter_map(|p| p.first_media())
                    .map(ms)
                    .collect(),
            ),
            without_media: students
                .iter()
                .filter(|p| p.first_media().is_none())
                .count(),
            max_position: notes.clone().map(|n| n.position).max(),
            max_waiting: notes.map(|n| n.waiting).max(),
            positions_fell: fell,
            positions_rose: rose,
            peak_present: seconds.iter().filter_map(|s| s.server_present).max(),
            peak_queue: seconds.iter().filter_map(|s| s.server_queue).max(),
            running: running_loss(spec, running, ran),
            server_cpu_percent: Dist::of(seconds.iter().filter_map(|s| s.server_cpu).collect()),
            loadtest_cpu_percent: Dist::of(seconds.iter().filter_map(|s| s.loadtest_cpu).collect()),
            ran_s: secs(ran),
            hit_limit: ran >= spec.surge.run_limit,
            seconds: seconds.to_vec(),
            traces: traces(people),
            verdict: Verdict::default(),
        };
        r.verdict = r.judge();
        r
    }

    /// The targets: no failures, no 5xx, everyone admitted, and under
    /// [`MAX_EXTRA_LOSS_PERCENT`] more loss in the running classes.
    fn judge(&self) -> Verdict {
        let mut failures = Vec::new();
        if self.failures > 0 {
            failures.push(format!("{} people failed", self.failures));
        }
        if self.http.server_error > 0 || self.http.no_answer > 0 {
            let (e, n) = (self.http.server_error, self.http.no_answer);
            failures.push(format!(
                "page loads: {e} answers 5xx, {n} without an answer"
            ));
        }
        if !self.not_admitted.is_empty() {
            failures.push(format!("{} never admitted", self.not_admitted.len()));
        }
        if let Some(l) = &self.running
            && l.extra_percent >= MAX_EXTRA_LOSS_PERCENT
        {
            let extra = l.extra_percent;
            failures.push(format!("running classes lost {extra:.2} points more"));
        }
        Verdict {
            ok: failures.is_empty(),
            failures,
        }
    }
}

impl StatusCounts {
    /// Requests made.
    pub fn total(&self) -> usize {
        let s = self;
        (s.ok + s.redirect + s.client_error + s.server_error + s.no_answer) as usize
    }
}

impl Person {
    fn waited_in_queue(&self) -> bool {
        self.last.as_ref().is_some_and(|s| !s.queue.is_empty())
    }
}

/// The running classes' loss: baseline from the first sample to the second, surge from the
/// second to the last.
fn running_loss(spec: &Scenario, s: &[RunningSample], ran: Duration) -> Option<RunningLoss> {
    let [base, start, .., end] = s else {
        return None;
    };
    let baseline = spec.surge.baseline.as_secs_f64();
    let baseline = LossWindow::of(start.loss.since(&base.loss), baseline);
    let surge = LossWindow::of(end.loss.since(&start.loss), ran.as_secs_f64());
    Some(RunningLoss {
        bots: base.answered,
        baseline,
        surge,
        extra_percent: (surge.percent - baseline.percent).max(0.0),
    })
}

/// People whose position fell from first `queued` to last, and whose rose (a teacher let in
/// ahead of them, hosts going first).
fn position_trends(people: &[Person]) -> (usize, usize) {
    let mut fell = 0;
    let mut rose = 0;
    for p in people {
        let q = p.last.as_ref().map_or(&[][..], |s| &s.queue[..]);
        if let (Some(first), Some(last)) = (q.first(), q.last())
            && q.len() >= 2
        {
            fell += usize::from(last.position < first.position);
            rose += usize::from(last.position > first.position);
        }
    }
    (fell, rose)
}

/// The positions of [`TRACES`] people: those of longest wait at the quarter marks of the
/// queued (so the plot shows short, middle and long waits).
fn traces(people: &[Person]) -> Vec<(String, Vec<(f64, usize)>)> {
    let mut queued: Vec<&Person> = people.iter().filter(|p| p.waited_in_queue()).collect();
    queued.sort_by_key(|p| p.wait().unwrap_or(Duration::MAX));
    let n = queued.len();
    if n == 0 {
        return Vec::new();
    }
    let mut picks: Vec<usize> = (1..=TRACES).map(|k| (k * n / TRACES).max(1) - 1).collect();
    picks.dedup();
    picks
        .into_iter()
        .map(|i| (queued[i].arrival.plan.name.clone(), queued[i].positions()))
        .collect()
}

/// The report as a table.
pub fn render(r: &SurgeReport) -> String {
    let mut out = String::new();
    let d = |d: &Dist, unit: &str| match (d.p50, d.p95, d.p99) {
        (Some(a), Some(b), Some(c)) => format!("{a:.1} / {b:.1} / {c:.1} {unit} (n={})", d.count),
        _ => "-".into(),
    };
    let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<40} {v}");
    };
    line(
        "surge",
        format!(
            "{} people ({} teachers) into {} classes within {:.0} s, stay ~{:.0} s",
            r.arrivals, r.teachers, r.rooms, r.within_s, r.stay_mean_s
        ),
    );
    line("server flags", r.server_flags.join(" "));
    line(
        "admitted",
        format!(
            "{} of {} ({} waited in the queue)",
            r.admitted, r.arrivals, r.queued
        ),
    );
    line("not admitted", r.not_admitted.len().to_string());
    line(
        "failures",
        format!("{} ({} join timeouts)", r.failures, r.join_timeouts),
    );
    for f in &r.failure_examples {
        line("  e.g.", f.clone());
    }
    line("server_busy retries", r.busy_retries.to_string());
    let h = &r.http;
    line(
        "page loads: requests 2xx/3xx/4xx/5xx/none",
        format!(
            "{} {}/{}/{}/{}/{} ({} per page)",
            h.total(),
            h.ok,
            h.redirect,
            h.client_error,
            h.server_error,
            h.no_answer,
            r.page_requests
        ),
    );
    line("page load p50/p95/p99", d(&r.page_load_ms, "ms"));
    line("page bytes (compressed, mean)", r.page_bytes.to_string());
    line("arrival -> admitted p50/p95/p99", d(&r.wait_s, "s"));
    line("  teachers", d(&r.teacher_wait_s, "s"));
    line(
        "admitted -> first media p50/p95/p99",
        d(&r.first_media_ms, "ms"),
    );
    line("admitted without media", r.without_media.to_string());
    line(
        "queue: highest position / longest",
        format!(
            "{} / {}",
            opt(r.max_position.map(|v| v as u64)),
            opt(r.max_waiting.map(|v| v as u64))
        ),
    );
    line(
        "positions fell / rose (first to last)",
        format!("{} / {}", r.positions_fell, r.positions_rose),
    );
    line(
        "server: peak present / peak queue",
        format!("{} / {}", opt(r.peak_present), opt(r.peak_queue)),
    );
    if let Some(l) = &r.running {
        let w = |w: &LossWindow| {
            format!(
                "{:.3} % (audio {:.3} %, video {:.3} %; {:.0} frames/s)",
                w.percent, w.audio_percent, w.video_percent, w.frames_per_s
            )
        };
        line(
            &format!("running classes ({} bots): baseline loss", l.bots),
            w(&l.baseline),
        );
        line("  during the surge", w(&l.surge));
        line("  extra", format!("{:.3} points", l.extra_percent));
    }
    line(
        "server cpu p50/p95/p99 (% of a core)",
        d(&r.server_cpu_percent, "%"),
    );
    line(
        "loadtest cpu p50/p95/p99 (% of a core)",
        d(&r.loadtest_cpu_percent, "%"),
    );
    line(
        "ran",
        format!(
            "{:.0} s{}",
            r.ran_s,
            if r.hit_limit { " (hit the limit)" } else { "" }
        ),
    );
    let verdict = match r.verdict.ok {
        true => "ok".to_owned(),
        false => r.verdict.failures.join("; "),
    };
    line("VERDICT:", verdict);
    out
}

/// The figure: arrivals, the queue and those admitted over time, and a few people's
/// positions.
pub fn svg(r: &SurgeReport, title: &str) -> String {
    let pts = |f: &dyn Fn(&SurgeSecond) -> Option<f64>| -> Vec<(f64, f64)> {
        r.seconds
            .iter()
            .filter_map(|s| Some((s.t, f(s)?)))
            .collect()
    };
    let mut series = vec![
        Series::line("arrived", "#7f7f7f", pts(&|s| Some(s.arrived as f64))),
        Series::line(
            "queue (server)",
            "#d62728",
            pts(&|s| s.server_queue.map(|v| v as f64)),
        ),
        Series::line(
            "present (server)",
            "#1f77b4",
            pts(&|s| s.server_present.map(|v| v as f64)),
        ),
    ];
    const COLORS: [&str; TRACES] = ["#2ca02c", "#9467bd", "#8c564b", "#e377c2"];
    for ((name, points), color) in r.traces.iter().zip(COLORS) {
        let points = points.iter().map(|(t, p)| (*t, *p as f64)).collect();
        let mut s = Series::steps(&format!("position of {name}"), color, points);
        s.dashed = true;
        series.push(s);
    }
    Plot {
        title: title.into(),
        x_label: "seconds from the first arrival".into(),
        y_label: "people".into(),
        series,
    }
    .to_svg()
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
