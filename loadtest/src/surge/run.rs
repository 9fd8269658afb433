//! A surge in progress: the running classes started and measured before it, then the
//! arrivals on their schedule (page load, then the bot), a sample every second, students sent
//! away when their stay is over, and at the end everyone still there made to leave.
//!
//! One task owns the whole run; page loads and leavings run as tasks of their own and come
//! back through a `JoinSet` each, so a slow page or a slow goodbye never holds up the clock.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::page::{self, PageLoad};
use super::report::{Ended, LossCount, Person, RunningSample, SurgeReport, SurgeSecond};
use super::{Arrival, WARMUP};
use crate::media::AudioConfig;
use crate::scenario::{LEAVE_TIMEOUT, SAMPLE_WAIT, STAGGER, Scenario, TICK};
use crate::server::{self, ServerUnderTest};
use crate::target::RoomTicket;
use crate::{BotConfig, BotHandle, BotReport, BotStats, procstat};

/// A surge in progress. Times in `people` count from the first arrival's window start
/// (`t0`).
pub(super) struct SurgeRun<'a> {
    spec: &'a Scenario,
    server: &'a ServerUnderTest,
    rooms: Vec<RoomTicket>,
    /// The page's paths, empty without page loads.
    paths: Vec<String>,
    people: Vec<Person>,
    /// Each person's bot while it runs.
    bots: Vec<Option<BotHandle>>,
    seconds: Vec<SurgeSecond>,
    /// Loss counters of the running classes: at the baseline's start, at the surge's start
    /// and at its end.
    running: Vec<RunningSample>,
    /// The previous sample's process CPU times (server, loadtest), for the next one's share.
    cpu_prev: Option<CpuTimes>,
}

type CpuTimes = (
    Instant,
    Option<procstat::ProcSample>,
    Option<procstat::ProcSample>,
);

impl<'a> SurgeRun<'a> {
    pub(super) fn new(
        spec: &'a Scenario,
        server: &'a ServerUnderTest,
        arrivals: Vec<Arrival>,
        rooms: Vec<RoomTicket>,
        paths: Vec<String>,
    ) -> Self {
        let n = arrivals.len();
        SurgeRun {
            spec,
            server,
            rooms,
            paths,
            people: arrivals.into_iter().map(Person::new).collect(),
            bots: (0..n).map(|_| None).collect(),
            seconds: Vec::new(),
            running: Vec::new(),
            cpu_prev: None,
        }
    }

    /// The whole run: running classes, baseline, surge, leaving; then the report.
    pub(super) async fn drive(mut self, running_rooms: Vec<RoomTicket>) -> SurgeReport {
        let running = self.start_running(&running_rooms).await;
        let t0 = Instant::now();
        self.surge(t0, &running).await;
        let ran = t0.elapsed();
        self.running.push(running_sample(&running).await);
        self.leave_all(running).await;
        SurgeReport::build(self.spec, &self.people, &self.seconds, &self.running, ran)
    }

    /// Starts the running classes, lets them connect, and notes their loss counters at the
    /// baseline's start and end (the surge's start).
    async fn start_running(&mut self, rooms: &[RoomTicket]) -> Vec<BotHandle> {
        let s = &self.spec.surge;
        let mut bots = Vec::new();
        for (r, room) in rooms.iter().enumerate() {
            for seat in 0..=s.running_students {
                let host = seat == 0;
                let name = match seat {
                    0 => format!("running{r}-teacher"),
                    n => format!("running{r}-student-{n}"),
                };
                let mut config = self.bot_config(room, host, &name);
                config.seed = self.spec.seed ^ (0xc1a55 + bots.len() as u64);
                if !host {
                    (config.audio, config.video) = (None, None);
                }
                config.view = self.spec.view(host);
                bots.push(crate::spawn(config));
                tokio::time::sleep(STAGGER).await;
            }
        }
        if bots.is_empty() {
            return bots;
        }
        self.progress(&format!("{} bots in running classes; warm-up", bots.len()));
        tokio::time::sleep(WARMUP).await;
        self.running.push(running_sample(&bots).await);
        tokio::time::sleep(s.baseline).await;
        self.running.push(running_sample(&bots).await);
        bots
    }

    fn bot_config(&self, room: &RoomTicket, host: bool, name: &str) -> BotConfig {
        let secret = match host {
            true => &room.host_secret,
            false => &room.participant_secret,
        };
        let ws_url = self.server.target.ws_url(&self.server.url);
        let mut config = BotConfig::new(&ws_url, &room.id, secret, name);
        config.target = self.server.target;
        config.local_ip = self.spec.local_ip;
        config.join_timeout = self.spec.join_timeout;
        config.audio = self.spec.host.audio.then(AudioConfig::default);
        config.video = self.spec.host.video;
        config
    }

    /// The surge: arrivals, page loads, bots, stays, samples; until every student has left
    /// or failed, or the run's limit.
    async fn surge(&mut self, t0: Instant, running: &[BotHandle]) {
        let limit = t0 + self.spec.surge.run_limit;
        let mut pages: JoinSet<(usize, PageLoad)> = JoinSet::new();
        let mut leaving: JoinSet<(usize, Option<BotReport>)> = JoinSet::new();
        let mut next_arrival = 0;
        let mut next_tick = t0;
        loop {
            let now = Instant::now();
            while let Some(p) = self.people.get(next_arrival) {
                if t0 + p.arrival.plan.start > now {
                    break;
                }
                self.arrive(next_arrival, &mut pages);
                next_arrival += 1;
            }
            if now >= next_tick {
                self.sample(t0, running).await;
                self.send_away(t0, &mut leaving);
                next_tick += TICK;
            }
            let students_done = self
                .people
                .iter()
                .all(|p| p.arrival.stay.is_none() || p.ended.is_some());
            if students_done || now >= limit {
                break;
            }
            let wake = self
                .people
                .get(next_arrival)
                .map_or(next_tick, |p| (t0 + p.arrival.plan.start).min(next_tick));
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                Some(Ok((i, load))) = pages.join_next() => {
                    self.people[i].page = Some(load);
                    self.start_bot(i, t0);
                }
                Some(Ok((i, report))) = leaving.join_next() => self.handle_ended(i, report),
            }
        }
        // Page loads still going at the limit: those people never got a bot.
        pages.abort_all();
        while let Some(Ok((i, report))) = leaving.join_next().await {
            self.handle_ended(i, report);
        }
        self.sample(t0, running).await;
    }

    /// Person `i` arrives: a page load, then the bot (at once without page loads).
    fn arrive(&mut self, i: usize, pages: &mut JoinSet<(usize, PageLoad)>) {
        if self.paths.is_empty() {
            let t0 = Instant::now() - self.people[i].arrival.plan.start;
            return self.start_bot(i, t0);
        }
        let (url, paths) = (self.server.url.clone(), self.paths.clone());
        pages.spawn(async move { (i, page::load(&url, &paths).await) });
    }

    fn start_bot(&mut self, i: usize, t0: Instant) {
        let a = &self.people[i].arrival;
        let room = &self.rooms[a.plan.room];
        let mut config = self.bot_config(room, a.plan.host, &a.plan.name);
        config.audio = a.plan.media.audio.then(AudioConfig::default);
        config.video = a.plan.media.video;
        config.view = a.plan.view;
        config.seed = self.spec.seed.wrapping_mul(100_003).wrapping_add(i as u64);
        config.forwarded_for = Some(a.address);
        self.people[i].started = Some(t0.elapsed());
        self.bots[i] = Some(crate::spawn(config));
    }

    /// Students whose stay is over, and bots that ended by themselves, are sent to leave.
    fn send_away(&mut self, t0: Instant, leaving: &mut JoinSet<(usize, Option<BotReport>)>) {
        let now = t0.elapsed();
        for i in 0..self.people.len() {
            let p = &self.people[i];
            let over = p
                .admitted()
                .zip(p.arrival.stay)
                .is_some_and(|(a, s)| now >= a + s);
            let ended = self.bots[i].as_ref().is_some_and(BotHandle::is_finished);
            if !(over || ended) {
                continue;
            }
            if let Some(bot) = self.bots[i].take() {
                self.people[i].left_at = Some(now);
                leaving.spawn(async move {
                    let report = tokio::time::timeout(LEAVE_TIMEOUT, bot.leave()).await;
                    (i, report.ok())
                });
            }
        }
    }

    fn handle_ended(&mut self, i: usize, report: Option<BotReport>) {
        let p = &mut self.people[i];
        p.ended = Some(match report {
            Some(r) => {
                if r.stats.epoch.is_some() {
                    p.last = Some(r.stats);
                }
                Ended {
                    error: r.error.map(|e| e.chain()),
                }
            }
            None => Ended {
                error: Some("did not leave within the leave timeout".into()),
            },
        });
    }

    /// One sample: every live bot's stats, the server's metrics and CPU, the running
    /// classes' loss counters; a progress line.
    async fn sample(&mut self, t0: Instant, running: &[BotHandle]) {
        let live: Vec<(usize, &BotHandle)> = self
            .bots
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((i, b.as_ref()?)))
            .collect();
        let snaps = futures_util::future::join_all(
            live.iter()
                .map(|(_, b)| tokio::time::timeout(SAMPLE_WAIT, b.stats())),
        );
        let metrics = server::metrics(&self.server.url, SAMPLE_WAIT);
        let loss = running_sample(running);
        let (snaps, metrics, loss) = tokio::join!(snaps, metrics, loss);
        let indices: Vec<usize> = live.iter().map(|(i, _)| *i).collect();
        for (i, snap) in indices.into_iter().zip(snaps) {
            if let Ok(Some(s)) = snap {
                self.people[i].last = Some(s);
            }
        }
        let server_cpu = self
            .server
            .pid
            .and_then(|p| procstat::Proc::Pid(p).sample());
        let cpu = self.cpu_since_last(server_cpu, procstat::Proc::Myself.sample());
        let at = t0.elapsed();
        let second = SurgeSecond::count(at, &self.people, metrics.as_ref(), loss, cpu);
        self.progress(&second.progress_line());
        self.seconds.push(second);
    }

    /// CPU of server and loadtest since the previous sample, percent of one core.
    fn cpu_since_last(
        &mut self,
        server: Option<procstat::ProcSample>,
        loadtest: Option<procstat::ProcSample>,
    ) -> (Option<f64>, Option<f64>) {
        let now = Instant::now();
        let prev = self.cpu_prev.replace((now, server, loadtest));
        let Some((at, s0, l0)) = prev else {
            return (None, None);
        };
        let wall = now - at;
        let pct = |a: Option<procstat::ProcSample>, b: Option<procstat::ProcSample>| {
            Some(procstat::cpu_percent(&a?, &b?, wall))
        };
        (pct(s0, server), pct(l0, loadtest))
    }

    fn progress(&self, line: &str) {
        if self.spec.progress {
            eprintln!("{line}");
        }
    }

    /// Makes everyone still there leave (teachers, the running classes, and whoever the
    /// limit caught), and keeps their last stats.
    async fn leave_all(&mut self, running: Vec<BotHandle>) {
        let now = self.seconds.last().map_or(0.0, |s| s.t);
        let mut leaving = JoinSet::new();
        for (i, bot) in self.bots.iter_mut().enumerate() {
            if let Some(bot) = bot.take() {
                self.people[i].left_at = Some(Duration::from_secs_f64(now));
                leaving.spawn(async move {
                    let report = tokio::time::timeout(LEAVE_TIMEOUT, bot.leave()).await;
                    (i, report.ok())
                });
            }
        }
        let goodbyes = running
            .into_iter()
            .map(|b| tokio::time::timeout(LEAVE_TIMEOUT, b.leave()));
        let ((), _) = tokio::join!(
            async {
                while let Some(Ok((i, report))) = leaving.join_next().await {
                    self.handle_ended(i, report);
                }
            },
            futures_util::future::join_all(goodbyes)
        );
    }
}

/// The running classes' loss counters now (bots that do not answer in time count nothing).
async fn running_sample(bots: &[BotHandle]) -> RunningSample {
    let snaps = futures_util::future::join_all(
        bots.iter()
            .map(|b| tokio::time::timeout(SAMPLE_WAIT, b.stats())),
    )
    .await;
    let stats: Vec<BotStats> = snaps.into_iter().filter_map(|s| s.ok().flatten()).collect();
    RunningSample {
        answered: stats.len(),
        loss: LossCount::of(&stats),
    }
}
