//! Peer SFUs the comparison starts: Janus 1.1.2 with the configuration in
//! `loadtest/peers/janus/`.
//!
//! The configuration is copied to a fresh folder with the WebSocket port set to a free one,
//! so a comparison never depends on port 8188 being free and two runs never collide. Janus
//! writes its log there; the folder is removed when the server stops.
//!
//! Janus never gathers ICE candidates on a loopback interface (it skips them, and libnice does
//! too), so Janus and its bots meet on this machine's first non-loopback IPv4 address
//! ([`JanusServer::media_ip`]), written into `ice_enforce_list`. Traffic to one's own address
//! still never leaves the kernel, as on loopback; the WebSocket stays on 127.0.0.1.

use std::fs;
use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::http::ServerUrl;

/// The WebSocket transport's file, whose `ws_port` is replaced.
const WS_CONFIG: &str = "janus.transport.websockets.jcfg";
/// The core's file, whose `ice_enforce_list` is replaced.
const CORE_CONFIG: &str = "janus.jcfg";
/// How long Janus gets to listen on its WebSocket port; it is up in well under a second.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of [`JanusServer::start`].
#[derive(Debug, thiserror::Error)]
pub enum JanusError {
    /// The configuration folder could not be read or copied.
    #[error("janus configuration {path}")]
    Config {
        /// Which file or folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration lacks a line this module replaces.
    #[error("{0} has no {1} line")]
    NoSetting(String, &'static str),
    /// No address for media: Janus does not do ICE on loopback.
    #[error("no non-loopback IPv4 address on this machine; janus does not do ICE on loopback")]
    NoMediaIp,
    /// The binary could not be run.
    #[error("cannot run {path} (apt-get install janus)")]
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
    #[error("janus exited at start ({status}): {log}")]
    Exited {
        /// How.
        status: std::process::ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// It never listened.
    #[error("janus did not listen within {0:?}")]
    NotReady(Duration),
}

/// A Janus process this loadtest started; killed when dropped.
pub struct JanusServer {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:PORT`; bots use [`ServerUrl::ws_url`] of it.
    pub url: ServerUrl,
    /// The address Janus gathers its one ICE candidate on; bots bind their UDP sockets here.
    pub media_ip: IpAddr,
}

impl JanusServer {
    /// Starts `bin` with the configuration in `config` on a free loopback port and waits until
    /// it listens.
    pub async fn start(bin: &Path, config: &Path) -> Result<JanusServer, JanusError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(JanusError::Port)?
            .port();
        let media_ip = media_ip().ok_or(JanusError::NoMediaIp)?;
        let dir = std::env::temp_dir().join(format!("aula-janus-{}-{port}", std::process::id()));
        let spawned = copy_config(config, &dir, port, media_ip).and_then(|()| spawn(bin, &dir));
        let child = spawned.inspect_err(|_| {
            // Nothing owns the directory yet to remove it when dropped.
            let _ = fs::remove_dir_all(&dir);
        })?;
        let mut server = JanusServer {
            child,
            dir,
            url: ServerUrl::from(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
            media_ip,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// The process id, for measuring.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `lines` lines of Janus's log, joined by ` | `.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(self.dir.join("janus.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join(" | ")
    }

    async fn wait_ready(&mut self) -> Result<(), JanusError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log_tail(5);
                return Err(JanusError::Exited { status, log });
            }
            if TcpStream::connect(self.url.authority()).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(JanusError::NotReady(READY_TIMEOUT))
    }

    /// Stops the server.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for JanusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Starts `bin` on the configuration copied into `dir`, its output in `dir/janus.log`.
fn spawn(bin: &Path, dir: &Path) -> Result<Child, JanusError> {
    let config_err = |source| JanusError::Config {
        path: dir.display().to_string(),
        source,
    };
    let log = fs::File::create(dir.join("janus.log")).map_err(config_err)?;
    let stderr = log.try_clone().map_err(config_err)?;
    Command::new(bin)
        .arg("-C")
        .arg(dir.join("janus.jcfg"))
        .arg("-F")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .spawn()
        .map_err(|source| JanusError::Spawn {
            path: bin.display().to_string(),
            source,
        })
}

/// This machine's first non-loopback IPv4 address, in sorted order so it is always the same.
pub fn media_ip() -> Option<IpAddr> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .map(|i| i.ip())
        .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
        .collect();
    ips.sort();
    ips.first().copied()
}

/// Copies every `.jcfg` of `from` into `to`, with `ws_port` set to `port` and
/// `ice_enforce_list` to `media_ip`.
fn copy_config(from: &Path, to: &Path, port: u16, media_ip: IpAddr) -> Result<(), JanusError> {
    let err = |path: &Path| {
        let path = path.display().to_string();
        move |source| JanusError::Config { path, source }
    };
    fs::create_dir_all(to).map_err(err(to))?;
    let mut replaced = 0;
    for entry in fs::read_dir(from).map_err(err(from))? {
        let path = entry.map_err(err(from))?.path();
        if path.extension().is_none_or(|e| e != "jcfg") {
            continue;
        }
        let name = path.file_name().expect("read_dir entries have names");
        let mut text = fs::read_to_string(&path).map_err(err(&path))?;
        let setting = if name == WS_CONFIG {
            Some(("ws_port", port.to_string()))
        } else if name == CORE_CONFIG {
            Some(("ice_enforce_list", format!("\"{media_ip}\"")))
        } else {
            None
        };
        if let Some((key, value)) = setting {
            let missing = || JanusError::NoSetting(path.display().to_string(), key);
            text = with_setting(&text, key, &value).ok_or_else(missing)?;
            replaced += 1;
        }
        fs::write(to.join(name), text).map_err(err(to))?;
    }
    if replaced < 2 {
        let path = from.join(WS_CONFIG).display().to_string();
        return Err(JanusError::NoSetting(path, "janus.jcfg or ws_port"));
    }
    Ok(())
}

/// `text` with the first uncommented `key = …` line set to `key = value`; `None` without one.
fn with_setting(text: &str, key: &str, value: &str) -> Option<String> {
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let is_key = trimmed
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='));
            if !found && is_key {
                found = true;
                let indent = &line[..line.len() - trimmed.len()];
                format!("{indent}{key} = {value}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    found.then(|| lines.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_one_setting_only() {
        let text = "general: {\n\t#ws_port = 1\n\tws_port = 8188\n\tws_portx = 2\n}\n";
        let out = with_setting(text, "ws_port", "4242").expect("has a port");
        assert!(out.contains("\tws_port = 4242\n"), "{out}");
        assert!(out.contains("#ws_port = 1"), "comments stay");
        assert!(out.contains("ws_portx = 2"), "other keys stay");
        assert!(!out.contains("8188"));
        assert_eq!(with_setting("general: {}\n", "ws_port", "1"), None);
    }

    #[tokio::test]
    async fn a_janus_that_does_not_start_leaves_no_directory_behind() {
        if media_ip().is_none() {
            return; // NoMediaIp, before any directory: nothing to check here
        }
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/janus");
        let ours = || -> std::collections::BTreeSet<PathBuf> {
            let prefix = format!("aula-janus-{}-", std::process::id());
            let entries = fs::read_dir(std::env::temp_dir()).expect("the temp dir");
            (entries.flatten().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                })
                .collect()
        };
        let before = ours();
        let missing = Path::new("/nonexistent/janus");
        let started = JanusServer::start(missing, &config).await;
        assert!(matches!(started, Err(JanusError::Spawn { .. })));
        assert_eq!(ours(), before, "a directory left behind");
    }
}
