//! The one REST call bots need, `POST /api/rooms` with its [`RoomOptions`], and the URLs
//! around it.
//!
//! Errors follow the std convention: `Display` says what failed, `source()` says why.
//!
//! Hand-written HTTP/1.1 over a tokio `TcpStream` (one request, `Connection: close`, read to the
//! end) rather than an HTTP client crate: one plain-text call does not justify a client with TLS
//! and connection pools. Parsing is separate from I/O so it is tested without sockets.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use crate::protocol::RoomKind;

/// Largest response read; a room description is a few hundred bytes.
const MAX_RESPONSE: usize = 64 * 1024;

/// Errors of [`create_room`] and URL parsing.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The server URL is not `http://host:port` or `host:port`.
    #[error("bad server url {0:?}: expected http://host:port")]
    BadUrl(String),
    /// Nothing accepted a TCP connection.
    #[error("cannot reach server at {addr}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why it failed.
        source: io::Error,
    },
    /// The connection broke mid-request.
    #[error("http exchange failed")]
    Io(#[from] io::Error),
    /// No complete answer in time.
    #[error("server did not answer within {0:?}")]
    Timeout(Duration),
    /// The answer was not HTTP/1.x as expected.
    #[error("malformed http response: {0}")]
    BadResponse(&'static str),
    /// An answer other than 201.
    #[error("server answered {status}: {body}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The body, as text, for the message.
        body: String,
    },
    /// A 201 whose body is not the documented room object.
    #[error("unexpected room json")]
    Json(#[from] serde_json::Error),
}

/// Where an Aula server listens for HTTP, parsed from `http://host:port[/…]` or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    authority: String,
}

impl ServerUrl {
    /// Parses a base URL; a path after the authority is ignored. Port 80 is assumed if none.
    pub fn parse(url: &str) -> Result<ServerUrl, HttpError> {
        let bad = || HttpError::BadUrl(url.to_owned());
        let rest = url.strip_prefix("http://").unwrap_or(url);
        if rest.contains("://") {
            return Err(bad());
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let has_port = match authority.rfind(']') {
            Some(end) => authority[end..].contains(':'),
            None => authority.contains(':'),
        };
        let authority = if has_port {
            let port = authority.rsplit(':').next().unwrap_or_default();
            port.parse::<u16>().map_err(|_| bad())?;
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(ServerUrl { authority })
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// `http://host:port`.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// The WebSocket endpoint, `ws://host:port/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.authority)
    }
}

impl From<SocketAddr> for ServerUrl {
    fn from(addr: SocketAddr) -> Self {
        ServerUrl {
            authority: addr.to_string(),
        }
    }
}

/// The body of `POST /api/rooms`. Fields left `None` are left out, so the server's defaults
/// apply: a class, with the lobby on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoomOptions {
    /// At most 80 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Class or meeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<RoomKind>,
    /// Overrides the kind's default for the waiting room (on for classes, off for meetings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lobby: Option<bool>,
}

impl RoomOptions {
    /// A room of `kind` without a lobby, as bots want it: they do not wait to be admitted.
    pub fn no_lobby(kind: RoomKind) -> RoomOptions {
        RoomOptions {
            kind: Some(kind),
            lobby: Some(false),
            ..RoomOptions::default()
        }
    }

    /// The same options with a title.
    pub fn title(mut self, title: &str) -> RoomOptions {
        self.title = Some(title.to_owned());
        self
    }

    /// The same options with the lobby set.
    pub fn lobby(mut self, lobby: bool) -> RoomOptions {
        self.lobby = Some(lobby);
        self
    }
}

/// The `201` body of `POST /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedRoom {
    /// Room id.
    pub id: String,
    /// Title, if one was given.
    #[serde(default)]
    pub title: Option<String>,
    /// Class or meeting.
    pub kind: RoomKind,
    /// Link for hosts; the secret is in the fragment.
    pub host_url: String,
    /// Link for participants.
    pub participant_url: String,
}

impl CreatedRoom {
    /// The host secret (`k=` of the host link's fragment).
    pub fn host_secret(&self) -> Option<&str> {
        secret_from_url(&self.host_url)
    }

    /// The participant secret.
    pub fn participant_secret(&self) -> Option<&str> {
        secret_from_url(&self.participant_url)
    }
}

/// The `k=` value in a room link's fragment (`…/room/ID#k=SECRET`), if there is one.
pub fn secret_from_url(url: &str) -> Option<&str> {
    let (_, fragment) = url.split_once('#')?;
    fragment
        .split('&')
        .find_map(|kv| kv.strip_prefix("k="))
        .filter(|k| !k.is_empty())
}

/// Creates a room as `options` say. Fails fast with [`HttpError::Connect`] when nothing
/// listens, and with [`HttpError::Timeout`] when the whole exchange takes over `timeout`.
pub async fn create_room(
    server: &ServerUrl,
    options: &RoomOptions,
    timeout: Duration,
) -> Result<CreatedRoom, HttpError> {
    let body = serde_json::to_string(options).expect("room options always serialize");
    let response = tokio::time::timeout(timeout, post(server, "/api/rooms", &body))
        .await
        .map_err(|_| HttpError::Timeout(timeout))??;
    let (status, body) = parse_response(&response)?;
    if status != 201 {
        let body = String::from_utf8_lossy(&body).into_owned();
        return Err(HttpError::Status { status, body });
    }
    Ok(serde_json::from_slice(&body)?)
}

/// Sends one JSON POST and reads the whole response.
async fn post(server: &ServerUrl, path: &str, body: &str) -> Result<Vec<u8>, HttpError> {
    let addr = server.authority();
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|source| HttpError::Connect {
            addr: addr.to_owned(),
            source,
        })?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE as u64)
        .read_to_end(&mut response)
        .await?;
    Ok(response)
}

/// Splits an HTTP/1.x response into status and body, undoing chunked encoding.
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), HttpError> {
    let end = find(raw, b"\r\n\r\n").ok_or(HttpError::BadResponse("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end])
        .map_err(|_| HttpError::BadResponse("headers are not utf-8"))?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::BadResponse("not an http/1 status line"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::BadResponse("no status code"))?;

    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(n) = length {
        body.get(..n)
            .ok_or(HttpError::BadResponse("body shorter than content-length"))?
            .to_vec()
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

/// Decodes a chunked body (RFC 9112, 7.1); trailers are ignored.
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, HttpError> {
    let bad = || HttpError::BadResponse("bad chunked body");
    let mut out = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n").ok_or_else(bad)?;
        let size_line = std::str::from_utf8(&raw[..line_end]).map_err(|_| bad())?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = raw.get(..size).ok_or_else(bad)?;
        out.extend_from_slice(chunk);
        raw = raw.get(size + 2..).ok_or_else(bad)?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        let url = ServerUrl::parse("http://127.0.0.1:8080").expect("valid");
        assert_eq!(url.authority(), "127.0.0.1:8080");
        assert_eq!(url.ws_url(), "ws://127.0.0.1:8080/ws");
        assert_eq!(url.http_base(), "http://127.0.0.1:8080");
        let url = ServerUrl::parse("localhost:9/room/x").expect("valid");
        assert_eq!(url.authority(), "localhost:9");
        let url = ServerUrl::parse("http://[::1]").expect("valid");
        assert_eq!(url.authority(), "[::1]:80");
        let url = ServerUrl::parse("http://[::1]:81/").expect("valid");
        assert_eq!(url.authority(), "[::1]:81");
        for bad in ["", "https://x:1", "http://", "x:port", "http://u@x:1"] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad:?}");
        }
        let addr: SocketAddr = "127.0.0.1:5".parse().expect("addr");
        assert_eq!(ServerUrl::from(addr).ws_url(), "ws://127.0.0.1:5/ws");
    }

    #[test]
    fn secrets_come_from_the_fragment() {
        let url = "http://localhost:8080/room/r8f3#k=5c0b1e";
        assert_eq!(secret_from_url(url), Some("5c0b1e"));
        assert_eq!(secret_from_url("http://h/room/r#x=1&k=ab"), Some("ab"));
        assert_eq!(secret_from_url("http://h/room/r?k=ab"), None);
        assert_eq!(secret_from_url("http://h/room/r#k="), None);
    }

    #[test]
    fn parses_a_content_length_response() {
        let raw = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
                    content-length: 2\r\n\r\n{}trailing";
        let (status, body) = parse_response(raw).expect("parses");
        assert_eq!((status, body.as_slice()), (201, &b"{}"[..]));
    }

    #[test]
    fn parses_a_chunked_response() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n\
                    4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n";
        let (status, body) = parse_response(raw).expect("parses");
        assert_eq!(status, 503);
        assert_eq!(body, b"{\"a\":1}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"hello").is_err());
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
        let truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(parse_response(truncated).is_err());
        let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(parse_response(bad_chunk).is_err());
    }

    #[test]
    fn created_room_gives_both_secrets() {
        let json = r#"{"id": "r1", "title": null, "kind": "meeting",
            "host_url": "http://h/room/r1#k=aa", "participant_url": "http://h/room/r1#k=bb"}"#;
        let room: CreatedRoom = serde_json::from_str(json).expect("parses");
        assert_eq!(room.kind, RoomKind::Meeting);
        assert_eq!(room.host_secret(), Some("aa"));
        assert_eq!(room.participant_secret(), Some("bb"));
    }

    #[test]
    fn room_options_leave_out_what_is_unset() {
        let body = |o: &RoomOptions| serde_json::to_value(o).expect("serializes");
        assert_eq!(body(&RoomOptions::default()), serde_json::json!({}));
        let options = RoomOptions::no_lobby(RoomKind::Class).title("7b");
        let want = serde_json::json!({"title": "7b", "kind": "class", "lobby": false});
        assert_eq!(body(&options), want);
        let lobby = RoomOptions::default().lobby(true);
        assert_eq!(body(&lobby), serde_json::json!({"lobby": true}));
    }
}
