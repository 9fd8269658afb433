//! Who may call what, decided from a request's headers alone: which browser origins may create
//! rooms and open WebSockets, and who may read `/metrics`.
//!
//! A browser tells the server where a page came from in `Origin` on every cross-site request
//! and on every WebSocket handshake; a page elsewhere cannot leave it out or change it. So a
//! request whose `Origin` is not ours came from someone else's page (a site that would start
//! rooms or join classes with the visitor's browser) and is refused. A request without one
//! is not from a page: a script or a bot, which could send any header it likes anyway.

use std::net::SocketAddr;

use axum::http::{HeaderMap, header};

use crate::config::{Config, split_origin};
use crate::registry::constant_time_eq;

/// Whether a request with `headers` may create a room or open a WebSocket: it has no
/// `Origin`, or its origin is this server's (`public_url`'s, or without it the one its `Host`
/// names, if that is a host this server goes by) or one of `allowed_origins`.
pub fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    let allowed = origin_matches(config, headers);
    if !allowed {
        tell_refused_origin(headers);
    }
    allowed
}

/// A refused origin, in the log at most once a minute: behind a proxy whose `Host` or a
/// `public_url` that does not match what browsers use, every page is refused, and the
/// admin needs to see why (a flood of foreign pages must not fill the journal).
fn tell_refused_origin(headers: &HeaderMap) {
    static LAST: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(60)) {
        return;
    }
    *last = Some(std::time::Instant::now());
    let text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    tracing::warn!(
        origin = ?text(header::ORIGIN),
        host = ?text(header::HOST),
        "a page's origin is not this server's (public_url, allowed_origins, allowed_hosts?): refused"
    );
}

fn origin_matches(config: &Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    // `null` (a sandboxed frame, a `file:` page) is nobody's origin.
    let Some(origin) = origin.to_str().ok().and_then(split_origin) else {
        return false;
    };
    let same = |other: &str| split_origin(other).is_some_and(|o| o == origin);
    if config.allowed_origins.iter().any(|o| same(o)) {
        return true;
    }
    match &config.public_url {
        Some(url) => same(origin_of(url)),
        // The page's origin must be the host it asked, and that host one this server goes by
        // (crate::http::known_host): a page of someone else's DNS name pointed at this server
        // (DNS rebinding) has an origin that matches its Host, but not a known one.
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            host.is_some_and(|h| {
                h.eq_ignore_ascii_case(&origin.1) && crate::http::known_host(config, h)
            })
        }
    }
}

/// `https://aula.schule.de` of `https://aula.schule.de/unterricht/`.
pub(crate) fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// Whether a request may read `/metrics`: with `metrics_token` as its bearer token from
/// anywhere; without it only straight from this machine, as a local Prometheus asks. A
/// request a reverse proxy passed on also comes from loopback, but carries the proxy's
/// headers, so a proxy in front of Aula never exposes the metrics.
pub fn metrics_allowed(config: &Config, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if let Some(token) = &config.metrics_token {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|b| constant_time_eq(b.as_bytes(), token.as_bytes())) {
            return true;
        }
    }
    let proxied = [
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-real-ip",
    ]
    .iter()
    .any(|h| headers.contains_key(*h));
    peer.is_some_and(|p| p.ip().is_loopback()) && !proxied
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn origins_are_ours_by_host_by_public_url_or_by_the_list() {
        let mut c = Config {
            allowed_hosts: vec!["aula.schule.de".into(), "aula".into()],
            ..Config::default()
        };
        let same = headers(&[
            ("host", "aula.schule.de"),
            ("origin", "https://aula.schule.de"),
        ]);
        let other = headers(&[
            ("host", "aula.schule.de"),
            ("origin", "https://evil.example"),
        ]);
        let port = headers(&[("host", "aula:8080"), ("origin", "http://aula:8081")]);
        let null = headers(&[("host", "aula.schule.de"), ("origin", "null")]);
        assert!(
            origin_allowed(&c, &headers(&[("host", "x")])),
            "no Origin: not a page"
        );
        assert!(origin_allowed(&c, &same));
        assert!(!origin_allowed(&c, &other));
        assert!(!origin_allowed(&c, &port), "another port is another origin");
        assert!(!origin_allowed(&c, &null));

        let rebound = headers(&[("host", "evil.example"), ("origin", "http://evil.example")]);
        assert!(
            !origin_allowed(&c, &rebound),
            "a page of a stranger's name pointed at us (DNS rebinding)"
        );
        let lan = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(origin_allowed(&c, &lan), "this machine's address");

        c.allowed_origins = vec!["https://EVIL.example/".into()];
        assert!(origin_allowed(&c, &other), "listed");

        c.allowed_origins.clear();
        c.public_url = Some("https://aula.schule.de/unterricht/".into());
        assert!(origin_allowed(&c, &same));
        let proxied = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://aula.schule.de"),
        ]);
        assert!(
            origin_allowed(&c, &proxied),
            "public_url, whatever the proxy's Host"
        );
        let http = headers(&[
            ("host", "aula.schule.de"),
            ("origin", "http://aula.schule.de"),
        ]);
        assert!(!origin_allowed(&c, &http), "the scheme counts");
    }

    #[test]
    fn an_https_page_of_our_own_tls_listener_is_ours() {
        let c = Config {
            domain: vec!["aula.schule.de".into()],
            ..Config::default()
        };
        let tls = headers(&[
            ("host", "aula.schule.de:8443"),
            ("origin", "https://aula.schule.de:8443"),
        ]);
        assert!(origin_allowed(&c, &tls));
        let default_port = headers(&[
            ("host", "aula.schule.de"),
            ("origin", "https://aula.schule.de"),
        ]);
        assert!(origin_allowed(&c, &default_port));
    }

    #[test]
    fn metrics_from_this_machine_or_with_the_token() {
        let mut c = Config::default();
        let local = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        let remote = Some(SocketAddr::from(([192, 0, 2, 7], 5000)));
        let none = HeaderMap::new();
        let via_proxy = headers(&[("x-forwarded-for", "192.0.2.7")]);
        let bearer = headers(&[("authorization", "Bearer s3cret-token")]);
        assert!(metrics_allowed(&c, local, &none));
        assert!(
            !metrics_allowed(&c, local, &via_proxy),
            "a proxy passed it on"
        );
        assert!(!metrics_allowed(&c, remote, &none));
        assert!(!metrics_allowed(&c, remote, &bearer), "no token configured");
        c.metrics_token = Some("s3cret-token".into());
        assert!(metrics_allowed(&c, remote, &bearer));
        let wrong = headers(&[("authorization", "Bearer s3cret-tokeN")]);
        assert!(!metrics_allowed(&c, remote, &wrong));
        assert!(metrics_allowed(&c, local, &none), "still from this machine");
    }
}
