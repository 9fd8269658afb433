//! Every behaviour under `tests/` (one file each) in one test binary: one link and one copy
//! of `common` instead of one per file (a binary per file was a third of a cold test build's
//! CPU time), and the files' tests share the harness's threads instead of running file after
//! file. Run one file's tests with `cargo test --test all <module>::` (its name, `_` for `-`).
//! Three files stay binaries of their own: the protocol fuzzer (`AULA_FUZZ_SECS` runs it for a
//! given time), and `bad-input` and `slow-reader`, which count the server's answers in
//! `/metrics`, whose tallies are process-wide (`src/tally.rs`): tests running beside them in
//! one process would add to what they count.

mod common;

mod admission;
#[path = "bandwidth-api.rs"]
mod bandwidth_api;
mod chat;
#[path = "dead-sockets.rs"]
mod dead_sockets;
#[path = "garbage-udp.rs"]
mod garbage_udp;
#[path = "graceful-shutdown.rs"]
mod graceful_shutdown;
mod hands;
#[path = "host-actions-forbidden.rs"]
mod host_actions_forbidden;
#[path = "host-link-takeback.rs"]
mod host_link_takeback;
#[path = "http-limits.rs"]
mod http_limits;
#[path = "https-acme.rs"]
mod https_acme;
#[path = "https-acme-unreachable.rs"]
mod https_acme_unreachable;
#[path = "https-files.rs"]
mod https_files;
mod impersonation;
#[path = "link-hosts.rs"]
mod link_hosts;
#[path = "link-renewal.rs"]
mod link_renewal;
mod lobby;
#[path = "lobby-flood.rs"]
mod lobby_flood;
#[path = "log-hygiene.rs"]
mod log_hygiene;
#[path = "media-fault.rs"]
mod media_fault;
#[path = "media-flow.rs"]
mod media_flow;
#[path = "memory-bounds.rs"]
mod memory_bounds;
#[path = "message-budget.rs"]
mod message_budget;
mod moderation;
#[path = "mute-enforced.rs"]
mod mute_enforced;
mod origins;
#[path = "per-address-caps.rs"]
mod per_address_caps;
#[path = "proxy-caddy.rs"]
mod proxy_caddy;
#[path = "proxy-nginx.rs"]
mod proxy_nginx;
mod replies;
mod resume;
#[path = "room-end.rs"]
mod room_end;
mod spotlight;
#[path = "staff-ldap.rs"]
mod staff_ldap;
#[path = "staff-sign-in.rs"]
mod staff_sign_in;
mod turn;
#[path = "user-command.rs"]
mod user_command;
mod view;
