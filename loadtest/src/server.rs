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
    /// `aula_renegotiations_failed_total`, where the server has it (issue 8 on).
    pub renegotiations_failed: Option<u64>,
    /// `aula_resumes_total`, where the server has it.
    pub resumes: Option<u64>,
    /// `aula_resumes_failed_total`, where the server has it.
    pub resumes_failed: Option<u64>,
    /// `aula_ice_restarts_total`, where the server has it.
    pub ice_restarts: Option<u64>,
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
        renegotiations_failed: value("aula_renegotiations_failed_total"),
        resumes: value("aula_resumes_total"),
        resumes_failed: value("aula_resumes_failed_total"),
        ice_restarts: value("aula_ice_restarts_total"),
    })
}

/// One `GET`, whole response, within `timeout`; `None` on any failure.
pub async fn get(url: &ServerUrl, path: &str, timeout: Duration) -> Option<(u16, Vec<u8>)> {
    let exchange = async {
        let mut stream = TcpStream::connect(url.authority()).await.ok()?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
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
        assert_eq!(m.ice_restarts, None);
        assert_eq!(parse_metrics("aula_rooms 1\n"), None);
        assert_eq!(parse_metrics("<html>janus</html>"), None);
    }
}
