//! With `room_creation = "staff"` only signed-in staff start rooms: a session cookie from
//! `POST /api/staff/sign-in` (the accounts file's Argon2 hashes), refused with a wrong
//! password, throttled after ten, ended by sign-out or by removing the account; a fresh
//! install's one-time link creates the first account.

use crate::common;

use std::net::SocketAddr;

use aula_signaling::staff::accounts::Accounts;
use common::client::server_with;
use common::metric;
use common::staff::{call, staff_config};
use common::{TempDir, temp_dir};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server with one staff account; its accounts file is `accounts` in the directory.
async fn with_account(name: &str) -> (aula_signaling::RunningServer, SocketAddr, TempDir) {
    let dir = temp_dir(name);
    let path = dir.join("accounts");
    let mut accounts = Accounts::read(&path).unwrap();
    accounts.add("weber", "korrekt-pferd-batterie").unwrap();
    accounts.write(&path).unwrap();
    let (server, addr) = server_with(staff_config(path)).await;
    (server, addr, dir)
}

const CLASS: &str = r#"{"kind": "class"}"#;

#[tokio::test]
async fn only_signed_in_staff_start_rooms() {
    let (_server, addr, dir) = with_account("staff-sign-in").await;
    let path = dir.join("accounts");
    let class: Value = serde_json::from_str(CLASS).unwrap();

    let status = call(addr, "GET", "/api/staff", "", Value::Null).await;
    assert_eq!(status.body, json!({"room_creation": "staff", "user": null}));
    let refused = call(addr, "POST", "/api/rooms", "", class.clone()).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("sign_in_required"))
    );
    assert_eq!(metric(addr, "aula_rooms_refused_sign_in_total").await, 1);

    let wrong = json!({"name": "weber", "password": "falsch-falsch"});
    let answer = call(addr, "POST", "/api/staff/sign-in", "", wrong).await;
    assert_eq!(
        (answer.status, answer.body["code"].as_str()),
        (401, Some("wrong_credentials"))
    );
    assert!(answer.header("set-cookie").is_none());
    let unknown = json!({"name": "nobody", "password": "korrekt-pferd-batterie"});
    let answer = call(addr, "POST", "/api/staff/sign-in", "", unknown).await;
    assert_eq!(answer.status, 401, "an unknown name answers the same");

    // The name is matched without regard to case; the session carries the account's own.
    let right = json!({"name": " WEBER ", "password": "korrekt-pferd-batterie"});
    let welcome = call(addr, "POST", "/api/staff/sign-in", "", right).await;
    assert_eq!(
        (welcome.status, &welcome.body),
        (200, &json!({"user": "weber"}))
    );
    let set = welcome.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http on loopback: {set}");
    let cookie = welcome.cookie();

    let status = call(addr, "GET", "/api/staff", &cookie, Value::Null).await;
    assert_eq!(status.body["user"], "weber");
    assert_eq!(status.header("cache-control"), Some("no-store"));
    let created = call(addr, "POST", "/api/rooms", &cookie, class.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(metric(addr, "aula_staff_sign_ins_total").await, 1);
    assert_eq!(metric(addr, "aula_staff_sign_ins_failed_total").await, 2);

    // Signing out ends the session on the server, not only in this browser.
    let out = call(addr, "POST", "/api/staff/sign-out", &cookie, Value::Null).await;
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = call(addr, "POST", "/api/rooms", &cookie, class.clone()).await;
    assert_eq!(after.status, 401);

    // Removing the account ends its sessions at once.
    let right = json!({"name": "weber", "password": "korrekt-pferd-batterie"});
    let again = call(addr, "POST", "/api/staff/sign-in", "", right)
        .await
        .cookie();
    let mut accounts = Accounts::read(&path).unwrap();
    accounts.remove("weber").unwrap();
    accounts.write(&path).unwrap();
    let gone = call(addr, "POST", "/api/rooms", &again, class).await;
    assert_eq!(gone.status, 401);
}

#[tokio::test]
async fn sign_in_is_json_from_our_pages_and_guessing_is_throttled() {
    let (_server, addr, _dir) = with_account("staff-throttle").await;
    // Another site's page posting a form: refused before any password is checked.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = "name=weber&password=x";
    let req = format!(
        "POST /api/staff/sign-in HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://evil.example\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 415"), "{raw}");

    for i in 0..10 {
        let wrong = json!({"name": "weber", "password": format!("guess-{i:04}")});
        let answer = call(addr, "POST", "/api/staff/sign-in", "", wrong).await;
        assert_eq!(answer.status, 401, "guess {i}");
    }
    // The eleventh try is refused unchecked, even with the right password.
    let right = json!({"name": "weber", "password": "korrekt-pferd-batterie"});
    let held = call(addr, "POST", "/api/staff/sign-in", "", right).await;
    assert_eq!(
        (held.status, held.body["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
    let wait: u64 = held.header("retry-after").unwrap().parse().unwrap();
    assert!((800..=900).contains(&wait), "about a quarter hour: {wait}");
    assert_eq!(metric(addr, "aula_staff_sign_ins_throttled_total").await, 1);
}

#[tokio::test]
async fn a_fresh_install_creates_its_first_account_once() {
    let dir = temp_dir("staff-setup");
    let path = dir.join("accounts");
    let (server, addr) = server_with(staff_config(path.clone())).await;
    let token = server.first_account_token.clone().expect("no account yet");

    let first = |token: &str, password: &str| json!({"token": token, "name": "sekretariat", "password": password});
    let bad = call(
        addr,
        "POST",
        "/api/staff/setup",
        "",
        first("0000", "lang-genug-1"),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (403, Some("bad_setup_token"))
    );
    let weak = call(addr, "POST", "/api/staff/setup", "", first(&token, "kurz")).await;
    assert_eq!(
        (weak.status, weak.body["code"].as_str()),
        (400, Some("weak_password"))
    );

    let made = call(
        addr,
        "POST",
        "/api/staff/setup",
        "",
        first(&token, "lang-genug-1"),
    )
    .await;
    assert_eq!(
        (made.status, &made.body),
        (201, &json!({"user": "sekretariat"}))
    );
    let cookie = made.cookie();
    let class: Value = serde_json::from_str(CLASS).unwrap();
    let created = call(addr, "POST", "/api/rooms", &cookie, class).await;
    assert_eq!(created.status, 201, "signed in by the setup");

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("sekretariat:$argon2id$"), "{text}");
    assert!(!text.contains("lang-genug-1"), "never the password");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "readable by the server's user only: {mode:o}"
        );
    }

    // The link works once.
    let again = call(
        addr,
        "POST",
        "/api/staff/setup",
        "",
        first(&token, "lang-genug-2"),
    )
    .await;
    assert_eq!(again.status, 403);
    let right = json!({"name": "sekretariat", "password": "lang-genug-1"});
    let welcome = call(addr, "POST", "/api/staff/sign-in", "", right).await;
    assert_eq!(welcome.status, 200);
}

/// Tries sent all at once are each counted as they start: of thirty wrong passwords for one
/// name sent together, ten are checked and twenty refused unchecked (before, all thirty
/// passed the check before any failure was recorded). And a burst of tries for many names
/// waits for its checks 24 at a time at most; the rest are told the server is busy, which
/// counts as no try at all, and a colleague's sign-in among them takes a place kept for
/// known names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tries_sent_at_once_are_counted_as_they_start_and_wait_in_bounds() {
    let (_server, addr, dir) = with_account("staff-burst").await;
    let burst = |names: Vec<String>| async move {
        let tries = names.into_iter().enumerate().map(|(i, name)| {
            let wrong = json!({"name": name, "password": format!("guess-{i:04}")});
            tokio::spawn(async move {
                call(addr, "POST", "/api/staff/sign-in", "", wrong)
                    .await
                    .status
            })
        });
        let mut statuses = Vec::new();
        for t in tries.collect::<Vec<_>>() {
            statuses.push(t.await.unwrap());
        }
        statuses
    };
    let count = |statuses: &[u16], status: u16| statuses.iter().filter(|s| **s == status).count();

    let one_name = burst(vec!["weber".to_string(); 30]).await;
    assert_eq!(
        (count(&one_name, 401), count(&one_name, 429)),
        (10, 20),
        "{one_name:?}"
    );

    // A flood of made-up names, and a colleague signing in in the middle of it: the places
    // kept for known names let her through.
    let path = dir.join("accounts");
    let mut accounts = Accounts::read(&path).unwrap();
    accounts.add("mueller", "richtiges-passwort").unwrap();
    accounts.write(&path).unwrap();
    let flood = tokio::spawn(burst((0..120).map(|i| format!("lehrer{i}")).collect()));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let right = json!({"name": "mueller", "password": "richtiges-passwort"});
    let colleague = call(addr, "POST", "/api/staff/sign-in", "", right).await;
    assert_eq!(colleague.status, 200, "{}", colleague.body);
    let many = flood.await.unwrap();
    let (failed, busy) = (count(&many, 401), count(&many, 503));
    assert_eq!(failed + busy, 120, "{many:?}");
    assert!(busy > 0, "more than 24 waited at once: {many:?}");
    assert_eq!(
        metric(addr, "aula_staff_sign_ins_failed_total").await,
        10 + failed as u64
    );
}

/// The first-account link is for a server with no account: once an admin has added one
/// from the command line (`aula user add`), the link, still in the journal, creates nothing.
#[tokio::test]
async fn the_setup_link_creates_nothing_once_an_account_exists() {
    let dir = temp_dir("staff-setup-late");
    let path = dir.join("accounts");
    let (server, addr) = server_with(staff_config(path.clone())).await;
    let token = server.first_account_token.clone().expect("no account yet");
    let mut accounts = aula_signaling::staff::accounts::Accounts::read(&path).unwrap();
    accounts.add("admin", "lang-genug-1").unwrap();
    accounts.write(&path).unwrap();

    let late = json!({"token": token, "name": "fremd", "password": "lang-genug-2"});
    let refused = call(addr, "POST", "/api/staff/setup", "", late.clone()).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("bad_setup_token"))
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("fremd"), "{text}");
    let again = call(addr, "POST", "/api/staff/setup", "", late).await;
    assert_eq!(again.status, 403, "the link is spent");
}

#[tokio::test]
async fn open_servers_and_servers_with_accounts_print_no_setup_link() {
    let (open, addr) = server_with(aula_signaling::Config::for_tests()).await;
    assert!(open.first_account_token.is_none());
    let status = call(addr, "GET", "/api/staff", "", Value::Null).await;
    assert_eq!(status.body, json!({"room_creation": "open", "user": null}));
    let (staffed, _, _dir) = with_account("staff-no-setup").await;
    assert!(staffed.first_account_token.is_none());
}
