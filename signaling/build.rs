//! The web client is embedded with `include_dir!`, which cargo does not track: rebuild when
//! any of its files changes, or a plain `cargo build` would serve stale pages.
fn main() {
    println!("cargo:rerun-if-changed=../web-client/static");
}
