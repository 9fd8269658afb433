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

use crate::api::{Command, RoomId};
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
        let entry = self.rooms.entry(room.clone());
        let room_state = entry.or_insert_with(|| Room::new(room.clone(), now));
        room_state.handle_command(now, cmd, &mut self.ctx);
        if closing || room_state.is_empty() {
            // A room with nobody in it holds nothing worth keeping; signaling decides
            // when the room itself ends, the media side just frees its state.
            if let Some(mut r) = self.rooms.remove(room) {
                r.close(&mut self.ctx);
                self.ctx.room_demands.remove(room);
                // Its demand leaves the worker's at once: a worker whose last room closed
                // would otherwise hold its share of the server's budget until a room of its
                // own decided again, and the others' rooms would be held back for nothing.
                if let Some((budget, index)) = &self.ctx.config.egress {
                    budget.set_demand(*index, self.ctx.room_demands.values().sum());
                }
                self.ctx.out.push_back(Output::Report {
                    room: room.clone(),
                    report: None,
                });
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
        room.handle_receive(&key, input, &mut self.ctx);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for room in self.rooms.values_mut() {
            room.handle_timeout(now, &mut self.ctx);
        }
    }

    // ---- outputs ----

    /// The next output; when there is none left, first sends what the rooms wrote while
    /// handling the datagrams since the last flush (one poll per connection per batch).
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.ctx.out.is_empty() {
            for room in self.rooms.values_mut().filter(|r| r.needs_flush()) {
                room.flush(&mut self.ctx);
            }
        }
        self.ctx.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rooms.values().filter_map(Room::poll_timeout).min()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::api::ParticipantId;
    use crate::budget::EgressBudget;

    #[test]
    fn a_worker_whose_last_room_closes_leaves_the_budget_to_the_others() {
        let budget = Arc::new(EgressBudget::new(Some(100_000_000), 2));
        let config = CoreConfig {
            candidates: vec!["127.0.0.1:4000".parse().expect("an address")],
            max_tracks_per_participant: 3,
            egress: Some((budget.clone(), 0)),
            room_egress_limit: None,
            adaptation: true,
        };
        let mut worker = Worker::new(config, 1);
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
