//! Compresses the web client at build time: every page and asset is embedded three times
//! (as is, gzip, brotli), with an ETag, so that a thousand page loads at 8 o'clock cost the
//! server a table lookup and a copy each, never a compression (docs/architecture.md,
//! "The front door").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Files worth compressing; images are compressed already.
fn compressible(name: &str) -> bool {
    matches!(
        name.rsplit('.').next(),
        Some("html" | "js" | "mjs" | "css" | "svg" | "json" | "txt")
    )
}

fn files(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("web-client/static is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files(&path, &format!("{prefix}{name}/"), out);
        } else {
            out.push((format!("{prefix}{name}"), path));
        }
    }
}

/// A hash of `bytes`, as 16 hex digits.
fn hash_hex(bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The modules `source` imports statically (`from './x.js'`, `import './x.js'`), as names in
/// the same directory: every import of the client is one of those.
fn imports(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["from './", "import './"] {
        let mut rest = source;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            if let Some(end) = rest.find('\'') {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

/// An HTML page as served: its `/static/` links carry the version (a path the browser may keep
/// for good), and its module's whole import graph is announced with `modulepreload`, so that
/// the browser fetches it in one round instead of one round per level of imports.
fn versioned_page(html: &str, version: &str, modules: &BTreeMap<String, String>) -> String {
    let prefix = format!("/static/v-{version}/");
    let mut page = html.replace("\"/static/", &format!("\"{prefix}"));
    let tag = format!("<script type=\"module\" src=\"{prefix}");
    let Some(at) = page.find(&tag) else {
        return page;
    };
    let start = at + tag.len();
    let entry = page[start..start + page[start..].find('"').unwrap()].to_string();
    let mut seen = BTreeSet::new();
    let mut todo = vec![entry.clone()];
    while let Some(module) = todo.pop() {
        let source = modules
            .get(&module)
            .unwrap_or_else(|| panic!("{module} is imported but not in web-client/static"));
        for next in imports(source) {
            if next != entry && seen.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    let line_end = start + page[start..].find('\n').unwrap() + 1;
    let links: String = seen
        .iter()
        .map(|m| format!("  <link rel=\"modulepreload\" href=\"{prefix}{m}\">\n"))
        .collect();
    page.insert_str(line_end, &links);
    page
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let static_dir = manifest.join("../web-client/static");
    println!("cargo:rerun-if-changed={}", static_dir.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut list = Vec::new();
    files(&static_dir, "", &mut list);
    let bodies: Vec<Vec<u8>> = list
        .iter()
        .map(|(_, path)| std::fs::read(path).expect("a readable asset"))
        .collect();
    // The version of everything a page loads: it changes whenever a script or a style does.
    let mut everything = Vec::new();
    let mut modules = BTreeMap::new();
    for ((name, _), body) in list.iter().zip(&bodies) {
        if name.ends_with(".html") {
            continue;
        }
        everything.extend_from_slice(name.as_bytes());
        everything.extend_from_slice(body);
        if name.ends_with(".js") {
            modules.insert(name.clone(), String::from_utf8_lossy(body).into_owned());
        }
    }
    let version = hash_hex(&everything);
    std::fs::write(out_dir.join("version.rs"), format!("{version:?}")).unwrap();
    let mut table = String::from("&[\n");
    for (i, ((name, path), body)) in list.iter().zip(bodies).enumerate() {
        let (body, path) = if name.ends_with(".html") {
            let html = String::from_utf8(body).expect("pages are UTF-8");
            let page = versioned_page(&html, &version, &modules).into_bytes();
            let out = out_dir.join(format!("{i}.html"));
            std::fs::write(&out, &page).unwrap();
            (page, out)
        } else {
            (body, path.canonicalize().unwrap())
        };
        let etag = hash_hex(&body);

        let (gzip, brotli) = if compressible(name) {
            let gz = out_dir.join(format!("{i}.gz"));
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&body).unwrap();
            std::fs::write(&gz, enc.finish().unwrap()).unwrap();
            let br = out_dir.join(format!("{i}.br"));
            let mut compressed = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 11,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut compressed, &params).unwrap();
            std::fs::write(&br, compressed).unwrap();
            (
                format!("Some(include_bytes!({:?}))", gz.display().to_string()),
                format!("Some(include_bytes!({:?}))", br.display().to_string()),
            )
        } else {
            ("None".to_string(), "None".to_string())
        };
        let path = path.display().to_string();
        writeln!(
            table,
            "    Asset {{ path: {name:?}, body: include_bytes!({path:?}), gzip: {gzip}, brotli: {brotli}, etag: {etag:?} }},"
        )
        .unwrap();
    }
    table.push(']');
    std::fs::write(out_dir.join("assets.rs"), table).unwrap();
}
