//! What one client address may hold and start: open WebSockets, rooms created (an hour's
//! worth, and open at once), joins started a minute; the lobby's share is the room's to
//! count ([`crate::room`]), by the key this module gives each address.
//!
//! Who shares an address decides the figures. A family at home is a few devices behind one
//! router; a school behind one NAT is every pupil and teacher of the building, which on a
//! 2-core server is everyone on it (`max_participants`, 400). So the defaults let one
//! address do what the whole server carries, and stop only what no school does: one machine
//! holding every connection, opening rooms by the thousand, or knocking without pause. A
//! school that knows its NAT's address lists it in `exempt_networks` and may then tighten the
//! caps to a family's size for everyone else.
//!
//! Never counted: loopback, which is this machine itself (a reverse proxy on it is already
//! resolved to its client by `http::client_addr`, so what remains is a local monitor, a load
//! test, the administrator's own browser), and `exempt_networks`. IPv6 clients are counted by
//! their /64: one home or phone gets a whole /64 and may use any address in it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::room::RateLimit;

/// The caps (config.rs argues each default).
#[derive(Debug, Clone)]
pub struct Caps {
    pub sockets: usize,
    pub connections: usize,
    pub rooms_per_hour: usize,
    pub open_rooms: usize,
    pub joins_per_minute: usize,
    pub exempt: Vec<Network>,
}

/// Which cap a refusal hit, for the refusal and its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("too many open connections from your network")]
    Sockets,
    #[error("too many connections from your network")]
    Connections,
    #[error("too many rooms created from your network this hour")]
    RoomsPerHour,
    #[error("too many rooms open from your network")]
    OpenRooms,
    #[error("too many joins from your network this minute")]
    Joins,
}

impl Refusal {
    /// The label of `aula_address_refused_total`.
    pub fn cap(self) -> &'static str {
        match self {
            Refusal::Sockets => "sockets",
            Refusal::Connections => "connections",
            Refusal::RoomsPerHour => "rooms_per_hour",
            Refusal::OpenRooms => "open_rooms",
            Refusal::Joins => "joins",
        }
    }
}

/// A network in CIDR form (`203.0.113.0/28`, `2001:db8:5::/48`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Option<Network> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim().parse().ok()?, None),
        };
        let bits = if matches!(addr, IpAddr::V4(_)) {
            32
        } else {
            128
        };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (n, a, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => (n.to_bits().into(), a.to_bits().into(), 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
            _ => return false,
        };
        // A shift by the whole width would overflow: /0 contains everything.
        self.prefix == 0 || (n ^ a) >> (bits - u32::from(self.prefix)) == 0
    }
}

/// One address's use.
#[derive(Debug)]
struct Usage {
    sockets: usize,
    connections: usize,
    open_rooms: usize,
    rooms: RateLimit,
    joins: RateLimit,
}

impl Usage {
    fn idle(&self, now: Instant, caps: &Caps) -> bool {
        let full = |limit: &RateLimit, cap: usize| limit.clone().allow_n(now, cap as f64);
        self.sockets == 0
            && self.connections == 0
            && self.open_rooms == 0
            && full(&self.rooms, caps.rooms_per_hour)
            && full(&self.joins, caps.joins_per_minute)
    }
}

/// Forgotten addresses are looked for this often: an idle one is dropped then.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Every counted address's use. A std Mutex, not a tokio one: nothing awaits while it is
/// held, and each use is a map lookup.
#[derive(Debug)]
pub struct Addresses {
    caps: Caps,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    usage: HashMap<IpAddr, Usage>,
    swept: Instant,
}

/// An open WebSocket's, TCP connection's or room's place under its address's cap, given back
/// when dropped.
#[derive(Debug)]
pub struct Hold {
    owner: Arc<Addresses>,
    key: IpAddr,
    what: Held,
}

#[derive(Debug, Clone, Copy)]
enum Held {
    Socket,
    Connection,
    Room,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut table = self.owner.table.lock().expect("no panic while held");
        if let Some(u) = table.usage.get_mut(&self.key) {
            match self.what {
                Held::Socket => u.sockets = u.sockets.saturating_sub(1),
                Held::Connection => u.connections = u.connections.saturating_sub(1),
                Held::Room => u.open_rooms = u.open_rooms.saturating_sub(1),
            }
        }
    }
}

impl Addresses {
    pub fn new(caps: Caps) -> Arc<Addresses> {
        Arc::new(Addresses {
            caps,
            table: Mutex::new(Table {
                usage: HashMap::new(),
                swept: Instant::now(),
            }),
        })
    }

    /// The key `ip` is counted under (its /64 for IPv6), or `None` if it is not counted.
    pub fn key(&self, ip: IpAddr) -> Option<IpAddr> {
        let ip = ip.to_canonical();
        if ip.is_loopback() || self.caps.exempt.iter().any(|n| n.contains(ip)) {
            return None;
        }
        Some(match ip {
            IpAddr::V6(v6) => IpAddr::V6((v6.to_bits() & (u128::MAX << 64)).into()),
            v4 => v4,
        })
    }

    /// A WebSocket from `ip` opens.
    pub fn handle_socket(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<Option<Hold>, Refusal> {
        self.hold(ip, now, Held::Socket)
    }

    /// A TCP connection from `ip` is accepted; the hold lives as long as the connection.
    pub fn handle_connection(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<Option<Hold>, Refusal> {
        self.hold(ip, now, Held::Connection)
    }

    /// `ip` creates a room; the hold lives as long as the room.
    pub fn handle_room(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<Option<Hold>, Refusal> {
        self.hold(ip, now, Held::Room)
    }

    /// `ip` starts a join.
    pub fn handle_join(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Some(key) = self.key(ip) else {
            return Ok(());
        };
        let mut table = self.table.lock().expect("no panic while held");
        let u = table.entry(key, now, &self.caps);
        if u.joins.allow(now) {
            Ok(())
        } else {
            Err(Refusal::Joins)
        }
    }

    fn hold(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
        what: Held,
    ) -> Result<Option<Hold>, Refusal> {
        let Some(key) = self.key(ip) else {
            return Ok(None);
        };
        let mut table = self.table.lock().expect("no panic while held");
        let caps = &self.caps;
        let u = table.entry(key, now, caps);
        match what {
            Held::Socket if u.sockets >= caps.sockets => return Err(Refusal::Sockets),
            Held::Socket => u.sockets += 1,
            Held::Connection if u.connections >= caps.connections => {
                return Err(Refusal::Connections);
            }
            Held::Connection => u.connections += 1,
            Held::Room if u.open_rooms >= caps.open_rooms => return Err(Refusal::OpenRooms),
            Held::Room if !u.rooms.allow(now) => return Err(Refusal::RoomsPerHour),
            Held::Room => u.open_rooms += 1,
        }
        let owner = self.clone();
        Ok(Some(Hold { owner, key, what }))
    }

    /// Seconds until `refusal` may pass again, for `Retry-After`: a token's refill for the
    /// rates, a while for the holds (someone has to leave first).
    pub fn retry_after(&self, refusal: Refusal) -> u64 {
        match refusal {
            Refusal::RoomsPerHour => (3600 / self.caps.rooms_per_hour.max(1)) as u64,
            Refusal::Joins => (60 / self.caps.joins_per_minute.max(1)).max(1) as u64,
            Refusal::Sockets | Refusal::OpenRooms => 60,
            // The plain 503's own Retry-After (serve.rs): a connection is short-lived.
            Refusal::Connections => 5,
        }
    }
}

impl Table {
    fn entry(&mut self, key: IpAddr, now: Instant, caps: &Caps) -> &mut Usage {
        if now >= self.swept + SWEEP_EVERY {
            self.swept = now;
            self.usage.retain(|_, u| !u.idle(now, caps));
        }
        self.usage.entry(key).or_insert_with(|| Usage {
            sockets: 0,
            connections: 0,
            open_rooms: 0,
            rooms: per(now, caps.rooms_per_hour, Duration::from_secs(3600)),
            joins: per(now, caps.joins_per_minute, Duration::from_secs(60)),
        })
    }
}

/// `n` at once, refilled evenly over `period`.
fn per(now: Instant, n: usize, period: Duration) -> RateLimit {
    let n = n.clamp(1, u32::MAX as usize);
    RateLimit::with(now, n as f64, period / n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Caps {
        Caps {
            sockets: 3,
            connections: 4,
            rooms_per_hour: 4,
            open_rooms: 2,
            joins_per_minute: 6,
            exempt: vec![Network::parse("203.0.113.0/28").unwrap()],
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_contain() {
        let n = Network::parse("203.0.113.0/28").unwrap();
        assert!(n.contains(ip("203.0.113.15")));
        assert!(!n.contains(ip("203.0.113.16")));
        assert!(!n.contains(ip("2001:db8::1")));
        let one = Network::parse("198.51.100.7").unwrap();
        assert!(one.contains(ip("198.51.100.7")) && !one.contains(ip("198.51.100.8")));
        let v6 = Network::parse("2001:db8:5::/48").unwrap();
        assert!(v6.contains(ip("2001:db8:5:ffff::1")) && !v6.contains(ip("2001:db8:6::1")));
        assert!(
            Network::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("192.0.2.1"))
        );
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "schule.de",
            "10.0.0.0/",
            "::/129",
        ] {
            assert_eq!(Network::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn loopback_and_exempt_networks_are_not_counted_and_ipv6_by_its_64() {
        let a = Addresses::new(caps());
        assert_eq!(a.key(ip("127.0.0.1")), None);
        assert_eq!(a.key(ip("::1")), None);
        assert_eq!(a.key(ip("::ffff:127.0.0.1")), None);
        assert_eq!(a.key(ip("203.0.113.9")), None);
        assert_eq!(a.key(ip("192.0.2.1")), Some(ip("192.0.2.1")));
        assert_eq!(
            a.key(ip("2001:db8:1:2:aaaa::1")),
            Some(ip("2001:db8:1:2::"))
        );
        assert_eq!(
            a.key(ip("2001:db8:1:2:bbbb::9")),
            a.key(ip("2001:db8:1:2::7"))
        );
    }

    #[test]
    fn sockets_are_capped_while_held_and_freed_when_dropped() {
        let a = Addresses::new(caps());
        let t0 = Instant::now();
        let held: Vec<_> = (0..3)
            .map(|_| a.handle_socket(ip("192.0.2.1"), t0).unwrap())
            .collect();
        assert_eq!(
            a.handle_socket(ip("192.0.2.1"), t0).unwrap_err(),
            Refusal::Sockets
        );
        assert!(
            a.handle_socket(ip("192.0.2.2"), t0).unwrap().is_some(),
            "another address"
        );
        assert!(
            a.handle_socket(ip("127.0.0.1"), t0).unwrap().is_none(),
            "not counted"
        );
        drop(held);
        assert!(a.handle_socket(ip("192.0.2.1"), t0).is_ok());
    }

    #[test]
    fn connections_are_capped_while_held_and_freed_when_dropped() {
        let a = Addresses::new(caps());
        let t0 = Instant::now();
        let held: Vec<_> = (0..4)
            .map(|_| a.handle_connection(ip("192.0.2.1"), t0).unwrap())
            .collect();
        assert_eq!(
            a.handle_connection(ip("192.0.2.1"), t0).unwrap_err(),
            Refusal::Connections
        );
        assert!(a.handle_connection(ip("192.0.2.2"), t0).unwrap().is_some());
        assert!(a.handle_connection(ip("127.0.0.1"), t0).unwrap().is_none());
        // The WebSocket cap is its own.
        assert!(a.handle_socket(ip("192.0.2.1"), t0).unwrap().is_some());
        drop(held);
        assert!(a.handle_connection(ip("192.0.2.1"), t0).is_ok());
    }

    #[test]
    fn rooms_are_capped_open_and_per_hour() {
        let a = Addresses::new(caps());
        let t0 = Instant::now();
        let x = ip("192.0.2.1");
        let first = a.handle_room(x, t0).unwrap();
        let second = a.handle_room(x, t0).unwrap();
        assert_eq!(a.handle_room(x, t0).unwrap_err(), Refusal::OpenRooms);
        drop((first, second));
        let _third = a.handle_room(x, t0).unwrap();
        let fourth = a.handle_room(x, t0).unwrap();
        drop(fourth);
        assert_eq!(a.handle_room(x, t0).unwrap_err(), Refusal::RoomsPerHour);
        // Four an hour: one more after a quarter of an hour.
        let later = t0 + Duration::from_secs(15 * 60);
        assert!(a.handle_room(x, later).is_ok());
        assert_eq!(a.retry_after(Refusal::RoomsPerHour), 900);
    }

    #[test]
    fn joins_are_capped_per_minute() {
        let a = Addresses::new(caps());
        let t0 = Instant::now();
        let x = ip("192.0.2.1");
        assert!((0..6).all(|_| a.handle_join(x, t0).is_ok()));
        assert_eq!(a.handle_join(x, t0), Err(Refusal::Joins));
        assert!(a.handle_join(ip("203.0.113.1"), t0).is_ok(), "exempt");
        assert!(a.handle_join(x, t0 + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let a = Addresses::new(caps());
        let t0 = Instant::now();
        a.handle_join(ip("192.0.2.1"), t0).unwrap();
        let held = a.handle_socket(ip("192.0.2.2"), t0).unwrap();
        let later = t0 + Duration::from_secs(3600);
        a.handle_join(ip("192.0.2.3"), later).unwrap();
        let table = a.table.lock().unwrap();
        let mut kept: Vec<_> = table.usage.keys().copied().collect();
        kept.sort();
        assert_eq!(kept, [ip("192.0.2.2"), ip("192.0.2.3")]);
        drop(table);
        drop(held);
    }
}
