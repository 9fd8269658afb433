//! The web client's pages and assets, embedded and compressed at build time (build.rs), served
//! from memory: brotli or gzip as the browser accepts, an ETag per file, and `304 Not
//! Modified` for a browser that has the file already. A thousand page loads in ten seconds
//! cost a lookup and a copy each.
//!
//! The pages link their scripts and styles under `/static/v-<VERSION>/`, a path that names
//! this build's assets: a browser keeps those for good and asks again only for the page, so a
//! reload (or the next lesson) costs one request instead of thirty revalidations, and the
//! page lists its whole module graph (`modulepreload`) so a first visit fetches it in one
//! round. A new binary has a new version, so its pages load its files.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub(crate) struct Asset {
    pub path: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
    /// A hash of `body`: changes with the file, i.e. with the binary.
    pub etag: &'static str,
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// A hash of every script and style of this build: the `v-…` in the pages' links.
pub(crate) const VERSION: &str = include!(concat!(env!("OUT_DIR"), "/version.rs"));

/// How long a browser keeps a file under this build's version: a year, never asking again.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `path` under `/static/`, and whether it is this build's versioned (for-good) address. A
/// page of an older build asking for its version gets today's file, revalidated as ever.
pub(crate) fn unversioned(path: &str) -> (&str, bool) {
    match path
        .strip_prefix("v-")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((version, file)) => (file, version == VERSION),
        None => (path, false),
    }
}

pub(crate) fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Whether the request's `Accept-Encoding` takes `coding` (a `q=0` refuses it).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let name = params.next().unwrap_or("");
        let refused = params.any(|p| p.replace(' ', "") == "q=0" || p == "q=0.0");
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

/// The response for `asset` to a request with `headers`; `immutable`: asked for under this
/// build's version, so the browser may keep it for good.
pub(crate) fn respond(asset: &'static Asset, headers: &HeaderMap, immutable: bool) -> Response {
    let (body, coding) = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts(headers, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(headers, "gzip") => (gz, Some("gzip")),
        _ => (asset.body, None),
    };
    // One ETag per representation (RFC 9110 8.8.3): a cache must not hand gzip to a browser
    // that asked for brotli.
    let etag = match coding {
        Some(c) => format!("\"{}-{c}\"", asset.etag),
        None => format!("\"{}\"", asset.etag),
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(mime(asset.path)),
        );
        if let Some(c) = coding {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(c));
        }
        r
    };
    let h = response.headers_mut();
    // Unversioned, the assets change with the binary: a browser asks again each time (cheap:
    // a 304).
    let cache = if immutable { IMMUTABLE } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn every_page_and_asset_is_embedded_and_text_is_compressed() {
        for name in [
            "index.html",
            "room.html",
            "help.html",
            "setup.html",
            "404.html",
            "style.css",
            "call.js",
        ] {
            let a = find(name).unwrap_or_else(|| panic!("{name} missing"));
            let br = a.brotli.expect("brotli");
            let gz = a.gzip.expect("gzip");
            assert!(br.len() < a.body.len() && gz.len() < a.body.len(), "{name}");
        }
    }

    #[test]
    fn the_browser_gets_what_it_accepts_and_a_304_for_what_it_has() {
        let a = find("call.js").unwrap();
        let br = respond(
            a,
            &request(&[("accept-encoding", "gzip, deflate, br, zstd")]),
            false,
        );
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        let gz = respond(
            a,
            &request(&[("accept-encoding", "gzip;q=1.0, br;q=0")]),
            false,
        );
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = respond(a, &HeaderMap::new(), false);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let etag = br.headers()[header::ETAG].to_str().unwrap().to_string();
        assert_ne!(etag, plain.headers()[header::ETAG].to_str().unwrap());
        let again = respond(
            a,
            &request(&[("accept-encoding", "br"), ("if-none-match", &etag)]),
            false,
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        // The brotli tag does not validate the uncompressed file.
        let other = respond(a, &request(&[("if-none-match", &etag)]), false);
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn pages_link_this_builds_assets_for_good_and_preload_their_modules() {
        let page = std::str::from_utf8(find("room.html").unwrap().body).unwrap();
        let prefix = format!("/static/v-{VERSION}/");
        assert!(!page.contains("\"/static/style.css"), "{page}");
        assert!(page.contains(&format!("<script type=\"module\" src=\"{prefix}room.js\">")));
        // The whole graph: room.js imports call.js, which imports rtc.js, which imports publish.js.
        for module in ["call.js", "rtc.js", "publish.js", "i18n.js"] {
            let link = format!("<link rel=\"modulepreload\" href=\"{prefix}{module}\">");
            assert!(page.contains(&link), "no {link} in room.html");
        }
        assert!(!page.contains(&format!("modulepreload\" href=\"{prefix}room.js")));

        let versioned = format!("v-{VERSION}/call.js");
        assert_eq!(unversioned(&versioned), ("call.js", true));
        assert_eq!(
            unversioned("v-0123456789abcdef/call.js"),
            ("call.js", false)
        );
        assert_eq!(unversioned("call.js"), ("call.js", false));
        let kept = respond(find("call.js").unwrap(), &HeaderMap::new(), true);
        assert_eq!(kept.headers()[header::CACHE_CONTROL], IMMUTABLE);
        let asked = respond(find("call.js").unwrap(), &HeaderMap::new(), false);
        assert_eq!(asked.headers()[header::CACHE_CONTROL], "no-cache");
    }
}
