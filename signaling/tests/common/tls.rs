//! HTTPS for the tests: a test CA and certificates it signs, and a raw HTTP/1.1 client over
//! TLS that keeps the response's headers (HSTS, `Location`) and the server's certificate.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A CA made for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        (params.distinguished_name).push(DnType::CommonName, "Aula test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf for `names`: its certificate and key, PEM.
    pub fn leaf(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let key = KeyPair::generate().unwrap();
        let cert = (CertificateParams::new(names).unwrap())
            .signed_by(&key, &self.issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A TLS client trusting only the roots in `roots_pem`.
pub fn connector(roots_pem: &str) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(roots_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `addr`, verified for `name`.
pub async fn connect(
    tls: &TlsConnector,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string()).unwrap();
    tls.connect(name, tcp).await
}

/// A response: status, headers (names lowercase), body, and the certificate the server
/// showed (when over TLS).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer_cert: Option<CertificateDer<'static>>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over TLS to `addr` with `Host: host` (and SNI for its name).
pub async fn get(tls: &TlsConnector, addr: SocketAddr, host: &str, path: &str) -> Response {
    try_get(tls, addr, host, path).await.expect("TLS handshake")
}

/// [`get`], or the error of a handshake that failed.
pub async fn try_get(
    tls: &TlsConnector,
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> std::io::Result<Response> {
    let name = host.split(':').next().unwrap();
    let mut stream = connect(tls, addr, name).await?;
    let peer_cert = (stream.get_ref().1.peer_certificates())
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned());
    let mut response = exchange(&mut stream, host, path).await;
    response.peer_cert = peer_cert;
    Ok(response)
}

/// `GET path` in plain HTTP.
pub async fn get_plain(addr: SocketAddr, host: &str, path: &str) -> Response {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    exchange(&mut tcp, host, path).await
}

async fn exchange(
    io: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin),
    host: &str,
    path: &str,
) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    io.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A peer that closes without TLS close_notify still sent a whole response.
    let _ = io.read_to_end(&mut raw).await;
    let (status, body) = aula_loadtest::http::parse_response(&raw).expect("an HTTP response");
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap();
    let headers = (head.split("\r\n").skip(1))
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body,
        peer_cert: None,
    }
}

/// The name to ask for in SNI: `host` without its port.
fn sni(host: &str) -> &str {
    host.split(':').next().unwrap()
}

/// `POST /api/rooms` over TLS as a page of `host` would (its https Origin): the `201` body.
pub async fn create_room(tls: &TlsConnector, addr: SocketAddr, host: &str) -> Value {
    let mut stream = connect(tls, addr, sni(host)).await.unwrap();
    let body = json!({"kind": "class", "lobby": false}).to_string();
    let request = format!(
        "POST /api/rooms HTTP/1.1\r\nHost: {host}\r\nOrigin: https://{host}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let (status, body) = aula_loadtest::http::parse_response(&raw).unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Opens `/ws` over TLS as a page of this server would (its https Origin) and joins.
pub async fn wss_join(tls: &TlsConnector, addr: SocketAddr, host: &str, room: &Value) -> Value {
    let stream = connect(tls, addr, sni(host)).await.unwrap();
    let mut request = format!("wss://{host}/ws").into_client_request().unwrap();
    let origin = format!("https://{host}").parse().unwrap();
    request.headers_mut().insert("origin", origin);
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("wss upgrade");
    let url = room["participant_url"].as_str().unwrap();
    let secret = url.split("#k=").nth(1).unwrap();
    let join =
        json!({"type": "join", "v": 1, "room": room["id"], "secret": secret, "name": "Anna"});
    ws.send(Message::text(join.to_string())).await.unwrap();
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await;
        match next.expect("an answer").expect("open").expect("a message") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            _ => continue,
        }
    }
}
