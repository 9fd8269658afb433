//! Staff sign in with the school directory's password: a real OpenLDAP `slapd` started here
//! with a small school (a teacher, a student), Aula searching with `ldap_filter` and binding
//! as the person found. Only the filter's people get in; a wrong or empty password, a name
//! with filter syntax in it and a directory that is down are each refused as such.
//! Needs Debian's `slapd`; without it the test says it is skipped and passes, unless
//! `AULA_REQUIRE_SLAPD=1` (run-tests.sh sets it).

use crate::common;
use common::free_port;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::client::server_with;
use common::metric;
use common::staff::{call, staff_config};
use common::temp_dir;
use serde_json::{Value, json};

const SUFFIX: &str = "dc=schule,dc=test";

struct Slapd(Child);

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal slapd.conf: the schemas inetOrgPerson needs, one database, passwords readable
/// by nobody and usable for binding by anyone.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         modulepath /usr/lib/ldap\nmoduleload back_mdb\n\
         pidfile {dir}/slapd.pid\n\
         database mdb\nmaxsize 10485760\nsuffix \"{SUFFIX}\"\n\
         rootdn \"cn=admin,{SUFFIX}\"\nrootpw admin-secret\ndirectory {db}\n\
         access to attrs=userPassword by anonymous auth by * none\n\
         access to * by * read\n",
        dir = dir.display(),
        db = db.display(),
    );
    let path = dir.join("slapd.conf");
    std::fs::write(&path, conf).unwrap();
    let person = |uid: &str, kind: &str, password: &str| {
        format!(
            "dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\n\
             cn: {uid}\nsn: {uid}\nemployeeType: {kind}\nuserPassword: {password}\n\n"
        )
    };
    let ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Schule\ndc: schule\n\n\
         dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n{}{}",
        person("weber", "teacher", "ldap-pferd-123"),
        person("anna", "student", "anna-passwort"),
    );
    let data = dir.join("school.ldif");
    std::fs::write(&data, ldif).unwrap();
    let loaded = Command::new("slapadd")
        .args(["-f", path.to_str().unwrap(), "-l", data.to_str().unwrap()])
        .output()
        .expect("slapadd runs");
    assert!(
        loaded.status.success(),
        "slapadd: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    path
}

async fn start_slapd(dir: &Path, port: u16) -> Slapd {
    let conf = write_config(dir);
    let child = Command::new("slapd")
        .args(["-f", conf.to_str().unwrap()])
        .args(["-h", &format!("ldap://127.0.0.1:{port}/")])
        // In the foreground, logging nothing: the test kills it.
        .args(["-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("slapd starts");
    let slapd = Slapd(child);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(started.elapsed() < Duration::from_secs(10), "slapd listens");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slapd
}

fn installed(bin: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {bin} || test -x /usr/sbin/{bin}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn teachers_sign_in_with_the_directory_password_and_nobody_else_does() {
    if !installed("slapd") || !installed("slapadd") {
        assert!(
            std::env::var_os("AULA_REQUIRE_SLAPD").is_none(),
            "slapd is required here: apt-get install slapd"
        );
        println!("skipped: slapd is not installed (apt-get install slapd)");
        return;
    }
    let dir = temp_dir("staff-ldap");
    let port = free_port();
    let slapd = start_slapd(&dir, port).await;
    let mut config = staff_config(dir.join("no-local-accounts"));
    config.ldap_url = Some(format!("ldap://127.0.0.1:{port}"));
    config.ldap_base = format!("ou=people,{SUFFIX}");
    config.ldap_filter = "(&(uid={user})(employeeType=teacher))".into();
    config.check().expect("ldap:// on this machine is allowed");
    let (server, addr) = server_with(config).await;
    assert!(
        server.first_account_token.is_none(),
        "the directory has the accounts"
    );

    let sign_in = |name: &str, password: &str| {
        let body = json!({"name": name, "password": password});
        call(addr, "POST", "/api/staff/sign-in", "", body)
    };
    let welcome = sign_in("weber", "ldap-pferd-123").await;
    assert_eq!(
        (welcome.status, &welcome.body),
        (200, &json!({"user": "weber"}))
    );
    let class = json!({"kind": "class"});
    let created = call(addr, "POST", "/api/rooms", &welcome.cookie(), class).await;
    assert_eq!(created.status, 201);

    for (name, password, why) in [
        ("weber", "falsch-falsch", "a wrong password"),
        ("weber", "", "an empty password (an unauthenticated bind)"),
        ("anna", "anna-passwort", "a student: not in the filter"),
        ("*", "ldap-pferd-123", "filter syntax in the name"),
        ("weber)(uid=*", "ldap-pferd-123", "filter injection"),
    ] {
        let answer = sign_in(name, password).await;
        assert_eq!(answer.status, 401, "{why}: {}", answer.body);
    }
    assert_eq!(metric(addr, "aula_staff_sign_ins_failed_total").await, 5);

    // The directory goes down: the page is told so, not that the password is wrong.
    drop(slapd);
    let answer = sign_in("weber", "ldap-pferd-123").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["code"], Value::from("directory_unavailable"));
    assert_eq!(metric(addr, "aula_staff_directory_errors_total").await, 1);
}

#[test]
fn passwords_do_not_cross_a_network_unencrypted() {
    let mut config = staff_config("accounts".into());
    config.ldap_url = Some("ldap://dc.schule.local".into());
    let refused = config.check().unwrap_err().to_string();
    assert!(refused.contains("ldaps://"), "{refused}");
    config.ldap_starttls = true;
    assert!(config.check().is_ok());
    config.ldap_filter = "(uid=weber)".into();
    assert!(config.check().is_err(), "a filter without {{user}}");
}
