//! `aula user add|passwd|list|remove` edits the accounts file as an admin would, reading the
//! password from standard input when it is not a terminal (a script), and refuses what it
//! cannot do with a message and a failing exit status.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use aula_signaling::staff::accounts::Accounts;
use common::temp_dir;

fn aula(accounts: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aula"))
        .args(args)
        .args(["--accounts-file", accounts.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aula runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn an_admin_adds_lists_changes_and_removes_accounts() {
    let dir = temp_dir("user-command");
    let path = dir.join("accounts");
    let added = aula(&path, &["user", "add", "weber"], "korrekt-pferd-9\n");
    assert!(added.status.success(), "{}", text(&added));
    let added = aula(&path, &["user", "add", "mueller"], "anderes-pferd-7\n");
    assert!(added.status.success(), "{}", text(&added));
    let list = aula(&path, &["user", "list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "weber\nmueller\n");

    let twice = aula(&path, &["user", "add", "WEBER"], "noch-ein-pferd\n");
    assert!(!twice.status.success());
    assert!(
        text(&twice).contains("already an account"),
        "{}",
        text(&twice)
    );
    let weak = aula(&path, &["user", "add", "kurz"], "1234\n");
    assert!(!weak.status.success());
    assert!(text(&weak).contains("8 characters"), "{}", text(&weak));

    let changed = aula(&path, &["user", "passwd", "weber"], "neues-pferd-10\n");
    assert!(changed.status.success(), "{}", text(&changed));
    let accounts = Accounts::read(&path).unwrap();
    assert!(accounts.find("weber").unwrap().verify("neues-pferd-10"));
    assert!(!accounts.find("weber").unwrap().verify("korrekt-pferd-9"));

    let removed = aula(&path, &["user", "remove", "mueller"], "");
    assert!(removed.status.success(), "{}", text(&removed));
    let unknown = aula(&path, &["user", "remove", "mueller"], "");
    assert!(!unknown.status.success());
    let list = aula(&path, &["user", "list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "weber\n");
}
