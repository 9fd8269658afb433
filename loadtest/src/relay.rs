//! A user-space relay on loopback between one bot and the server, shaping the bot's downlink
//! ([`Link`]): this kernel has no netem, so the bottleneck is a task in the loadtest.
//!
//! The bot learns the server's ICE candidates from the SDP it receives; with a relay, it
//! replaces each with an address of the relay ([`rewrite_candidates`], [`Relay::route`]), so
//! its ICE checks, DTLS and media all go through it. For each server address the relay listens
//! on a socket of its own, and for each bot socket that sends there it opens one socket
//! towards the server (a NAT's mapping): the server sees that socket as the bot's address, and
//! what it sends back goes through the link to the bot. Both directions get the link's delay;
//! only the downlink is shaped, drop-tail, as a home or school line in front of a laptop is.
//!
//! One task owns the link, the mappings and the datagrams in flight; a small task per socket
//! only reads and hands datagrams over through a bounded queue, and one that finds the queue
//! full drops the datagram and counts it ([`RelayLog::overflow`]): a relay must not slow the
//! loadtest down. Dropping the [`Relay`] ends all of it.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::link::{Link, LinkConfig, LinkLog};

/// Datagrams read but not yet taken by the relay's task. A 2.5 Mbit/s downlink is about 270
/// datagrams a second; this holds seconds of it, so only a stalled loadtest fills it.
const QUEUE: usize = 2048;
/// Largest datagram relayed; str0m's MTU is 1150, Janus's 1200.
const DATAGRAM_MAX: usize = 2000;

/// A datagram read by one of the relay's sockets.
struct Arrival {
    /// Which socket read it ([`Socket`]).
    socket: usize,
    from: SocketAddr,
    data: Vec<u8>,
    at: Instant,
}

/// What the relay's task is asked to do.
enum Command {
    /// Listen on this socket for datagrams to `upstream`.
    Listen {
        socket: Arc<UdpSocket>,
        upstream: SocketAddr,
    },
    /// Send the record so far.
    Log(oneshot::Sender<RelayLog>),
    /// These payload types are retransmissions.
    Rtx(Vec<u8>),
}

/// A shaping relay; cheap to clone (a handle), ends when the last handle is dropped.
#[derive(Clone)]
pub struct Relay {
    commands: mpsc::UnboundedSender<Command>,
    ip: IpAddr,
    /// Server address to the relay's address for it. A std mutex: it is held only to look up
    /// or insert, never across an await.
    routes: Arc<Mutex<HashMap<SocketAddr, SocketAddr>>>,
}

/// What a relay recorded.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelayLog {
    /// The downlink, 100 ms bins from the relay's start.
    pub down: LinkLog,
    /// Bytes the bot sent towards the server (headers included), per 100 ms bin.
    pub up_bytes: Vec<u64>,
    /// What the server sent into the link, by kind ([`Kind`]), bytes (headers included) per
    /// 100 ms bin: `[media RTP, retransmissions, RTP with padding, RTCP, other]`.
    pub down_kinds: Vec<[u64; 5]>,
    /// Datagrams dropped because the relay's queue was full (the loadtest stalled), not by
    /// the link.
    pub overflow: u64,
    /// Datagrams the relay could not send on (a socket refused).
    pub send_errors: u64,
    /// When the downlink datagrams left against when the link let them out.
    pub down_timing: DownTiming,
}

/// How late the relay let the downlink's datagrams out: its task wakes late (its timer ticks
/// in milliseconds, and it shares the machine), and what was due meanwhile leaves back to
/// back, faster than the link. A probe that measures the link by arrival times then reads
/// more than its rate.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DownTiming {
    /// Downlink datagrams sent.
    pub sent: u64,
    /// Of those, how many left more than [`LATE`] after their time.
    pub late: u64,
    /// The latest one left this long after its time, microseconds.
    pub late_max_us: u64,
    /// How long after their times they left, summed, microseconds.
    pub late_sum_us: u64,
}

impl DownTiming {
    /// One datagram left `late` after its time.
    fn record(&mut self, late: std::time::Duration) {
        let us = late.as_micros() as u64;
        self.sent += 1;
        self.late += u64::from(late > LATE);
        self.late_max_us = self.late_max_us.max(us);
        self.late_sum_us += us;
    }
}

/// A downlink datagram leaving this much after its time counts as late: at 1 Mbit/s a
/// 1,200-byte datagram takes 10 ms on the link, so two datagrams released together after a
/// 2 ms delay arrive 20 % closer than the link would have let them.
pub const LATE: std::time::Duration = std::time::Duration::from_millis(2);

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Starts a relay on `ip` shaping by `config`. Its clock starts now: the profile's times
    /// count from here.
    pub fn start(ip: IpAddr, config: LinkConfig) -> Relay {
        let (commands, rx) = mpsc::unbounded_channel();
        let owner = Owner::new(Link::new(config));
        tokio::spawn(owner.run(rx));
        Relay {
            commands,
            ip,
            routes: Arc::default(),
        }
    }

    /// The relay's address for the server's `upstream`: a new socket the first time.
    pub fn route(&self, upstream: SocketAddr) -> io::Result<SocketAddr> {
        let mut routes = self.routes.lock().expect("nothing panics while holding it");
        if let Some(addr) = routes.get(&upstream) {
            return Ok(*addr);
        }
        let socket = std::net::UdpSocket::bind(SocketAddr::new(self.ip, 0))?;
        socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(socket)?);
        let addr = socket.local_addr()?;
        self.commands
            .send(Command::Listen { socket, upstream })
            .map_err(|_| io::Error::other("the relay has ended"))?;
        routes.insert(upstream, addr);
        Ok(addr)
    }

    /// Notes the retransmission payload types (`a=rtpmap:<pt> rtx/…`) of an SDP the bot
    /// received, so the log can tell retransmissions from media.
    pub fn note_sdp(&self, sdp: &str) {
        let pts: Vec<u8> = sdp
            .lines()
            .filter_map(|l| l.strip_prefix("a=rtpmap:"))
            .filter_map(|l| {
                let (pt, codec) = l.split_once(' ')?;
                codec
                    .to_ascii_lowercase()
                    .starts_with("rtx/")
                    .then(|| pt.parse().ok())?
            })
            .collect();
        if !pts.is_empty() {
            let _ = self.commands.send(Command::Rtx(pts));
        }
    }

    /// What the relay recorded so far; `None` if it has ended.
    pub async fn log(&self) -> Option<RelayLog> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Log(tx)).ok()?;
        rx.await.ok()
    }
}

/// One of the relay's sockets and where its datagrams go.
struct Socket {
    socket: Arc<UdpSocket>,
    role: Role,
}

enum Role {
    /// Faces the bot: what arrives goes to `upstream` through the bot's own mapping.
    Listener { upstream: SocketAddr },
    /// Faces the server for one bot socket: what arrives goes through the link to `bot`,
    /// sent from `listener`.
    Mapping { listener: usize, bot: SocketAddr },
}

/// A datagram on its way: when it is due, which socket sends it, to where.
struct InFlight {
    due: Instant,
    socket: usize,
    to: SocketAddr,
    data: Vec<u8>,
}

/// The relay's task: the one owner of the link and the mappings.
struct Owner {
    start: Instant,
    link: Link,
    sockets: Vec<Socket>,
    /// (listener, bot address) to the mapping socket.
    mappings: HashMap<(usize, SocketAddr), usize>,
    /// Both directions' datagrams in flight, each in the order they are due: the link keeps
    /// its own order, and the uplink only delays.
    down: VecDeque<InFlight>,
    up: VecDeque<InFlight>,
    up_bytes: Vec<u64>,
    down_kinds: Vec<[u64; 5]>,
    /// The payload types of retransmissions (`rtx`), from the SDP the bot saw.
    rtx: Vec<u8>,
    overflow: Arc<std::sync::atomic::AtomicU64>,
    send_errors: u64,
    down_timing: DownTiming,
    readers: JoinSet<()>,
    arrivals_tx: mpsc::Sender<Arrival>,
    arrivals: mpsc::Receiver<Arrival>,
}

impl Owner {
    fn new(link: Link) -> Owner {
        let (arrivals_tx, arrivals) = mpsc::channel(QUEUE);
        Owner {
            start: Instant::now(),
            link,
            sockets: Vec::new(),
            mappings: HashMap::new(),
            down: VecDeque::new(),
            up: VecDeque::new(),
            up_bytes: Vec::new(),
            down_kinds: Vec::new(),
            rtx: Vec::new(),
            overflow: Arc::default(),
            send_errors: 0,
            down_timing: DownTiming::default(),
            readers: JoinSet::new(),
            arrivals_tx,
            arrivals,
        }
    }

    /// Until every handle is gone: commands, arrivals, and sending what is due.
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let next = [self.down.front(), self.up.front()]
                .into_iter()
                .flatten()
                .map(|d| d.due)
                .min();
            let sleep = async {
                match next {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.handle_command(cmd),
                    None => return,
                },
                Some(arrival) = self.arrivals.recv() => self.handle_arrival(arrival),
                () = sleep => {}
            }
            self.send_due(Instant::now());
        }
    }

    fn handle_command(&mut self, cmd: Command) {
        match cmd {
            Command::Listen { socket, upstream } => {
                self.add_socket(socket, Role::Listener { upstream });
            }
            Command::Rtx(pts) => {
                for pt in pts {
                    if !self.rtx.contains(&pt) {
                        self.rtx.push(pt);
                    }
                }
            }
            Command::Log(reply) => {
                let _ = reply.send(RelayLog {
                    down: self.link.log().clone(),
                    up_bytes: self.up_bytes.clone(),
                    down_kinds: self.down_kinds.clone(),
                    overflow: self.overflow.load(std::sync::atomic::Ordering::Relaxed),
                    send_errors: self.send_errors,
                    down_timing: self.down_timing,
                });
            }
        }
    }

    /// Adds a socket and the task that reads it.
    fn add_socket(&mut self, socket: Arc<UdpSocket>, role: Role) -> usize {
        let index = self.sockets.len();
        let (tx, overflow) = (self.arrivals_tx.clone(), self.overflow.clone());
        self.readers
            .spawn(read(socket.clone(), index, tx, overflow));
        self.sockets.push(Socket { socket, role });
        index
    }

    fn handle_arrival(&mut self, a: Arrival) {
        match self.sockets[a.socket].role {
            Role::Listener { upstream } => {
                let Some(mapping) = self.mapping(a.socket, a.from) else {
                    self.send_errors += 1;
                    return;
                };
                let i = self.bin(a.at);
                if self.up_bytes.len() <= i {
                    self.up_bytes.resize(i + 1, 0);
                }
                self.up_bytes[i] += a.data.len() as u64 + crate::link::HEADER_BYTES;
                let due = a.at + self.link.config().delay;
                self.up.push_back(InFlight {
                    due,
                    socket: mapping,
                    to: upstream,
                    data: a.data,
                });
            }
            Role::Mapping { listener, bot } => {
                let i = self.bin(a.at);
                if self.down_kinds.len() <= i {
                    self.down_kinds.resize(i + 1, [0; 5]);
                }
                self.down_kinds[i][kind(&a.data, &self.rtx) as usize] +=
                    a.data.len() as u64 + crate::link::HEADER_BYTES;
                let offset = a.at.saturating_duration_since(self.start);
                if let Some(arrival) = self.link.handle_datagram(offset, a.data.len()) {
                    self.down.push_back(InFlight {
                        due: self.start + arrival,
                        socket: listener,
                        to: bot,
                        data: a.data,
                    });
                }
            }
        }
    }

    /// The mapping socket of one bot socket behind `listener`, opened the first time.
    fn mapping(&mut self, listener: usize, bot: SocketAddr) -> Option<usize> {
        if let Some(i) = self.mappings.get(&(listener, bot)) {
            return Some(*i);
        }
        let ip = self.sockets[listener].socket.local_addr().ok()?.ip();
        let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).ok()?;
        socket.set_nonblocking(true).ok()?;
        let socket = Arc::new(UdpSocket::from_std(socket).ok()?);
        let i = self.add_socket(socket, Role::Mapping { listener, bot });
        self.mappings.insert((listener, bot), i);
        Some(i)
    }

    fn bin(&self, at: Instant) -> usize {
        let offset = at.saturating_duration_since(self.start);
        (offset.as_micros() / crate::link::BIN.as_micros()) as usize
    }

    /// Sends every datagram due by `now`, never waiting on a socket.
    fn send_due(&mut self, now: Instant) {
        while let Some(d) = due(&mut self.down, now) {
            self.down_timing.record(now - d.due);
            self.send(&d);
        }
        while let Some(d) = due(&mut self.up, now) {
            self.send(&d);
        }
    }

    fn send(&mut self, d: &InFlight) {
        if self.sockets[d.socket]
            .socket
            .try_send_to(&d.data, d.to)
            .is_err()
        {
            self.send_errors += 1;
        }
    }
}

/// The first datagram of `queue` if it is due by `now`.
fn due(queue: &mut VecDeque<InFlight>, now: Instant) -> Option<InFlight> {
    queue
        .front()
        .is_some_and(|d| d.due <= now)
        .then(|| queue.pop_front())?
}

/// What a datagram from the server is, by RFC 7983's first two bytes and the RTP header,
/// which SRTP leaves in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RTP media.
    Media = 0,
    /// RTP on a retransmission payload type (`rtx`) without the padding bit.
    Retransmission = 1,
    /// RTP with the padding bit set: what a sender adds to probe or fill up to a rate.
    Padding = 2,
    /// RTCP.
    Rtcp = 3,
    /// STUN, DTLS, anything else.
    Other = 4,
}

/// The kind of `data`; `rtx` are the retransmission payload types.
pub fn kind(data: &[u8], rtx: &[u8]) -> Kind {
    match data {
        [first, second, ..] if (128..=191).contains(first) => {
            if (192..=223).contains(second) {
                Kind::Rtcp
            } else if first & 0x20 != 0 {
                Kind::Padding
            } else if rtx.contains(&(second & 0x7f)) {
                Kind::Retransmission
            } else {
                Kind::Media
            }
        }
        _ => Kind::Other,
    }
}

/// Reads one socket until the relay ends, handing each datagram over (or dropping it when
/// the relay's queue is full).
async fn read(
    socket: Arc<UdpSocket>,
    index: usize,
    tx: mpsc::Sender<Arrival>,
    overflow: Arc<std::sync::atomic::AtomicU64>,
) {
    let mut buf = vec![0u8; DATAGRAM_MAX];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            // ICMP port unreachable from a closed bot socket: nothing to do but go on.
            continue;
        };
        let arrival = Arrival {
            socket: index,
            from,
            data: buf[..n].to_vec(),
            at: Instant::now(),
        };
        match tx.try_send(arrival) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                overflow.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Replaces the address and port of every `a=candidate` line of `sdp` with what `route`
/// gives for it (lines it gives nothing for stay as they are). Candidates are RFC 8839
/// section 5.1: `a=candidate:<foundation> <component> <transport> <priority> <address>
/// <port> typ <type> ...`; anything else is left alone.
pub fn rewrite_candidates(
    sdp: &str,
    mut route: impl FnMut(SocketAddr) -> Option<SocketAddr>,
) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let end = &line[body.len()..];
        match body.strip_prefix("a=candidate:").and_then(|c| {
            let fields: Vec<&str> = c.split(' ').collect();
            let addr = SocketAddr::new(fields.get(4)?.parse().ok()?, fields.get(5)?.parse().ok()?);
            let to = route(addr)?;
            let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
            fields[4] = to.ip().to_string();
            fields[5] = to.port().to_string();
            Some(fields.join(" "))
        }) {
            Some(rewritten) => {
                out.push_str("a=candidate:");
                out.push_str(&rewritten);
                out.push_str(end);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn candidates_point_at_the_relay() {
        let sdp = "v=0\r\na=ice-lite\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
                   a=candidate:1 1 udp 2130706431 127.0.0.1 10000 typ host\r\n\
                   a=candidate:2 1 udp 2130706431 ::1 10000 typ host\r\n\
                   a=candidate:bad\r\na=mid:0\r\n";
        let relay: SocketAddr = "127.0.0.1:40001".parse().expect("an address");
        let server: SocketAddr = "127.0.0.1:10000".parse().expect("an address");
        let out = rewrite_candidates(sdp, |a| (a == server).then_some(relay));
        assert_eq!(
            out,
            "v=0\r\na=ice-lite\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
             a=candidate:1 1 udp 2130706431 127.0.0.1 40001 typ host\r\n\
             a=candidate:2 1 udp 2130706431 ::1 10000 typ host\r\n\
             a=candidate:bad\r\na=mid:0\r\n"
        );
        assert_eq!(
            rewrite_candidates("a=candidate:1 1 udp 1 1.2.3.4 5 typ host", |_| Some(relay)),
            "a=candidate:1 1 udp 1 127.0.0.1 40001 typ host"
        );
    }

    #[test]
    fn kinds_are_told_apart() {
        let rtx = [97];
        assert_eq!(kind(&[0x80, 96, 0, 1], &rtx), Kind::Media);
        assert_eq!(kind(&[0x80, 0x80 | 97, 0, 1], &rtx), Kind::Retransmission);
        assert_eq!(kind(&[0xa0, 97, 0, 1], &rtx), Kind::Padding);
        assert_eq!(kind(&[0x81, 205], &rtx), Kind::Rtcp);
        assert_eq!(kind(&[0x00, 0x01], &rtx), Kind::Other);
        assert_eq!(kind(&[22, 254], &rtx), Kind::Other);
    }

    #[tokio::test]
    async fn datagrams_go_both_ways_and_the_downlink_is_shaped() {
        use crate::link::Profile;
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("binds");
        let bot = UdpSocket::bind("127.0.0.1:0").await.expect("binds");
        let profile = Profile::parse("0:0.1").expect("valid");
        let mut config = LinkConfig::new(profile);
        config.delay = Duration::from_millis(5);
        let relay = Relay::start(bot.local_addr().expect("bound").ip(), config);
        let via = relay
            .route(server.local_addr().expect("bound"))
            .expect("routes");
        assert_eq!(
            relay.route(server.local_addr().expect("bound")).ok(),
            Some(via)
        );

        bot.send_to(b"hello", via).await.expect("sent");
        let mut buf = [0u8; 2000];
        let (n, mapped) = server.recv_from(&mut buf).await.expect("relayed");
        assert_eq!(&buf[..n], b"hello");
        assert_ne!(
            mapped,
            bot.local_addr().expect("bound"),
            "the relay's mapping"
        );
        // 100 kbit/s, a bucket of 1500 bytes and 300 ms of queue (3750 bytes): of 20
        // datagrams of 1028 bytes at once, 5 get through.
        for _ in 0..20 {
            server.send_to(&[7u8; 1000], mapped).await.expect("sent");
        }
        let mut got = 0;
        while let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_millis(600), bot.recv_from(&mut buf)).await
        {
            assert_eq!((n, from), (1000, via));
            got += 1;
        }
        assert!((4..=6).contains(&got), "{got} of 20 through");
        let log = relay.log().await.expect("running");
        let all = log.down.sum(Duration::ZERO, Duration::from_secs(60));
        assert_eq!(all.dropped + all.passed, 20);
        assert!(log.up_bytes.iter().sum::<u64>() >= 5);
        // Each datagram that passed left, some time after the link let it out.
        let timing = log.down_timing;
        assert_eq!(timing.sent, got as u64);
        assert!(timing.late <= timing.sent);
        assert!(timing.late_sum_us >= timing.late_max_us);
    }
}
