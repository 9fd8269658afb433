//! Compresses the web client at build time: every page and asset is embedded three times
//! (as is, gzip, brotli), with an ETag, so that a thousand page loads at 8 o'clock cost the
//! server a table lookup and a copy each, never a compression (docs/architecture.md,
//! "The front door").

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

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let static_dir = manifest.join("../web-client/static");
    println!("cargo:rerun-if-changed={}", static_dir.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut list = Vec::new();
    files(&static_dir, "", &mut list);
    let mut table = String::from("&[\n");
    for (i, (name, path)) in list.iter().enumerate() {
        let body = std::fs::read(path).expect("a readable asset");
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut hasher);
        let etag = format!("{:016x}", hasher.finish());
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
        let path = path.canonicalize().unwrap().display().to_string();
        writeln!(
            table,
            "    Asset {{ path: {name:?}, body: include_bytes!({path:?}), gzip: {gzip}, brotli: {brotli}, etag: {etag:?} }},"
        )
        .unwrap();
    }
    table.push(']');
    std::fs::write(out_dir.join("assets.rs"), table).unwrap();
}
