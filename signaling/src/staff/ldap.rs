//! Staff sign-in against the school's directory: find the person's entry with `ldap_filter`
//! (as a service account, or anonymously), then bind as that entry with the password given.
//! The bind is the check: the directory's own password policy and lockout apply, and Aula
//! never sees a hash. One short connection per sign-in: a school's staff signs in a few
//! hundred times a day, not a second.

use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};

/// How long the directory may take to answer, connection included. A sign-in is a person
/// waiting; a directory that slow is down, and the page says so.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory did not answer: {0}")]
    Unreachable(#[from] ldap3::LdapError),
    #[error("the directory did not answer within {TIMEOUT:?}")]
    Timeout,
    #[error("the search for the account failed: {0}")]
    Search(String),
}

/// Where and how to look people up (the `ldap_*` settings).
#[derive(Debug, Clone)]
pub struct Directory {
    pub url: String,
    pub starttls: bool,
    pub base: String,
    /// With `{user}` where the escaped name goes, e.g. `(&(uid={user})(memberOf=cn=staff,…))`.
    pub filter: String,
    /// Service account for the search; `None`: search anonymously.
    pub bind: Option<(String, String)>,
}

impl Directory {
    /// `Ok(true)` if `user` exists under the filter and `password` is theirs; `Ok(false)` if
    /// not (unknown name, several matches, wrong password); `Err` if the directory could not
    /// tell.
    pub async fn authenticate(&self, user: &str, password: &str) -> Result<bool, DirectoryError> {
        // An empty password makes a simple bind "unauthenticated" (RFC 4513 5.1.2), which
        // many servers answer with success: it must never get that far.
        if password.is_empty() || user.trim().is_empty() {
            return Ok(false);
        }
        match tokio::time::timeout(TIMEOUT, self.check(user.trim(), password)).await {
            Ok(result) => result,
            Err(_) => Err(DirectoryError::Timeout),
        }
    }

    async fn check(&self, user: &str, password: &str) -> Result<bool, DirectoryError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_starttls(self.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url).await?;
        ldap3::drive!(conn);
        if let Some((dn, secret)) = &self.bind {
            ldap.simple_bind(dn, secret).await?.success()?;
        }
        let filter = self.filter.replace("{user}", &ldap_escape(user));
        let found = ldap
            .search(&self.base, Scope::Subtree, &filter, vec!["1.1"])
            .await?
            .success();
        let (entries, _) = found.map_err(|e| DirectoryError::Search(e.to_string()))?;
        // Exactly one person: a filter that matches several is the admin's mistake, and
        // guessing which one is meant would be ours.
        let [entry] = entries.as_slice() else {
            let _ = ldap.unbind().await;
            return Ok(false);
        };
        let dn = SearchEntry::construct(entry.clone()).dn;
        let bound = ldap.simple_bind(&dn, password).await?.success().is_ok();
        let _ = ldap.unbind().await;
        Ok(bound)
    }
}

/// Whether `url` may carry passwords as configured: over TLS (`ldaps://`, or StartTLS), or
/// to a directory on this machine, where nothing crosses a network.
pub fn safe_transport(url: &str, starttls: bool) -> bool {
    if url.starts_with("ldaps://") || (starttls && url.starts_with("ldap://")) {
        return true;
    }
    let Some(rest) = url.strip_prefix("ldap://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::safe_transport;

    #[test]
    fn passwords_cross_a_network_only_encrypted() {
        assert!(safe_transport("ldaps://dc.schule.local", false));
        assert!(safe_transport("ldap://dc.schule.local", true));
        assert!(safe_transport("ldap://127.0.0.1:3890", false));
        assert!(safe_transport("ldap://localhost/", false));
        assert!(!safe_transport("ldap://dc.schule.local:389", false));
        assert!(!safe_transport("http://dc.schule.local", true));
    }
}
