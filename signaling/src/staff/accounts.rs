//! The local accounts file: one `name:hash` line per member of staff, the hash an Argon2id
//! PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), `#` starts a comment. The
//! format of Apache's htpasswd, which admins know; `aula user add` writes it, the server only
//! reads it (again whenever it changes, so an account added while lessons run works at once).
//!
//! Names are matched without regard to case (`Weber` signs in as `weber`): a teacher does not
//! remember how the admin typed hers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;
use rand::rngs::OsRng;

/// Longest account name, in characters: an e-mail address or a directory login fits.
pub const MAX_NAME_CHARS: usize = 64;
/// Shortest password `aula user add` and the first-account page accept. 8: NIST SP 800-63B's
/// floor for a password a person chose.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password checked, in bytes. Hashing costs the same for any length, but a sign-in
/// request should not carry a megabyte; 1 KiB is any passphrase.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} line {line}: not `name:argon2-hash`")]
    BadLine { path: PathBuf, line: usize },
    #[error("a name is 1 to {MAX_NAME_CHARS} characters without `:`, spaces or control characters")]
    BadName,
    #[error(
        "a password is {MIN_PASSWORD_CHARS} characters or more (and at most {MAX_PASSWORD_BYTES} bytes)"
    )]
    WeakPassword,
    #[error("there is already an account {0:?}")]
    Exists(String),
    #[error("there is no account {0:?}")]
    Unknown(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// One member of staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    /// The PHC string; never the password.
    hash: String,
}

/// The accounts as last read, and the file's modification time then.
#[derive(Debug, Default)]
pub struct Accounts {
    list: Vec<Account>,
    read_at: Option<SystemTime>,
}

impl Accounts {
    /// Reads `path`; a file that does not exist is no accounts (a fresh install).
    pub fn read(path: &Path) -> Result<Accounts, AccountsError> {
        let read = |source| AccountsError::Read {
            path: path.to_owned(),
            source,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Accounts::default()),
            Err(e) => return Err(read(e)),
        };
        let read_at = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let list = parse(&text, path)?;
        Ok(Accounts { list, read_at })
    }

    /// Reads `path` again if it changed since (an admin ran `aula user add`); keeps what it
    /// had if the new file cannot be read, and says why.
    pub fn refresh(&mut self, path: &Path) {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if modified == self.read_at {
            return;
        }
        match Accounts::read(path) {
            Ok(fresh) => *self = fresh,
            Err(e) => tracing::warn!(error = %e, "keeping the accounts read before"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|a| a.name.as_str())
    }

    /// The account called `name`, case aside.
    pub fn find(&self, name: &str) -> Option<&Account> {
        let name = name.trim();
        self.list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Adds an account with `password` hashed; the caller writes the file.
    pub fn add(&mut self, name: &str, password: &str) -> Result<&Account, AccountsError> {
        let name = checked_name(name)?;
        if self.find(name).is_some() {
            return Err(AccountsError::Exists(name.to_string()));
        }
        let hash = hash_password(password)?;
        self.list.push(Account {
            name: name.to_string(),
            hash,
        });
        Ok(self.list.last().expect("just pushed"))
    }

    /// Replaces the password of `name`.
    pub fn set_password(&mut self, name: &str, password: &str) -> Result<(), AccountsError> {
        let hash = hash_password(password)?;
        let unknown = || AccountsError::Unknown(name.to_string());
        let found = self
            .list
            .iter_mut()
            .find(|a| a.name.eq_ignore_ascii_case(name.trim()));
        found.ok_or_else(unknown)?.hash = hash;
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Result<(), AccountsError> {
        let before = self.list.len();
        self.list
            .retain(|a| !a.name.eq_ignore_ascii_case(name.trim()));
        if self.list.len() == before {
            return Err(AccountsError::Unknown(name.to_string()));
        }
        Ok(())
    }

    /// Writes the accounts to `path` in one step (a temporary file renamed over it), so the
    /// server never reads half a file. A file that existed keeps its owner and mode: under
    /// systemd the service's own user owns it, and root running `aula user add` must not take
    /// it away. A new file is readable by its owner only, and that is the owner of its
    /// directory (the service's state directory).
    pub fn write(&self, path: &Path) -> Result<(), AccountsError> {
        let write = |source| AccountsError::Write {
            path: path.to_owned(),
            source,
        };
        let mut text = String::from(HEADER);
        for a in &self.list {
            text.push_str(&format!("{}:{}\n", a.name, a.hash));
        }
        let tmp = path.with_extension("new");
        let mut file = new_private_file(&tmp).map_err(write)?;
        file.write_all(text.as_bytes()).map_err(write)?;
        file.sync_all().map_err(write)?;
        keep_owner_and_mode(path, &tmp).map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }
}

const HEADER: &str =
    "# Aula staff accounts: name:argon2id-hash. Edit with `aula user add|passwd|remove`.\n";

fn parse(text: &str, path: &Path) -> Result<Vec<Account>, AccountsError> {
    let mut list = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || AccountsError::BadLine {
            path: path.to_owned(),
            line: i + 1,
        };
        let (name, hash) = line.split_once(':').ok_or_else(bad)?;
        PasswordHash::new(hash).map_err(|_| bad())?;
        let name = checked_name(name).map_err(|_| bad())?;
        list.push(Account {
            name: name.to_string(),
            hash: hash.to_string(),
        });
    }
    Ok(list)
}

/// `name` trimmed, if it is one an account may have.
pub fn checked_name(name: &str) -> Result<&str, AccountsError> {
    let name = name.trim();
    let fine = |c: char| !c.is_control() && !c.is_whitespace() && c != ':';
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(fine) {
        return Err(AccountsError::BadName);
    }
    Ok(name)
}

/// Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane): about 25 ms on the reference
/// machine's core, so a sign-in is instant for a person and a guesser gets 40 tries a second
/// per core at most (and the throttle stops it long before).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, AccountsError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(AccountsError::WeakPassword);
    }
    let mut salt = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut salt)
        .expect("the operating system RNG is available");
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountsError::Hash(e.to_string()))?;
    let hash = argon2().hash_password(password.as_bytes(), &salt);
    Ok(hash
        .map_err(|e| AccountsError::Hash(e.to_string()))?
        .to_string())
}

impl Account {
    /// Whether `password` is this account's. Slow on purpose (Argon2): call it off the
    /// async threads.
    pub fn verify(&self, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let Ok(hash) = PasswordHash::new(&self.hash) else {
            return false;
        };
        // The parameters come from the stored hash, not from `argon2()`.
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    }
}

/// Spends the time of a real check, for a name that has no account: the answer's timing
/// must not tell a guesser which names exist.
pub fn verify_nobody(password: &str) {
    static DUMMY: std::sync::OnceLock<Account> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| Account {
        name: String::new(),
        hash: hash_password("not anyone's password").expect("a valid password"),
    });
    let _ = dummy.verify(password);
}

#[cfg(unix)]
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(unix)]
fn keep_owner_and_mode(original: &Path, new: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = match std::fs::metadata(original) {
        Ok(meta) => {
            std::fs::set_permissions(new, meta.permissions())?;
            meta
        }
        Err(_) => match original.parent().map(std::fs::metadata) {
            Some(Ok(dir)) => dir,
            _ => return Ok(()),
        },
    };
    let mine = std::fs::metadata(new)?;
    if (mine.uid(), mine.gid()) == (owner.uid(), owner.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(new, Some(owner.uid()), Some(owner.gid()))
}

#[cfg(not(unix))]
fn keep_owner_and_mode(_: &Path, _: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_account_verifies_its_password_only_and_survives_the_file() {
        let dir = std::env::temp_dir().join(format!("aula-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accounts");
        let mut accounts = Accounts::read(&path).unwrap();
        assert!(accounts.is_empty(), "no file is no accounts");
        accounts.add("Weber", "korrekt-pferd").unwrap();
        assert!(matches!(
            accounts.add("weber", "anderes-pferd"),
            Err(AccountsError::Exists(_))
        ));
        accounts.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("Weber:$argon2id$") && !text.contains("korrekt-pferd"));

        let read = Accounts::read(&path).unwrap();
        let weber = read.find(" WEBER ").expect("case and spaces aside");
        assert!(weber.verify("korrekt-pferd"));
        assert!(!weber.verify("korrekt-pferd "));
        assert!(!weber.verify(&"x".repeat(MAX_PASSWORD_BYTES + 1)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_and_passwords_are_checked() {
        let mut a = Accounts::default();
        for bad in [
            "",
            "a:b",
            "two words",
            "x\u{7}",
            &"n".repeat(MAX_NAME_CHARS + 1),
        ] {
            assert!(
                matches!(a.add(bad, "long enough"), Err(AccountsError::BadName)),
                "{bad:?}"
            );
        }
        assert!(matches!(
            a.add("kurz", "1234567"),
            Err(AccountsError::WeakPassword)
        ));
        a.add("m.mueller@schule.de", "12345678").unwrap();
        a.set_password("M.Mueller@schule.de", "87654321").unwrap();
        assert!(a.find("m.mueller@schule.de").unwrap().verify("87654321"));
        a.remove("m.mueller@schule.de").unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn a_broken_line_is_refused_with_its_number() {
        let text = "# comment\n\nweber:$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\nbroken\n";
        match parse(text, Path::new("f")) {
            Err(AccountsError::BadLine { line, .. }) => assert_eq!(line, 4),
            other => panic!("{other:?}"),
        }
    }
}
