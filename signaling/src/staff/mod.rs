//! Who may start rooms. With `room_creation = "staff"` (the default) a teacher signs in with a
//! name and password before starting a class or meeting; students and guests never do (their
//! link is their key). Passwords are checked against the local accounts file (Argon2id
//! hashes, written by `aula user add`), then, for names it does not have, against the
//! school's directory over LDAP. A fresh install with neither gets a one-time link, printed
//! at startup, that creates the first account.
//!
//! # Layout
//! - `accounts`: the accounts file, hashing and checking passwords.
//! - `ldap`: search-then-bind against the directory.
//! - `sessions`: signed-in staff by cookie token.
//! - `throttle`: failed sign-ins per name and per address.
//! - `routes`: the `/api/staff` calls and the first-account page.

pub mod accounts;
mod ldap;
pub(crate) mod routes;
mod sessions;
mod throttle;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::config::{Config, RoomCreation};
use crate::registry::{Counters, Secret};
use accounts::{Accounts, AccountsError};
pub use ldap::safe_transport as ldap_transport_is_safe;

/// Argon2 checks running at once. Each takes a core for about 25 ms; one at a time leaves the
/// other core to the media even when a script floods the sign-in (the throttle stops it
/// after a few tries per name anyway).
const HASHING_AT_ONCE: usize = 1;
/// Directory binds running at once: a burst of tries must not open hundreds of connections
/// to the school's directory (nor trip its own lockout for a teacher all at once).
const DIRECTORY_AT_ONCE: usize = 4;
/// The longest name a sign-in checks (a file's account names are at most 64 characters; a
/// directory's are longer at times, an e-mail address); a longer one, or a password longer
/// than any account's (`accounts::MAX_PASSWORD_BYTES`), fails at once.
const MAX_SIGN_IN_NAME_CHARS: usize = 256;
/// Sign-ins that may wait for (or run) their check at once; more are told to come back. A
/// flood from behind the school's NAT (which has no address limit) then delays a teacher's
/// sign-in by at most this many checks, about 0.8 s, instead of past the request deadline.
const CHECKS_WAITING: usize = 32;
/// Of those, the places only a known name may take (an account in the file, or a name that
/// signed in since the server started): a flood of made-up names cannot take them all.
const CHECKS_FOR_KNOWN: usize = 8;
/// Names that signed in, remembered at most (for `CHECKS_FOR_KNOWN`).
const KNOWN_NAMES: usize = 10_000;

/// A sign-in between the throttle and its verdict: its try is given back if it ends without
/// one (the directory did not answer, the request was cancelled), and its place among the
/// checks waiting is freed.
struct Underway<'a> {
    staff: &'a Staff,
    name: &'a str,
    addr: Option<IpAddr>,
    attempt: throttle::Attempt,
    waiting: bool,
    decided: bool,
}

impl Drop for Underway<'_> {
    fn drop(&mut self) {
        if self.waiting {
            self.staff.checks_waiting.fetch_sub(1, Relaxed);
        }
        if !self.decided {
            let mut throttle = self
                .staff
                .throttle
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            throttle.handle_undecided(self.name, self.addr, self.attempt);
        }
    }
}

/// How a sign-in went.
#[derive(Debug)]
pub enum SignIn {
    /// A new session: its token for the cookie, and the name signed in.
    Welcome(Secret, Arc<str>),
    WrongCredentials,
    /// Too many failures for this name or address lately; try again after this long.
    Throttled(Duration),
    /// The directory could not be asked (down, slow, misconfigured).
    DirectoryUnavailable,
    /// Too many sign-ins wait for their check already; not counted as a try.
    Busy,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("this link was used already, or is not this server's")]
    BadToken,
    #[error(transparent)]
    Accounts(#[from] AccountsError),
}

/// What `/metrics` shows of sign-ins.
#[derive(Debug, Default)]
pub struct StaffCounters {
    pub sign_ins: AtomicU64,
    pub sign_ins_failed: AtomicU64,
    pub sign_ins_throttled: AtomicU64,
    pub directory_errors: AtomicU64,
    /// `POST /api/rooms` refused for want of a staff session.
    pub rooms_refused: AtomicU64,
}

pub struct Staff {
    pub mode: RoomCreation,
    accounts_path: PathBuf,
    // std Mutexes, not tokio ones: nothing awaits while one is held.
    accounts: Mutex<Accounts>,
    directory: Option<ldap::Directory>,
    sessions: Mutex<sessions::Sessions>,
    throttle: Mutex<throttle::Throttle>,
    /// The first-account link's token, until it is used.
    setup: Mutex<Option<Secret>>,
    hashing: Semaphore,
    directory_checks: Semaphore,
    /// Sign-ins between the throttle and their verdict.
    checks_waiting: AtomicUsize,
    /// Names (lower case) that signed in since the server started.
    signed_in: Mutex<HashSet<String>>,
    pub counters: StaffCounters,
}

impl Staff {
    /// Reads the accounts file. A file that exists but cannot be read or parsed stops the
    /// start: running on with no accounts would lock the staff out without saying why.
    pub fn new(config: &Config) -> Result<Staff, AccountsError> {
        let accounts = Accounts::read(&config.accounts_file)?;
        let directory = config.ldap_url.as_ref().map(|url| ldap::Directory {
            url: url.clone(),
            starttls: config.ldap_starttls,
            base: config.ldap_base.clone(),
            filter: config.ldap_filter.clone(),
            bind: config.ldap_bind_dn.clone().map(|dn| {
                let password = config.ldap_bind_password.clone().unwrap_or_default();
                (dn, password)
            }),
        });
        Ok(Staff {
            mode: config.room_creation,
            accounts_path: config.accounts_file.clone(),
            accounts: Mutex::new(accounts),
            directory,
            sessions: Mutex::new(sessions::Sessions::new(config.staff_session())),
            throttle: Mutex::new(throttle::Throttle::default()),
            setup: Mutex::new(None),
            hashing: Semaphore::new(HASHING_AT_ONCE),
            directory_checks: Semaphore::new(DIRECTORY_AT_ONCE),
            checks_waiting: AtomicUsize::new(0),
            signed_in: Mutex::new(HashSet::new()),
            counters: StaffCounters::default(),
        })
    }

    /// The first-account token, made now, if staff must sign in and nobody could: no account
    /// in the file and no directory. `None` otherwise.
    pub fn first_account_token(&self) -> Option<String> {
        let nobody = self.accounts.lock().expect("not poisoned").is_empty();
        if self.mode != RoomCreation::Staff || self.directory.is_some() || !nobody {
            return None;
        }
        let token = Secret::generate();
        let text = token.as_str().to_string();
        *self.setup.lock().expect("not poisoned") = Some(token);
        Some(text)
    }

    pub fn session_lifetime(&self) -> Duration {
        self.sessions.lock().expect("not poisoned").lifetime()
    }

    /// Who the session `token` (from the cookie) belongs to. An account removed from the
    /// file since (`aula user remove`) ends its sessions at once; without a directory that
    /// could still vouch for the name.
    pub fn user(&self, token: &str) -> Option<Arc<str>> {
        let user = self
            .sessions
            .lock()
            .expect("not poisoned")
            .user(token, Instant::now())?;
        if self.directory.is_none() {
            let mut accounts = self.accounts.lock().expect("not poisoned");
            accounts.refresh(&self.accounts_path);
            if accounts.find(&user).is_none() {
                drop(accounts);
                self.sign_out(token);
                return None;
            }
        }
        Some(user)
    }

    pub fn sign_out(&self, token: &str) {
        self.sessions.lock().expect("not poisoned").end(token);
    }

    /// Checks `name` and `password` (the accounts file first, then the directory) unless
    /// too many tries failed lately, and starts a session if they are right. `addr` is the
    /// client's address as counted (`Addresses::key`; `None`: not limited by address).
    pub async fn sign_in(&self, name: &str, password: &str, addr: Option<IpAddr>) -> SignIn {
        let checked = self
            .throttle
            .lock()
            .expect("not poisoned")
            .check(name, addr, Instant::now());
        let attempt = match checked {
            Ok(attempt) => attempt,
            Err(wait) => {
                Counters::bump(&self.counters.sign_ins_throttled);
                return SignIn::Throttled(wait);
            }
        };
        // From here the try is given back unless it ends with a verdict (a request cancelled
        // at its deadline is none).
        let mut underway = Underway {
            staff: self,
            name,
            addr,
            attempt,
            waiting: false,
            decided: false,
        };
        let places = match self.is_known(name) {
            true => CHECKS_WAITING,
            false => CHECKS_WAITING - CHECKS_FOR_KNOWN,
        };
        if self.checks_waiting.fetch_add(1, Relaxed) >= places {
            self.checks_waiting.fetch_sub(1, Relaxed);
            return SignIn::Busy;
        }
        underway.waiting = true;
        // Nobody has such a name or password: no hash, no directory, a failure.
        let absurd = name.trim().chars().count() > MAX_SIGN_IN_NAME_CHARS
            || password.len() > accounts::MAX_PASSWORD_BYTES;
        let checked = match absurd {
            true => Ok(None),
            false => self.check(name, password).await,
        };
        let user = match checked {
            Ok(user) => user,
            Err(e) => {
                Counters::bump(&self.counters.directory_errors);
                tracing::warn!(error = %e, "staff directory unavailable");
                return SignIn::DirectoryUnavailable;
            }
        };
        underway.decided = true;
        let Some(user) = user else {
            Counters::bump(&self.counters.sign_ins_failed);
            return SignIn::WrongCredentials;
        };
        (self.throttle.lock().expect("not poisoned")).handle_success(name, addr, attempt);
        let mut signed_in = self.signed_in.lock().expect("not poisoned");
        if signed_in.len() < KNOWN_NAMES {
            signed_in.insert(name.trim().to_lowercase());
        }
        drop(signed_in);
        Counters::bump(&self.counters.sign_ins);
        self.welcome(&user)
    }

    /// Whether `name` is an account in the file or signed in since the server started.
    fn is_known(&self, name: &str) -> bool {
        let known = self
            .signed_in
            .lock()
            .expect("not poisoned")
            .contains(&name.trim().to_lowercase());
        known
            || self
                .accounts
                .lock()
                .expect("not poisoned")
                .find(name)
                .is_some()
    }

    fn welcome(&self, name: &str) -> SignIn {
        let mut sessions = self.sessions.lock().expect("not poisoned");
        let token = sessions.start(name, Instant::now());
        SignIn::Welcome(token, name.into())
    }

    /// The account's own name if `password` is right for `name` (`Weber` signs in as the
    /// file's `weber`; a directory's name is taken as typed), `None` if not.
    async fn check(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<String>, ldap::DirectoryError> {
        let account = {
            let mut accounts = self.accounts.lock().expect("not poisoned");
            accounts.refresh(&self.accounts_path);
            accounts.find(name).cloned()
        };
        let owned = password.to_string();
        match (account, &self.directory) {
            (Some(account), _) => {
                let canonical = account.name.clone();
                let right = self.hash_check(move || account.verify(&owned)).await;
                Ok(right.then_some(canonical))
            }
            (None, Some(directory)) => {
                let _permit = self.directory_checks.acquire().await.expect("never closed");
                let right = directory.authenticate(name, password).await?;
                Ok(right.then(|| name.trim().to_string()))
            }
            (None, None) => {
                self.hash_check(move || {
                    accounts::verify_nobody(&owned);
                    false
                })
                .await;
                Ok(None)
            }
        }
    }

    /// Runs a password check on the blocking pool, one at a time.
    async fn hash_check(&self, check: impl FnOnce() -> bool + Send + 'static) -> bool {
        let _permit = self.hashing.acquire().await.expect("never closed");
        tokio::task::spawn_blocking(check).await.unwrap_or(false)
    }

    /// Creates the first account with the one-time token, and signs its owner in.
    pub async fn create_first(
        &self,
        token: &str,
        name: &str,
        password: &str,
    ) -> Result<SignIn, SetupError> {
        {
            let setup = self.setup.lock().expect("not poisoned");
            if !setup.as_ref().is_some_and(|s| s.matches(token)) {
                return Err(SetupError::BadToken);
            }
        }
        let _permit = self.hashing.acquire().await.expect("never closed");
        let mut accounts = self.accounts.lock().expect("not poisoned");
        let mut setup = self.setup.lock().expect("not poisoned");
        // Checked again under the lock: two pages racing with the same link make one account.
        if !setup.as_ref().is_some_and(|s| s.matches(token)) {
            return Err(SetupError::BadToken);
        }
        let mut updated = Accounts::read(&self.accounts_path)?;
        // Accounts made meanwhile (`aula user add`): the link was for a server with none.
        if !updated.is_empty() {
            *setup = None;
            return Err(SetupError::BadToken);
        }
        updated.add(name, password)?;
        updated.write(&self.accounts_path)?;
        *accounts = Accounts::read(&self.accounts_path)?;
        *setup = None;
        drop((setup, accounts));
        tracing::info!("the first staff account was created");
        Counters::bump(&self.counters.sign_ins);
        Ok(self.welcome(name.trim()))
    }
}
