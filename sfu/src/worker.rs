//! The sans-IO core of one media worker: the rooms it owns, and the routing of datagrams to
//! their connections. The shell feeds it commands, datagrams and timeouts and drains
//! [`Worker::poll_output`]; it never touches a socket or a clock itself.
//!
//! Poll order for a shell: after any `handle_*` call (or a batch of `handle_datagram` calls),
//! drain `poll_output` until `None`, then sleep until `poll_timeout` (or the next input).
//! Packets forwarded while handling datagrams go out when `poll_output` runs dry, so a batch of
//! datagrams costs each connection one poll.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use str0m::Input;
use str0m::config::DtlsCert;
use str0m::net::{DatagramRecv, Protocol, Receive};

use crate::api::{Command, RoomId, SfuEvent};
pub use crate::ctx::{ConnKey, CoreConfig, CoreStats, Output};
use crate::ctx::{Ctx, Routes};
use crate::room::Room;

/// The DTLS certificate every connection of one worker presents. Generating one per connection
/// costs milliseconds of CPU each (measured in `cargo bench -p aula-sfu`), which a join surge
/// cannot afford; browsers check the fingerprint that signaling carries, not the certificate's
/// identity, so sharing it is what SFUs do (Janus: one per process; mediasoup: one per worker).
fn generate_dtls_cert() -> DtlsCert {
    str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .expect("the aws-lc-rs provider generates certificates")
}

pub struct Worker {
    rooms: HashMap<RoomId, Room>,
    ctx: Ctx,
}

impl Worker {
    /// `seed` makes ICE credentials (and so a whole run) reproducible in tests; the shell
    /// seeds it from the operating system.
    pub fn new(config: CoreConfig, seed: u64) -> Worker {
        Worker {
            rooms: HashMap::new(),
            ctx: Ctx {
                config,
                dtls_cert: generate_dtls_cert(),
                rng: StdRng::seed_from_u64(seed),
                out: VecDeque::new(),
                stats: CoreStats::default(),
                routes: Routes::default(),
                room_demands: Default::default(),
            },
        }
    }

    // ---- getters ----

    pub fn stats(&self) -> CoreStats {
        CoreStats {
            rooms: self.rooms.len() as u64,
            ..self.ctx.stats
        }
    }

    /// (ufrags, addresses) currently routed: both drop to zero when every room has closed.
    pub fn route_counts(&self) -> (usize, usize) {
        self.ctx.routes.len()
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    // ---- inputs ----

    pub fn handle_command(&mut self, now: Instant, room: &RoomId, cmd: Command) {
        let closing = matches!(cmd, Command::Close);
        let room_state =
            (self.rooms.entry(room.clone())).or_insert_with(|| Room::new(room.clone(), now));
        if !guard(|| room_state.handle_command(now, cmd, &mut self.ctx)) {
            self.fail_room(room);
            return;
        }
        if closing || room_state.is_empty() {
            // A room with nobody in it holds nothing worth keeping; signaling decides
            // when the room itself ends, the media side just frees its state.
            if let Some(mut r) = self.rooms.remove(room) {
                // A panic in closing leaves nobody to restart (they are leaving), but counts.
                if !guard(|| r.close(&mut self.ctx)) || !guard(move || drop(r)) {
                    self.ctx.stats.rooms_failed += 1;
                    self.ctx.routes.remove_room(room, &mut self.ctx.out);
                }
                self.room_gone(room);
            }
        }
    }

    /// A datagram that arrived at `destination` (the local address as advertised in SDP).
    pub fn handle_datagram(
        &mut self,
        received: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        let Some(key) = self.ctx.routes.lookup(source, datagram).cloned() else {
            self.ctx.stats.datagrams_unroutable += 1;
            return;
        };
        let Ok(contents) = DatagramRecv::try_from(datagram) else {
            self.ctx.stats.datagrams_rejected += 1;
            return;
        };
        let Some(room) = self.rooms.get_mut(&key.room) else {
            self.ctx.stats.datagrams_unroutable += 1;
            return;
        };
        let input = Input::Receive(
            received,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        if !guard(|| room.handle_receive(&key, input, &mut self.ctx)) {
            self.fail_room(&key.room);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut failed = Vec::new();
        for (id, room) in &mut self.rooms {
            if !guard(|| room.handle_timeout(now, &mut self.ctx)) {
                failed.push(id.clone());
            }
        }
        for id in failed {
            self.fail_room(&id);
        }
    }

    // ---- outputs ----

    /// The next output; when there is none left, first sends what the rooms wrote while
    /// handling the datagrams since the last flush (one poll per connection per batch).
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.ctx.out.is_empty() {
            let mut failed = Vec::new();
            for (id, room) in self.rooms.iter_mut().filter(|(_, r)| r.needs_flush()) {
                if !guard(|| room.flush(&mut self.ctx)) {
                    failed.push(id.clone());
                }
            }
            for id in failed {
                self.fail_room(&id);
            }
        }
        self.ctx.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rooms.values().filter_map(Room::poll_timeout).min()
    }

    // ---- a room's fault ----

    /// A panic in one room's code (a bug: every input from outside is checked before it gets
    /// there) ends that room's media state, not the worker with every other room on it. The
    /// state may be half-changed, so none of it is kept: its routes go, and each participant is
    /// told (`SfuEvent::MediaLost`); signaling then joins them to a new media room and their
    /// pages connect again (docs/architecture.md, "A fault in one room").
    fn fail_room(&mut self, id: &RoomId) {
        let Some(room) = self.rooms.remove(id) else {
            return;
        };
        self.ctx.stats.rooms_failed += 1;
        tracing::error!(room = %id, "a fault in this room's media: it starts again");
        let participants = room.participant_ids();
        self.ctx.routes.remove_room(id, &mut self.ctx.out);
        // Its destructors run on half-changed state too.
        guard(move || drop(room));
        self.room_gone(id);
        for participant in participants {
            self.ctx.out.push_back(Output::Event {
                room: id.clone(),
                participant,
                event: SfuEvent::MediaLost,
            });
        }
    }

    /// What the worker keeps of a room once the room is gone: its demand on the egress budget
    /// and its report.
    fn room_gone(&mut self, id: &RoomId) {
        self.ctx.room_demands.remove(id);
        // Its demand leaves the worker's at once: a worker whose last room closed would
        // otherwise hold its share of the server's budget until a room of its own decided
        // again, and the others' rooms would be held back for nothing.
        if let Some((budget, index)) = &self.ctx.config.egress {
            budget.set_demand(*index, self.ctx.room_demands.values().sum());
        }
        self.ctx.out.push_back(Output::Report {
            room: id.clone(),
            report: None,
        });
    }
}

/// Runs `f`, and says whether it returned rather than panicked. The panic's message and place
/// go to stderr through the default hook, as any panic's do.
fn guard(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::ParticipantId;
    use crate::budget::EgressBudget;

    fn config(egress: Option<(Arc<EgressBudget>, usize)>) -> CoreConfig {
        CoreConfig {
            candidates: vec!["127.0.0.1:4000".parse().expect("an address")],
            max_tracks_per_participant: 3,
            egress,
            room_egress_limit: None,
            adaptation: true,
        }
    }

    /// Participant `id` joins `room` and offers to publish a microphone: its publish
    /// connection is routed by its ufrag.
    fn join(worker: &mut Worker, room: &RoomId, id: u32) {
        let participant = ParticipantId(id);
        worker.handle_command(Instant::now(), room, Command::Join { participant });
        let mut client = str0m::Rtc::new(Instant::now());
        let mut change = client.sdp_api();
        let dir = str0m::media::Direction::SendOnly;
        change.add_media(str0m::media::MediaKind::Audio, dir, None, None, None);
        let (offer, _) = change.apply().expect("an offer");
        let publish = Command::Publish {
            participant,
            offer: offer.to_sdp_string(),
            tracks: Vec::new(),
        };
        worker.handle_command(Instant::now(), room, publish);
    }

    fn drain(worker: &mut Worker) -> Vec<Output> {
        std::iter::from_fn(|| worker.poll_output()).collect()
    }

    #[test]
    fn a_panic_in_one_room_ends_its_media_state_and_no_other_rooms() {
        let mut worker = Worker::new(config(None), 1);
        let (class, meeting) = (RoomId::from("class"), RoomId::from("meeting"));
        join(&mut worker, &meeting, 3);
        let (meetings, _) = worker.route_counts();
        join(&mut worker, &class, 1);
        join(&mut worker, &class, 2);
        drain(&mut worker);
        let (ufrags, _) = worker.route_counts();
        assert!(ufrags >= meetings + 2, "a publish connection each");

        worker.handle_command(Instant::now(), &class, Command::Fault);
        assert_eq!(worker.room_count(), 1, "only the meeting is left");
        assert_eq!(worker.stats().rooms_failed, 1);
        assert_eq!(
            worker.route_counts().0,
            meetings,
            "the class's routes are gone"
        );
        let out = drain(&mut worker);
        let unrouted = out
            .iter()
            .filter(|o| matches!(o, Output::UnrouteUfrag(_)))
            .count();
        assert_eq!(
            unrouted,
            ufrags - meetings,
            "the shell forgets the class's ufrags"
        );
        let lost: Vec<_> = (out.iter())
            .filter_map(|o| match o {
                Output::Event {
                    room,
                    participant,
                    event: SfuEvent::MediaLost,
                } => Some((room.clone(), participant.0)),
                _ => None,
            })
            .collect();
        assert_eq!(
            lost,
            vec![(class.clone(), 1), (class.clone(), 2)],
            "each of the class is told"
        );
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Report { room, report: None } if *room == class)),
            "its report goes"
        );

        // The worker goes on: the meeting takes another participant, the class starts again.
        join(&mut worker, &meeting, 4);
        join(&mut worker, &class, 1);
        assert_eq!(worker.room_count(), 2);
        assert!(worker.route_counts().0 > meetings + 1);
        worker.handle_timeout(Instant::now());
        drain(&mut worker);
    }

    #[test]
    fn a_worker_whose_last_room_closes_leaves_the_budget_to_the_others() {
        let budget = Arc::new(EgressBudget::new(Some(100_000_000), 2));
        let mut worker = Worker::new(config(Some((budget.clone(), 0))), 1);
        let (lecture, now) = (RoomId::from("lecture"), Instant::now());
        worker.handle_command(
            now,
            &lecture,
            Command::Join {
                participant: ParticipantId(1),
            },
        );
        // Its lecture asked for 80 Mbit/s at its last decision.
        worker.ctx.room_demands.insert(lecture.clone(), 80_000_000);
        budget.set_demand(0, 80_000_000);
        assert_eq!(budget.share_of(1, 90_000_000), Some(50_000_000));

        worker.handle_command(now, &lecture, Command::Close);
        assert_eq!(worker.room_count(), 0);
        assert_eq!(
            budget.share_of(1, 90_000_000),
            Some(90_000_000),
            "all it asks"
        );
    }
}
