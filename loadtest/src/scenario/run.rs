//! A run in progress: bots started on the plan's schedule (behind a relay where the plan says),
//! churn conducted, a sample every second, every bot made to leave, and the report built.

use std::time::{Duration, Instant};

use super::{BotPlan, Kind, LEAVE_TIMEOUT, SAMPLE_WAIT, Scenario, TICK};
use crate::churn::{self, ChurnReport, Conductor};
use crate::impair::{ImpairReport, LinkRole, Relayed};
use crate::link::{LinkConfig, Profile};
use crate::media::AudioConfig;
use crate::relay::Relay;
use crate::report::{self, Outcome, Report, RoomSample, Sample, Sections};
use crate::server::{self, ServerUnderTest};
use crate::target::RoomTicket;
use crate::{BotConfig, BotHandle, BotStats, procstat};

/// A run in progress.
pub(super) struct Run<'a> {
    spec: &'a Scenario,
    server: &'a ServerUnderTest,
    plan: &'a [BotPlan],
    rooms: Vec<RoomTicket>,
    start: Instant,
    /// Bots started so far, in plan order.
    bots: Vec<BotHandle>,
    samples: Vec<Sample>,
    /// Each bot's last answered snapshot, so a bot too busy to answer within a tick still
    /// counts with what it said before; the last ones are what the report measures, as they
    /// were at the end of the run, not after the leaving (when every page's layout empties
    /// and media trickles on while 200 bots say goodbye).
    seen: Vec<Option<BotStats>>,
    /// `seen` when the steady window began ([`report::steady_from`]), and when that was.
    steady: Option<(Duration, Vec<Option<BotStats>>)>,
    /// Sends bots away and back (churn).
    conductor: Option<Conductor>,
    /// The relays of the bots behind one (impair): the bot's index, its role, when the relay
    /// started (from the run's start), the relay.
    relays: Vec<(usize, LinkRole, Duration, Relay)>,
}

impl<'a> Run<'a> {
    pub(super) fn new(
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
            steady: None,
            conductor,
            relays: Vec::new(),
        }
    }

    /// Starts bots on schedule and samples every tick until the run's end.
    pub(super) async fn drive(&mut self) {
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
        config.view = b.view;
        config.local_ip = self.spec.local_ip;
        config.join_timeout = self.spec.join_timeout;
        config.seed = self.spec.seed.wrapping_mul(100_003).wrapping_add(i as u64);
        if let Some(role) = b.link {
            let link = match role {
                LinkRole::Shaped => self.spec.impair.link(self.spec.duration),
                LinkRole::Twin => LinkConfig {
                    profile: Profile::unlimited(),
                    ..self.spec.impair.link(self.spec.duration)
                },
            };
            let relay = Relay::start(self.spec.local_ip, link);
            self.relays
                .push((i, role, self.start.elapsed(), relay.clone()));
            config.relay = Some(relay);
        }
        self.bots.push(crate::spawn(config));
    }

    /// One sample of server, loadtest and bots; a progress line if asked.
    async fn sample(&mut self) {
        let asked = Instant::now();
        let at = asked.duration_since(self.start);
        // CPU and memory now, at `at`, not after the bots' answers (up to SAMPLE_WAIT later):
        // the rates between samples divide by the time between their `at`s. /metrics goes
        // out at once too, so its counters are read within milliseconds of this.
        let server = self
            .server
            .pid
            .and_then(|p| procstat::Proc::Pid(p).sample());
        let loadtest = procstat::Proc::Myself.sample();
        let machine = procstat::MachineSample::now();
        let snapshots = futures_util::future::join_all(
            self.bots
                .iter()
                .map(|b| tokio::time::timeout(SAMPLE_WAIT, b.stats())),
        );
        let metrics = server::metrics(&self.server.url, SAMPLE_WAIT);
        let allocation = self.allocation();
        let (snapshots, metrics, allocation) = tokio::join!(snapshots, metrics, allocation);
        let mut sample = Sample {
            at,
            server,
            loadtest,
            machine,
            metrics,
            started: self.bots.len(),
            rooms: allocation
                .into_iter()
                .map(|bandwidth| RoomSample {
                    bandwidth,
                    ..RoomSample::default()
                })
                .collect(),
            ..Sample::default()
        };
        sample.rooms.resize(self.rooms.len(), RoomSample::default());
        self.seen.resize(self.bots.len(), None);
        let bots = self.bots.iter().zip(snapshots).zip(&mut self.seen);
        for (i, ((bot, snap), seen)) in bots.enumerate() {
            if let Ok(Some(s)) = snap {
                if let Some(conductor) = &mut self.conductor {
                    conductor.handle_snapshot(i, &s, asked);
                }
                *seen = Some(s);
            } else if bot.is_finished() {
                sample.ended += 1;
            }
            if let Some(s) = seen {
                sample.joined += usize::from(s.id.is_some());
                sample.datagrams_received += s.datagrams_received;
                sample.rtp_received += s.rtp_received;
                let room = &mut sample.rooms[self.plan[i].room];
                room.bytes_received += s.datagram_bytes_received;
                room.datagrams_received += s.datagrams_received;
            }
        }
        if self.steady.is_none() && at >= report::steady_from(self.spec) {
            self.steady = Some((at, self.seen.clone()));
        }
        if self.spec.progress {
            eprintln!(
                "{}",
                sample.progress_line(self.plan.len(), self.samples.last())
            );
        }
        self.samples.push(sample);
    }

    /// Each room's allocation, if the scenario reads it (in room order).
    async fn allocation(&self) -> Vec<Option<server::RoomBandwidth>> {
        if !self.spec.reads_allocation() {
            return Vec::new();
        }
        let reads = self.rooms.iter().map(|room| {
            server::room_bandwidth(&self.server.url, &room.id, &room.host_secret, SAMPLE_WAIT)
        });
        futures_util::future::join_all(reads).await
    }

    /// Makes every bot leave and builds the report: of each bot, its stats as the run's last
    /// sample saw them (what it said when leaving, if it did not answer then) and how it
    /// ended.
    pub(super) async fn finish(self) -> Report {
        // The relays' logs as of the run's end, before the leaving empties the links.
        let mut relayed = Vec::new();
        for (bot, role, started, relay) in &self.relays {
            if let Some(log) = relay.log().await {
                relayed.push(Relayed {
                    bot: *bot,
                    role: *role,
                    started: *started,
                    log,
                });
            }
        }
        let leaving = self
            .bots
            .into_iter()
            .map(|bot| tokio::time::timeout(LEAVE_TIMEOUT, bot.leave()));
        let reports = futures_util::future::join_all(leaving).await;
        let mut seen = self.seen;
        seen.resize(reports.len(), None);
        let (steady_at, mut steady) = self.steady.unwrap_or_default();
        steady.resize(reports.len(), None);
        let outcomes = self
            .plan
            .iter()
            .zip(reports)
            .zip(seen.into_iter().zip(steady))
            .map(|((plan, report), (at_end, at_steady))| Outcome {
                plan: plan.clone(),
                report: report.ok().map(|mut r| {
                    r.stats = at_end.unwrap_or(r.stats);
                    r
                }),
                steady: at_steady.map(|s| (steady_at, s)),
            })
            .collect::<Vec<_>>();
        let ramp = self.plan.last().map_or(Duration::ZERO, |b| b.start);
        let churn = self.conductor.map(|c| {
            let (spec, conducted) = (&self.spec.churn, c.conducted());
            ChurnReport::build(spec, conducted, &outcomes, &self.samples, self.start, ramp)
        });
        let impair = (self.spec.kind == Kind::Impair)
            .then(|| ImpairReport::build(self.spec, &outcomes, &self.samples, &relayed));
        let budget = (self.spec.kind == Kind::Budget)
            .then(|| crate::budget::BudgetReport::build(self.spec, &outcomes, &self.samples));
        let sections = Sections {
            churn,
            impair,
            budget,
        };
        Report::build(self.spec, self.server, &outcomes, &self.samples, sections)
    }
}
