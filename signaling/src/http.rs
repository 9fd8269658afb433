//! HTTP routes: the pages and assets of the web client (embedded in the binary), the REST call
//! that creates a room, health and metrics, and the WebSocket upgrade.

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::config::RoomCreation;
use tokio::time::Instant;

use crate::addresses::Refusal;
use crate::protocol::{MAX_MESSAGE_BYTES, RoomKind, Settings};
use crate::registry::{Counters, NewRoom};
use crate::room::RoomLimits;
use crate::{AppState, assets, guard, staff};

/// Longest room title, in Unicode scalar values.
const MAX_TITLE_CHARS: usize = 80;

/// The largest request body any route reads (`413` beyond).
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Pages may load only from this server: no CDN, no fonts, no trackers, ever.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { asset_response("index.html", &h) }),
        )
        .route(
            "/room/{id}",
            get(|h: HeaderMap| async move { asset_response("room.html", &h) }),
        )
        .route(
            "/help",
            get(|h: HeaderMap| async move { asset_response("help.html", &h) }),
        )
        .route(
            "/setup",
            get(|h: HeaderMap| async move { asset_response("setup.html", &h) }),
        )
        .route("/static/{*path}", get(asset))
        .route("/api/staff", get(staff::routes::status))
        .route("/api/staff/sign-in", post(staff::routes::sign_in))
        .route("/api/staff/sign-out", post(staff::routes::sign_out))
        .route("/api/staff/setup", post(staff::routes::setup))
        .route("/api/rooms", post(create_room))
        .route("/api/rooms/{id}", get(room_info))
        .route(
            "/api/rooms/{id}/bandwidth",
            get(crate::bandwidth::room_bandwidth),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/ws", get(websocket))
        .fallback(not_found)
        // The largest body any route takes is a few hundred bytes (a sign-in, a new room);
        // axum's default, 2 MB, held per connection, is memory a flood could take.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline,
        ))
        .layer(axum::middleware::map_response(secure))
        .with_state(state)
}

/// HSTS, on responses over TLS only: a browser that has seen it goes to `https://` by itself
/// for a year, even when a link or a typed address says `http://` (no first plain request
/// for someone on the school Wi-Fi to tamper with). No `includeSubDomains`: Aula may be served
/// at a school's own domain, whose other hosts (an intranet, a printer, a NAS) may not speak
/// HTTPS, and browsers would refuse them for a year. No `preload` either: that is a decision
/// for the domain's owner, not for one service on it.
const HSTS: &str = "max-age=31536000";

/// Marks a request as having come over TLS (the HTTPS listener's router adds it).
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// `app` as the HTTPS listener serves it: requests marked [`OverTls`] (links are built with
/// `https`), responses with HSTS.
pub fn over_tls(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(
        |mut request: axum::extract::Request, next: axum::middleware::Next| async move {
            request.extensions_mut().insert(OverTls);
            let mut response = next.run(request).await;
            let hsts = HeaderValue::from_static(HSTS);
            response
                .headers_mut()
                .insert(header::STRICT_TRANSPORT_SECURITY, hsts);
            response
        },
    ))
}

/// What plain HTTP serves while TLS is on: `/healthz` and `/metrics` as before (a monitor or
/// a local Prometheus need no certificate; metrics stay guarded), and for everything else a
/// `308` to the same path and query over HTTPS, on `https_port`, under the name the request
/// used; with `domain` set, a name the certificate is not for (the server's IP address, a
/// local alias) is sent to the first domain instead, where the certificate holds.
pub fn redirect_router(state: AppState, https_port: u16) -> Router {
    let domains = state.config.domain.clone();
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(crate::metrics::metrics))
        .fallback(move |headers: HeaderMap, uri: axum::http::Uri| async move {
            let host = redirect_host(host_name(&headers), &domains);
            let port = match https_port {
                443 => String::new(),
                p => format!(":{p}"),
            };
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let location = format!("https://{host}{port}{path}");
            match HeaderValue::try_from(location) {
                Ok(to) => {
                    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response()
                }
                Err(_) => (StatusCode::BAD_REQUEST, "bad request").into_response(),
            }
        })
        .layer(axum::middleware::map_response(secure))
        .with_state(state)
}

/// Where a plain request is sent: its own host if the certificate is for it (or no domain is
/// configured, files serve any name), else the first domain.
fn redirect_host<'a>(requested: Option<&'a str>, domains: &'a [String]) -> &'a str {
    let covered = |h: &str| domains.iter().any(|d| d.eq_ignore_ascii_case(h));
    match (requested, domains.first()) {
        (Some(host), None) => host,
        (Some(host), Some(_)) if covered(host) => host,
        (_, Some(first)) => first,
        (None, None) => "localhost",
    }
}

/// The host name of the request's `Host` header, without its port; `None` if it has none or
/// holds anything but a host name or address.
fn host_name(headers: &HeaderMap) -> Option<&str> {
    let host = valid_host(headers)?;
    let name = match host.strip_prefix('[') {
        Some(v6) => &host[..v6.find(']')? + 2],
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    Some(name).filter(|n| !n.is_empty())
}

/// The `Host` header if it holds only what a host and port may.
fn valid_host(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let valid = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    Some(host).filter(|h| !h.is_empty() && h.chars().all(valid))
}

/// A response within [`crate::serve::RESPONSE_TIMEOUT`] of the request's headers, however
/// slowly its body arrives: `408` then.
async fn deadline(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(crate::serve::RESPONSE_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            Counters::bump(&state.registry.counters.requests_timed_out);
            let message = "the request did not arrive in time";
            api_error(StatusCode::REQUEST_TIMEOUT, "timeout", message)
        }
    }
}

/// What the browser may do with anything this server sends, pages under `/static/`, errors
/// and API answers included: load nothing from elsewhere, be framed by nobody (older browsers
/// read `X-Frame-Options`), send no referrer, take no content type for another, and use the
/// camera, microphone and screen capture for this site only and nothing else a page could ask
/// for (geolocation, payment, USB…); and a page of another site that opened one of ours (or that
/// ours opened) gets no handle on it (`Cross-Origin-Opener-Policy`).
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert("permissions-policy", HeaderValue::from_static(PERMISSIONS));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The browser features the client uses, for this site only; every other one off.
/// (Only features both Chromium and Firefox know: an unknown one is a console error.)
const PERMISSIONS: &str = "camera=(self), microphone=(self), display-capture=(self), \
    fullscreen=(self), autoplay=(self), geolocation=(), payment=(), usb=(), midi=(), \
    accelerometer=(), gyroscope=(), magnetometer=()";

/// An address we do not have: a page saying so with the way to the start page (a mistyped
/// or cut-off link), or for the API a JSON error like every other.
async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    if uri.path().starts_with("/api/") {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no such API call",
        );
    }
    // Only the encoding is negotiated: a 404 is never a 304.
    let mut plain = HeaderMap::new();
    if let Some(accept) = headers.get(header::ACCEPT_ENCODING) {
        plain.insert(header::ACCEPT_ENCODING, accept.clone());
    }
    let mut response = asset_response("404.html", &plain);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (file, immutable) = assets::unversioned(&path);
    match assets::find(file) {
        Some(asset) => assets::respond(asset, &headers, immutable),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// A page: always revalidated (it names this build's assets).
fn asset_response(path: &str, headers: &HeaderMap) -> Response {
    match assets::find(path) {
        Some(asset) => assets::respond(asset, headers, false),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRoom {
    #[serde(default)]
    title: String,
    #[serde(default)]
    kind: RoomKind,
    /// Overrides the kind's default for the waiting room.
    lobby: Option<bool>,
}

#[derive(Debug, Serialize)]
struct RoomCreated {
    id: String,
    title: String,
    kind: RoomKind,
    host_url: String,
    participant_url: String,
    /// For the creator's own browser only: presented with a host-link `join`, it makes that
    /// page the room's lead (docs/protocol.md).
    creator_key: String,
}

#[derive(Debug, Serialize)]
struct ApiError {
    code: &'static str,
    message: String,
}

pub(crate) fn api_error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    let body = ApiError {
        code,
        message: message.into(),
    };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // An API client waits and asks again (the page does so by itself).
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::admission::RETRY_AFTER_SECS),
        );
    }
    response
}

/// `429` with `Retry-After` for a request beyond its address's cap (crate::addresses).
fn address_refused(state: &AppState, refusal: Refusal, code: &'static str) -> Response {
    state.registry.counters.address_refused(refusal);
    tracing::debug!(cap = refusal.cap(), "refused for its address's cap");
    let message = format!("{refusal}; try again later");
    let mut response = api_error(StatusCode::TOO_MANY_REQUESTS, code, message);
    let retry = state.addresses.retry_after(refusal);
    (response.headers_mut()).insert(header::RETRY_AFTER, HeaderValue::from(retry));
    response
}

/// A POST that changes something comes as JSON from our own pages: a page elsewhere can post
/// a form or `text/plain` without asking, but must ask first (a CORS preflight this server
/// never grants) to post JSON; and a browser says in `Origin` which page it posts from.
/// `Some(refusal)` otherwise.
pub(crate) fn refuse_foreign_post(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        let message = "send the request as Content-Type: application/json";
        return Some(api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
            message,
        ));
    }
    if !guard::origin_allowed(&state.config, headers) {
        Counters::bump(&state.registry.counters.origins_refused);
        let message = "only this server's own pages may do this";
        return Some(api_error(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            message,
        ));
    }
    None
}

/// Whether the browser reached us over HTTPS: we serve it ourselves (the plain listener then
/// only redirects), `public_url` says so, or the reverse proxy on this machine did
/// (`X-Forwarded-Proto`).
pub(crate) fn served_over_https(config: &crate::Config, headers: &HeaderMap) -> bool {
    if config.tls() {
        return true;
    }
    if let Some(url) = &config.public_url {
        return url.starts_with("https://");
    }
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

async fn create_room(
    State(state): State<AppState>,
    over_tls: Option<Extension<OverTls>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = refuse_foreign_post(&state, &headers) {
        return refusal;
    }
    if state.staff.mode == RoomCreation::Staff
        && staff::routes::signed_in(&state, &headers).is_none()
    {
        Counters::bump(&state.staff.counters.rooms_refused);
        let message = "sign in as staff to start a class or meeting";
        return api_error(StatusCode::UNAUTHORIZED, "sign_in_required", message);
    }
    let request: CreateRoom = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRoom::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return api_error(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
        }
    };
    let title = request.title.trim().to_string();
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        let message = format!("the title must be at most {MAX_TITLE_CHARS} printable characters");
        return api_error(StatusCode::BAD_REQUEST, "bad_request", message);
    }
    // The links first: a room nobody can be sent to is not created.
    let known = KnownHosts {
        allowed: &state.config.allowed_hosts,
        domains: &state.config.domain,
        local: local_ips(),
    };
    let configured = state.config.public_url.as_deref();
    let base = match base_url(configured, over_tls.is_some(), &known, &headers) {
        Ok(base) => base,
        Err(e) => {
            Counters::bump(&state.registry.counters.hosts_refused);
            tracing::warn!(error = %e, "room creation refused: no address to build its links from");
            let message = format!(
                "{e}: this server builds a room's links from public_url, or from the address \
                 a page was opened at if it is this machine's IP, localhost or one of \
                 allowed_hosts; the administrator should set public_url"
            );
            return api_error(StatusCode::MISDIRECTED_REQUEST, "unknown_host", message);
        }
    };
    let addr = client_addr(peer.map(|Extension(ConnectInfo(a))| a), &headers);
    let hold = match state.addresses.handle_room(addr, Instant::now()) {
        Ok(hold) => hold,
        Err(refusal) => return address_refused(&state, refusal, "too_many_rooms"),
    };
    let limits = RoomLimits {
        max_participants: state.config.max_participants_per_room,
        empty_grace: state.config.empty_room_grace(),
        unused_ttl: state.config.unused_room_ttl(),
        resume_grace: state.config.resume_grace(),
        unload_grace: state.config.unload_grace(),
        lobby_per_address: state.config.lobby_per_address,
        turn: state.turn.clone(),
    };
    let mut settings = Settings::for_kind(request.kind);
    if let Some(lobby) = request.lobby {
        settings.lobby = lobby;
    }
    let new = NewRoom {
        title,
        kind: request.kind,
        settings,
        owner: hold,
    };
    let created = (state.registry).create(new, limits, state.sfu.clone(), state.stop.clone());
    let (id, entry) = match created {
        Ok(r) => r,
        Err(e) => {
            return api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                e.to_string(),
            );
        }
    };
    tracing::info!(room = %id, "room created");
    let link = |secret: &str| format!("{base}/room/{id}#k={secret}");
    let body = RoomCreated {
        id: id.to_string(),
        title: entry.title.to_string(),
        kind: entry.kind,
        host_url: link(entry.host_secret.as_str()),
        participant_url: link(entry.participant_secret.as_str()),
        creator_key: entry.creator_key.as_str().to_string(),
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

#[derive(Debug, Serialize)]
struct RoomPublicInfo {
    id: String,
    title: String,
    kind: RoomKind,
}

/// What anyone with a link may know before joining: that the room exists, and its title.
async fn room_info(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.registry.get(&id) {
        Some(entry) => {
            let title = entry.title.to_string();
            let kind = entry.kind;
            Json(RoomPublicInfo { id, title, kind }).into_response()
        }
        None => api_error(
            StatusCode::NOT_FOUND,
            "unknown_room",
            "this room has ended or never existed",
        ),
    }
}

/// Why no links can be built for a request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the request names no host")]
    NoHost,
    #[error("this server does not go by {0:?}: set public_url (or allowed_hosts)")]
    UnknownHost(String),
}

/// The URL people reach Aula by: `public_url`, or else the host the request names (through a
/// proxy: the browser's), if it is one of `allowed`, a `domain` we have a certificate for,
/// `localhost`, or an IP address of this machine (`local`): a LAN address or a test run
/// needs no setting, and a request naming a host nobody configured cannot put that name in a
/// class's links. `https` over our own TLS, or when the proxy says the browser used it.
fn base_url(
    configured: Option<&str>,
    over_tls: bool,
    known: &KnownHosts,
    headers: &HeaderMap,
) -> Result<String, LinkError> {
    if let Some(url) = configured {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let host = valid_host(headers).ok_or(LinkError::NoHost)?;
    if !known.contains(bare_host(host)) {
        return Err(LinkError::UnknownHost(host.to_string()));
    }
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok());
    let scheme = match (over_tls, forwarded) {
        (true, _) | (false, Some("https")) => "https",
        _ => "http",
    };
    Ok(format!("{scheme}://{host}"))
}

/// The host of a `Host` header without its port and brackets: `aula.de`, `10.0.0.5`, `::1`.
fn bare_host(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether `host` (a `Host` header) names this server, `public_url` aside: one of
/// `allowed_hosts` or `domain`, `localhost`, or an IP address of this machine.
pub(crate) fn known_host(config: &crate::Config, host: &str) -> bool {
    let known = KnownHosts {
        allowed: &config.allowed_hosts,
        domains: &config.domain,
        local: local_ips(),
    };
    known.contains(bare_host(host))
}

/// The names a room's links may be built from without `public_url`.
struct KnownHosts<'a> {
    /// `allowed_hosts`.
    allowed: &'a [String],
    /// `domain`: the names we get a certificate for are ours.
    domains: &'a [String],
    /// This machine's IP addresses.
    local: Vec<IpAddr>,
}

impl KnownHosts<'_> {
    fn contains(&self, name: &str) -> bool {
        host_known(name, self.allowed, &self.local)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
    }
}

fn host_known(name: &str, allowed: &[String], local: &[IpAddr]) -> bool {
    let ip = name.parse::<IpAddr>().ok();
    ip.is_some_and(|ip| ip.is_loopback() || local.contains(&ip))
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| {
            let a = a.trim_start_matches('[').trim_end_matches(']');
            a.eq_ignore_ascii_case(name)
        })
}

/// This machine's IP addresses, looked up now (a laptop's change as it moves).
fn local_ips() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .map(|ifs| ifs.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default()
}

async fn websocket(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !guard::origin_allowed(&state.config, &headers) {
        Counters::bump(&state.registry.counters.origins_refused);
        let message = "only this server's own pages may connect";
        return api_error(StatusCode::FORBIDDEN, "forbidden_origin", message);
    }
    let addr = client_addr(peer.map(|Extension(ConnectInfo(a))| a), &headers);
    let hold = match state.addresses.handle_socket(addr, Instant::now()) {
        Ok(hold) => hold,
        Err(refusal) => return address_refused(&state, refusal, "too_many_connections"),
    };
    // The library's hard cap sits above the protocol's 64 KiB so that an oversized message
    // still arrives whole and gets a proper `too_large` error before the close. Its read
    // buffer of 128 KiB by default, zeroed as it is read into, stays resident for the life of
    // every socket; signaling messages are mostly far under 1 KiB, and a larger one gets room
    // for its whole frame when its header arrives, which goes with the message
    // (vendor/tungstenite/AULA.md), as does the write buffer's room for a large offer.
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(4 * MAX_MESSAGE_BYTES)
        .max_frame_size(4 * MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| crate::ws::run(socket, state, addr, hold))
}

/// What one read of a signaling socket takes at most (see [`websocket`]).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// The address a request came from: the connection's, or, from a reverse proxy on this
/// machine (a loopback peer), the last address it put in `X-Forwarded-For`. Nobody else can
/// choose the address they are counted under.
pub(crate) fn client_addr(peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |p| p.ip());
    if !peer.is_loopback() {
        return peer;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_counted_under_its_own_address_or_its_local_proxys_word() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.7"),
        );
        let far: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(client_addr(Some(far), &headers), far.ip(), "not a proxy");
        assert_eq!(
            client_addr(Some(local), &headers),
            "10.0.0.7".parse::<IpAddr>().unwrap(),
            "the proxy's own entry, not one the client wrote"
        );
        assert_eq!(client_addr(Some(local), &HeaderMap::new()), local.ip());
    }

    fn host(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(value));
        h
    }

    fn known<'a>(allowed: &'a [String], domains: &'a [String], local: &[IpAddr]) -> KnownHosts<'a> {
        KnownHosts {
            allowed,
            domains,
            local: local.to_vec(),
        }
    }

    #[test]
    fn base_url_prefers_config_then_an_allowed_forwarded_host() {
        let allowed = ["aula.schule.de".to_string()];
        let k = known(&allowed, &[], &[]);
        let mut h = host("aula.schule.de");
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(
            base_url(None, false, &k, &h).unwrap(),
            "https://aula.schule.de"
        );
        assert_eq!(
            base_url(Some("https://x.de/"), false, &known(&[], &[], &[]), &h).unwrap(),
            "https://x.de",
            "public_url, whatever the Host"
        );
        let h = host("AULA.Schule.de:8443");
        assert_eq!(
            base_url(None, false, &k, &h).unwrap(),
            "http://AULA.Schule.de:8443"
        );
    }

    #[test]
    fn over_our_own_tls_links_are_https_and_our_domains_are_known() {
        let domains = ["aula.schule.de".to_string()];
        let k = known(&[], &domains, &[]);
        let h = host("aula.schule.de:8443");
        assert_eq!(
            base_url(None, true, &k, &h).unwrap(),
            "https://aula.schule.de:8443"
        );
        assert_eq!(
            base_url(None, false, &k, &h).unwrap(),
            "http://aula.schule.de:8443",
            "plain HTTP without a proxy's word stays http"
        );
        assert_eq!(
            base_url(None, true, &k, &host("other.de")),
            Err(LinkError::UnknownHost("other.de".into()))
        );
    }

    #[test]
    fn the_redirect_keeps_the_host_name_and_drops_its_port() {
        let host = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static(v));
            host_name(&h).map(str::to_string)
        };
        assert_eq!(host("aula.schule.de:80").as_deref(), Some("aula.schule.de"));
        assert_eq!(host("aula.schule.de").as_deref(), Some("aula.schule.de"));
        assert_eq!(host("[::1]:8080").as_deref(), Some("[::1]"));
        assert_eq!(host("evil.de/x"), None);
        assert_eq!(host(":80"), None);
    }

    #[test]
    fn the_redirect_goes_to_a_name_the_certificate_is_for() {
        let domains = ["aula.schule.de".to_string()];
        assert_eq!(
            redirect_host(Some("AULA.schule.de"), &domains),
            "AULA.schule.de"
        );
        assert_eq!(redirect_host(Some("192.0.2.7"), &domains), "aula.schule.de");
        assert_eq!(redirect_host(None, &domains), "aula.schule.de");
        assert_eq!(
            redirect_host(Some("aula.lan"), &[]),
            "aula.lan",
            "files: any name"
        );
        assert_eq!(redirect_host(None, &[]), "localhost");
    }

    #[test]
    fn base_url_refuses_hosts_nobody_configured() {
        let allowed = ["aula.schule.de".to_string()];
        let k = known(&allowed, &[], &[]);
        for refused in [
            "evil.de",
            "aula.schule.de.evil.de",
            "10.9.9.9:8080",
            "[2001:db8::9]",
        ] {
            let h = HeaderMap::from_iter([(header::HOST, HeaderValue::from_str(refused).unwrap())]);
            assert_eq!(
                base_url(None, false, &k, &h),
                Err(LinkError::UnknownHost(refused.into())),
                "{refused}"
            );
        }
        let bad = host("evil.de/<script>");
        assert_eq!(base_url(None, false, &k, &bad), Err(LinkError::NoHost));
        assert_eq!(
            base_url(None, false, &k, &HeaderMap::new()),
            Err(LinkError::NoHost)
        );
    }

    #[test]
    fn base_url_takes_this_machines_addresses_and_localhost_without_config() {
        let local: [IpAddr; 2] = ["192.168.1.20".parse().unwrap(), "fd00::20".parse().unwrap()];
        let k = known(&[], &[], &local);
        for ok in [
            "192.168.1.20:8080",
            "[fd00::20]:8080",
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:8080",
            "[::1]:8080",
        ] {
            let h = HeaderMap::from_iter([(header::HOST, HeaderValue::from_str(ok).unwrap())]);
            assert_eq!(
                base_url(None, false, &k, &h).unwrap(),
                format!("http://{ok}")
            );
        }
    }
}
