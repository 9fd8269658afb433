//! The server under test: where it is, which process it is, what its `/metrics` say, and, when
//! asked, starting an `aula` binary on free loopback ports and stopping it again.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{self, ServerUrl};
use crate::target::Target;

/// Where the scenario runs, and which process to measure.
#[derive(Debug, Clone)]
pub struct ServerUnderTest {
    /// Which kind of server: how rooms are made and which signaling the bots speak.
    pub target: Target,
    /// Base URL of the server's HTTP side.
    pub url: ServerUrl,
    /// The server's process, for CPU and RSS; `None` measures no server process.
    pub pid: Option<u32>,
}

/// Errors of [`StartedServer::start`].
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The binary could not be run.
    #[error("cannot run {path}")]
    Spawn {
        /// The path given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// No free port.
    #[error("no free loopback port")]
    Port(#[source] std::io::Error),
    /// It ran but exited.
    #[error("the server exited at start ({0}); run it by hand to see why")]
    Exited(std::process::ExitStatus),
    /// It ran but never answered `/healthz`.
    #[error("the server did not answer /healthz within {0:?}")]
    NotReady(Duration),
}

/// How long a started server gets to answer `/healthz`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// An `aula` process this loadtest started; killed when dropped, so no run leaves one behind.
pub struct StartedServer {
    child: Child,
    /// Where it listens.
    pub url: ServerUrl,
}

impl StartedServer {
    /// Runs `path` on free loopback ports (HTTP and media), with room for `max_per_room`
    /// participants per room, and waits until `/healthz` answers.
    pub async fn start(path: &Path, max_per_room: usize) -> Result<StartedServer, ServerError> {
        StartedServer::start_with(path, max_per_room, &[]).await
    }

    /// [`StartedServer::start`] with more flags for the server, e.g.
    /// `["--egress-limit-mbps", "20"]`.
    pub async fn start_with(
        path: &Path,
        max_per_room: usize,
        flags: &[String],
    ) -> Result<StartedServer, ServerError> {
        let http_port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(ServerError::Port)?
            .port();
        let media_port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(ServerError::Port)?
            .port();
        let http_addr = SocketAddr::from(([127, 0, 0, 1], http_port));
        let child = Command::new(path)
            .args(["--http-addr", &http_addr.to_string()])
            .args(["--media-port", &media_port.to_string()])
            .args(["--media-ips", "127.0.0.1"])
            .args(["--max-participants-per-room", &max_per_room.to_string()])
            .args(["--log", "warn"])
            // Bots start their own rooms, as a signed-in teacher would.
            .args(["--room-creation", "open"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|source| ServerError::Spawn {
                path: path.display().to_string(),
                source,
            })?;
        let mut server = StartedServer {
            child,
            url: ServerUrl::from(http_addr),
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The process id, for measuring.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&mut self) -> Result<(), ServerError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ServerError::Exited(status));
            }
            let ok = get(&self.url, "/healthz", Duration::from_secs(1)).await;
            if ok.is_some_and(|(status, _)| status == 200) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ServerError::NotReady(READY_TIMEOUT))
    }

    /// Stops the server.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for StartedServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The counters of Aula's `GET /metrics` the report uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// `aula_udp_datagrams_out_total`.
    pub datagrams_out: u64,
    /// `aula_frames_forwarded_total`.
    pub frames_forwarded: u64,
    /// `aula_rtp_packets_forwarded_total`: RTP packets written to subscribers, where the
    /// server has it (issue 10 on).
    pub rtp_packets_forwarded: Option<u64>,
    /// `aula_renegotiations_failed_total`, where the server has it (issue 8 on).
    pub renegotiations_failed: Option<u64>,
    /// `aula_resumes_total`, where the server has it.
    pub resumes: Option<u64>,
    /// `aula_resumes_failed_total`, where the server has it.
    pub resumes_failed: Option<u64>,
    /// `aula_ice_restarts_total`, where the server has it.
    pub ice_restarts: Option<u64>,
    /// `aula_udp_bytes_out_total`: UDP payload bytes sent, where the server has it.
    pub bytes_out: Option<u64>,
    /// `aula_udp_bytes_in_total`: UDP payload bytes received, where the server has it.
    pub bytes_in: Option<u64>,
    /// `aula_udp_datagrams_in_total`, where the server has it.
    pub datagrams_in: Option<u64>,
    /// `aula_bandwidth_egress_limit_bps`: the server's egress budget, if it has one.
    pub egress_limit_bps: Option<u64>,
    /// `aula_bandwidth_wanted_bps`: what every subscriber's page would receive unconstrained,
    /// summed (issue 11 on).
    pub wanted_bps: Option<u64>,
    /// `aula_bandwidth_allocated_bps`: what the allocator gave them, summed.
    pub allocated_bps: Option<u64>,
    /// `aula_bandwidth_videos_paused`: videos shown but paused for want of bandwidth, now.
    pub videos_paused: Option<u64>,
    /// `aula_encodings_paused_total`: encodings switched off at their publisher.
    pub encodings_paused: Option<u64>,
    /// `aula_layer_changes_total`.
    pub layer_changes: Option<u64>,
    /// `aula_participants_present`: admitted and present, now (issue 12 on).
    pub participants_present: Option<u64>,
    /// `aula_admission_queue_length`: waiting in the join queue, now (issue 12 on).
    pub admission_queue_length: Option<u64>,
    /// `aula_connection_timeouts_total`: timeouts given to str0m connections, each a pass
    /// over the connection's streams (issue 10 on).
    pub connection_timeouts: Option<u64>,
}

impl Metrics {
    /// Bytes sent on the wire: UDP payloads plus an IPv4 and UDP header per datagram.
    pub fn wire_bytes_out(&self) -> Option<u64> {
        Some(self.bytes_out? + self.datagrams_out * crate::link::HEADER_BYTES)
    }
}

/// Reads `/metrics`; `None` when the server has none (not Aula) or does not answer in time.
pub async fn metrics(url: &ServerUrl, timeout: Duration) -> Option<Metrics> {
    let (status, body) = get(url, "/metrics", timeout).await?;
    if status != 200 {
        return None;
    }
    parse_metrics(&String::from_utf8_lossy(&body))
}

/// Picks the counters out of Prometheus text; `None` unless the two every Aula has are there.
pub fn parse_metrics(text: &str) -> Option<Metrics> {
    let value = |name: &str| {
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some(Metrics {
        datagrams_out: value("aula_udp_datagrams_out_total")?,
        frames_forwarded: value("aula_frames_forwarded_total")?,
        rtp_packets_forwarded: value("aula_rtp_packets_forwarded_total"),
        renegotiations_failed: value("aula_renegotiations_failed_total"),
        resumes: value("aula_resumes_total"),
        resumes_failed: value("aula_resumes_failed_total"),
        ice_restarts: value("aula_ice_restarts_total"),
        bytes_out: value("aula_udp_bytes_out_total"),
        bytes_in: value("aula_udp_bytes_in_total"),
        datagrams_in: value("aula_udp_datagrams_in_total"),
        egress_limit_bps: value("aula_bandwidth_egress_limit_bps"),
        wanted_bps: value("aula_bandwidth_wanted_bps"),
        allocated_bps: value("aula_bandwidth_allocated_bps"),
        videos_paused: value("aula_bandwidth_videos_paused"),
        encodings_paused: value("aula_encodings_paused_total"),
        layer_changes: value("aula_layer_changes_total"),
        participants_present: value("aula_participants_present"),
        admission_queue_length: value("aula_admission_queue_length"),
        connection_timeouts: value("aula_connection_timeouts_total"),
    })
}

/// What the allocator does in one room (`GET /api/rooms/{id}/bandwidth`, docs/protocol.md),
/// as far as the loadtest reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RoomBandwidth {
    /// The room's share of the server's budget, bit/s; `None`: unlimited.
    pub budget_bps: Option<u64>,
    /// Each subscriber.
    #[serde(default)]
    pub subscribers: Vec<SubscriberBandwidth>,
}

/// One subscriber of [`RoomBandwidth`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct SubscriberBandwidth {
    /// Its participant id.
    pub participant: String,
    /// The send-side estimate of its link, bit/s, once there is one.
    pub estimate_bps: Option<u64>,
    /// What its layers and audio send.
    pub allocated_bps: u64,
    /// What every video it shows would send at the size shown.
    pub wanted_bps: u64,
    /// Its own link holds it back.
    pub limited: bool,
}

impl RoomBandwidth {
    /// Sums over subscribers: (wanted, allocated), bit/s.
    pub fn totals(&self) -> (u64, u64) {
        let wanted = self.subscribers.iter().map(|s| s.wanted_bps).sum();
        let allocated = self.subscribers.iter().map(|s| s.allocated_bps).sum();
        (wanted, allocated)
    }

    /// The entry of participant `id`.
    pub fn subscriber(&self, id: &str) -> Option<&SubscriberBandwidth> {
        self.subscribers.iter().find(|s| s.participant == id)
    }
}

/// Reads a room's allocation with its host link's secret; `None` when the server has no such
/// endpoint (not Aula, or before issue 11), refuses, or does not answer in time.
pub async fn room_bandwidth(
    url: &ServerUrl,
    room: &str,
    host_secret: &str,
    timeout: Duration,
) -> Option<RoomBandwidth> {
    let path = format!("/api/rooms/{room}/bandwidth");
    let auth = format!("Bearer {host_secret}");
    let (status, body) = request(url, &path, Some(&auth), timeout).await?;
    if status != 200 {
        return None;
    }
    serde_json::from_slice(&body).ok()
}

/// One `GET`, whole response, within `timeout`; `None` on any failure.
pub async fn get(url: &ServerUrl, path: &str, timeout: Duration) -> Option<(u16, Vec<u8>)> {
    request(url, path, None, timeout).await
}

/// One `GET` with an `Authorization` header if given (never logged: it holds a secret).
async fn request(
    url: &ServerUrl,
    path: &str,
    authorization: Option<&str>,
    timeout: Duration,
) -> Option<(u16, Vec<u8>)> {
    let exchange = async {
        let mut stream = TcpStream::connect(url.authority()).await.ok()?;
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            url.authority()
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(1 << 20)
            .read_to_end(&mut raw)
            .await
            .ok()?;
        http::parse_response(&raw).ok()
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_need_both_counters() {
        let text = "aula_rooms 1\naula_udp_datagrams_out_total 1200\n\
                    aula_frames_forwarded_total 300\n";
        let m = parse_metrics(text).expect("both there");
        assert_eq!((m.datagrams_out, m.frames_forwarded), (1200, 300));
        assert_eq!((m.renegotiations_failed, m.resumes), (None, None));
        let text = format!("{text}aula_renegotiations_failed_total 2\naula_resumes_total 7\n");
        let m = parse_metrics(&text).expect("all there");
        assert_eq!((m.renegotiations_failed, m.resumes), (Some(2), Some(7)));
        assert_eq!((m.ice_restarts, m.rtp_packets_forwarded), (None, None));
        let text = format!("{text}aula_rtp_packets_forwarded_total 1100\n");
        let m = parse_metrics(&text).expect("all there");
        assert_eq!(m.rtp_packets_forwarded, Some(1100));
        assert_eq!(m.bytes_out, None);
        let text = format!("{text}aula_udp_bytes_out_total 100000\naula_bandwidth_wanted_bps 9\n");
        let m = parse_metrics(&text).expect("all there");
        assert_eq!((m.bytes_out, m.wanted_bps), (Some(100_000), Some(9)));
        assert_eq!(m.wire_bytes_out(), Some(100_000 + 1200 * 28));
        assert_eq!(parse_metrics("aula_rooms 1\n"), None);
        assert_eq!(parse_metrics("<html>janus</html>"), None);
    }
}
