//! Staff sign-in over HTTP as the start page does it.

use std::net::SocketAddr;
use std::path::PathBuf;

use aula_signaling::config::RoomCreation;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An answer: status, headers (lowercase names), body as JSON (Null if none).
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }

    /// `aula_staff=TOKEN` of the Set-Cookie header, for the next request's Cookie.
    pub fn cookie(&self) -> String {
        let set = self.header("set-cookie").expect("a cookie is set");
        set.split(';').next().unwrap().to_string()
    }
}

/// A request as the start page sends it: JSON, from our own origin, with `cookie`.
pub async fn call(addr: SocketAddr, method: &str, path: &str, cookie: &str, body: Value) -> Answer {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n{cookie}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

pub fn staff_config(accounts_file: PathBuf) -> aula_signaling::Config {
    aula_signaling::Config {
        room_creation: RoomCreation::Staff,
        accounts_file,
        ..aula_signaling::Config::for_tests()
    }
}
