//! The page load of each arrival: before its WebSocket, a person's browser fetches the room
//! page, its stylesheet and every ES module the page imports (the web client has no build
//! step: one request per module), and the page asks `GET /api/rooms/{id}` whether the room
//! is open. A thousand of those in ten seconds are part of the 8 o'clock surge.
//!
//! [`discover`] finds the list once, as a browser would, from the page's `href`/`src` and the
//! modules' `import … from './x.js'`; [`load`] fetches it on one kept-alive connection with
//! `Accept-Encoding: br, gzip`, counting answers by status class. Parsing is pure
//! ([`links`], [`response_head`]) and tested without sockets.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::http::ServerUrl;

/// How long discovering the page's assets may take, and one arrival's whole page load.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);
/// More files than the page has: a loop in the imports must not fetch forever.
const MAX_FILES: usize = 100;

/// Answers by status class, and requests that got none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// 2xx.
    pub ok: u64,
    /// 3xx (a 304 among them would mean a cache; first visits have none).
    pub redirect: u64,
    /// 4xx.
    pub client_error: u64,
    /// 5xx: the server failed a page load.
    pub server_error: u64,
    /// No answer: refused, reset, or the page load's timeout.
    pub no_answer: u64,
}

impl StatusCounts {
    /// Counts one answer.
    pub fn record(&mut self, status: u16) {
        match status {
            200..=299 => self.ok += 1,
            300..=399 => self.redirect += 1,
            400..=499 => self.client_error += 1,
            _ => self.server_error += 1,
        }
    }

    /// Adds another's counts.
    pub fn add(&mut self, other: &StatusCounts) {
        self.ok += other.ok;
        self.redirect += other.redirect;
        self.client_error += other.client_error;
        self.server_error += other.server_error;
        self.no_answer += other.no_answer;
    }
}

/// One arrival's page load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageLoad {
    /// Answers by class.
    pub statuses: StatusCounts,
    /// Body bytes as sent (compressed).
    pub bytes: u64,
    /// From the first request to the last byte.
    pub took: Duration,
}

/// The paths a browser requests for the room page of `room`: the page, what it links, every
/// module imported from there on, and the room check. Fetched uncompressed, once.
pub async fn discover(server: &ServerUrl, room: &str) -> Vec<String> {
    let mut paths = vec![format!("/room/{room}")];
    let mut i = 0;
    while i < paths.len() && paths.len() < MAX_FILES {
        let path = paths[i].clone();
        i += 1;
        let Some((200, body)) = crate::server::get(server, &path, PAGE_TIMEOUT).await else {
            continue;
        };
        for link in links(&path, &String::from_utf8_lossy(&body)) {
            if !paths.contains(&link) {
                paths.push(link);
            }
        }
    }
    paths.push(format!("/api/rooms/{room}"));
    paths
}

/// The same-server files `text` (an HTML page at `path`, or a module) refers to: `href="/…"`
/// and `src="/…"` of a page, and `from './x.js'` / `import './x.js'` of a module, resolved
/// against `path`'s directory. In order of appearance, without repeats.
pub fn links(path: &str, text: &str) -> Vec<String> {
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let mut found = BTreeSet::new();
    let mut out = Vec::new();
    for marker in [
        "href=\"",
        "src=\"",
        "from '",
        "import '",
        "from \"",
        "import \"",
    ] {
        let quote = marker.chars().last().expect("markers end in a quote");
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let Some(end) = rest.find(quote) else {
                continue;
            };
            let target = &rest[..end];
            let resolved = if let Some(rel) = target.strip_prefix("./") {
                format!("{dir}{rel}")
            } else if target.starts_with('/') && !target.starts_with("//") {
                target.to_owned()
            } else {
                continue;
            };
            // Pages link each other (`/help`); a browser loads only what the page needs.
            let asset = resolved.starts_with("/static/");
            if asset && found.insert(resolved.clone()) {
                out.push(resolved);
            }
        }
    }
    out
}

/// Fetches `paths` one after another on one kept-alive connection, as a browser's first
/// visit does, with `Accept-Encoding: br, gzip`. Whatever did not get an answer within
/// [`PAGE_TIMEOUT`] counts as `no_answer`.
pub async fn load(server: &ServerUrl, paths: &[String]) -> PageLoad {
    let start = Instant::now();
    let mut page = PageLoad::default();
    let mut done = 0;
    let _ = tokio::time::timeout(PAGE_TIMEOUT, async {
        let mut conn = None;
        for path in paths {
            if conn.is_none() {
                conn = TcpStream::connect(server.authority())
                    .await
                    .ok()
                    .map(BufReader::new);
            }
            let Some(stream) = conn.as_mut() else {
                return;
            };
            match fetch(stream, server.authority(), path).await {
                Some((status, bytes, keep)) => {
                    page.statuses.record(status);
                    page.bytes += bytes;
                    if !keep {
                        conn = None;
                    }
                }
                None => {
                    page.statuses.no_answer += 1;
                    conn = None;
                }
            }
            done += 1;
        }
    })
    .await;
    page.statuses.no_answer += (paths.len() - done) as u64;
    page.took = start.elapsed();
    page
}

/// One GET on a kept-alive connection: its status, body bytes, and whether the connection
/// may carry the next.
async fn fetch(
    stream: &mut BufReader<TcpStream>,
    host: &str,
    path: &str,
) -> Option<(u16, u64, bool)> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nAccept-Encoding: br, gzip\r\n\
         User-Agent: aula-loadtest\r\n\r\n"
    );
    stream.get_mut().write_all(request.as_bytes()).await.ok()?;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let (status, length, keep) = response_head(&head)?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((status, length as u64, keep))
}

/// Status, `Content-Length` and whether the connection stays open, from a response's head;
/// `None` for one this client cannot read on a kept-alive connection (no length).
pub fn response_head(head: &str) -> Option<(u16, usize, bool)> {
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut length = None;
    let mut keep = true;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            keep = !value.eq_ignore_ascii_case("close");
        }
    }
    // A 304 has no body and may leave the length out.
    let length = if status == 304 {
        length.unwrap_or(0)
    } else {
        length?
    };
    Some((status, length, keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_links_its_stylesheet_and_module_not_other_pages() {
        let html = r#"<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/style.css">
            <script type="module" src="/static/room.js"></script><a href="/help">Help</a>"#;
        assert_eq!(
            links("/room/r1", html),
            ["/static/style.css", "/static/room.js"]
        );
    }

    #[test]
    fn modules_import_relative_to_themselves_once_each() {
        let js = "import { t } from './i18n.js';\nimport { $ } from './ui.js';\n\
                  import './i18n.js';\nimport x from \"https://cdn.example/x.js\";";
        assert_eq!(
            links("/static/room.js", js),
            ["/static/i18n.js", "/static/ui.js"]
        );
    }

    #[test]
    fn heads_give_status_length_and_keep_alive() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 512\r\n";
        assert_eq!(response_head(ok), Some((200, 512, true)));
        let close =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n";
        assert_eq!(response_head(close), Some((503, 2, false)));
        assert_eq!(
            response_head("HTTP/1.1 304 Not Modified\r\n"),
            Some((304, 0, true))
        );
        assert_eq!(
            response_head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"),
            None
        );
        assert_eq!(response_head("garbage"), None);
    }

    #[test]
    fn status_classes_are_counted_apart() {
        let mut c = StatusCounts::default();
        for s in [200, 200, 304, 404, 500, 503] {
            c.record(s);
        }
        c.no_answer += 1;
        let mut all = StatusCounts::default();
        all.add(&c);
        all.add(&c);
        assert_eq!((all.ok, all.redirect, all.client_error), (4, 2, 2));
        assert_eq!((all.server_error, all.no_answer), (4, 2));
    }
}
