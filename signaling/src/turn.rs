//! Credentials for the school's TURN server (coturn with `use-auth-secret`), for pupils whose
//! network blocks UDP: coturn's "TURN REST API" scheme, which needs no user database. The
//! username is the expiry time (Unix seconds) and a label; the password is the base64 of the
//! HMAC-SHA1 of the username under the secret both sides share. coturn checks the HMAC and
//! refuses a username whose time has passed, so a credential copied from a page is worthless
//! after `turn_ttl_secs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine;
use serde::Serialize;

/// One entry of `RTCConfiguration.iceServers`, as `joined.ice_servers` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// The TURN settings, ready to hand out credentials.
#[derive(Clone)]
pub struct Turn {
    urls: Vec<String>,
    key: hmac::Key,
    ttl: Duration,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Turn").field("urls", &self.urls).finish()
    }
}

impl Turn {
    /// `None` without URLs (or without a secret: the config check refuses that at startup).
    pub fn new(urls: &[String], secret: Option<&str>, ttl: Duration) -> Option<Turn> {
        let secret = secret.filter(|s| !s.is_empty())?;
        (!urls.is_empty()).then(|| Turn {
            urls: urls.to_vec(),
            key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes()),
            ttl,
        })
    }

    /// Credentials good from `now` for the TTL. The label says nothing about the person:
    /// coturn logs usernames.
    pub fn credentials(&self, now: SystemTime) -> IceServer {
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let expiry = (since_epoch + self.ttl).as_secs();
        let username = format!("{expiry}:aula");
        let tag = hmac::sign(&self.key, username.as_bytes());
        IceServer {
            urls: self.urls.clone(),
            credential: base64::engine::general_purpose::STANDARD.encode(tag.as_ref()),
            username,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_coturns_rest_api_scheme() {
        let turn = Turn::new(
            &["turn:turn.schule.de:3478".into()],
            Some("north"),
            Duration::from_secs(3600),
        )
        .expect("configured");
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let c = turn.credentials(now);
        assert_eq!(c.username, "1700003600:aula");
        // HMAC-SHA1("north", "1700003600:aula"), base64: computed independently with
        // `printf %s 1700003600:aula | openssl dgst -sha1 -hmac north -binary | base64`.
        assert_eq!(c.credential, EXPECTED);
        assert_eq!(c.urls, ["turn:turn.schule.de:3478"]);
        assert!(!format!("{turn:?}").contains("north"), "no secret in Debug");
    }

    #[test]
    fn nothing_without_urls_or_secret() {
        let ttl = Duration::from_secs(1);
        assert!(Turn::new(&[], Some("s"), ttl).is_none());
        assert!(Turn::new(&["turn:a".into()], None, ttl).is_none());
    }

    const EXPECTED: &str = "7L4490oBt8UkB0isRF2urx3+ilk=";
}
