//! HTTPS without a proxy: the TLS side of the HTTPS listener, with its certificate either
//! obtained and renewed over ACME (`domain`) or read from PEM files (`tls_cert`, `tls_key`).
//!
//! - **ACME**: rustls-acme orders a certificate for `domain` from `acme_directory` and answers
//!   the CA's TLS-ALPN-01 challenge on the HTTPS listener itself (a handshake that asks for
//!   `acme-tls/1`), so the CA must reach that listener on port 443. Account key and
//!   certificate are kept in `acme_cache_dir`: a restart deploys the cached certificate
//!   without a new order. Renewal starts a third of the lifetime before expiry. A failed
//!   order is logged at `warn` with the CA's reason and retried, 1 s later, then 2 s, 4 s… up
//!   to 18 hours apart; until a certificate exists, TLS handshakes fail (plain HTTP still
//!   answers with its redirect and `/healthz`).
//! - **Files**: read at startup (an unreadable or invalid pair refuses to start) and again
//!   when either file's modification time changes, looked at every [`RELOAD_CHECK`]; a pair
//!   that does not load then is logged and the old certificate kept.
//!
//! The task that keeps the certificate fresh ends when the server stops.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// How often the certificate files are looked at for a renewal (a certbot run, a school
/// CA's new certificate). A minute: a renewed certificate is in use well before the old one
/// expires (days), and a `stat` of two files a minute costs nothing.
pub const RELOAD_CHECK: Duration = Duration::from_secs(60);

/// The ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("the key in {path} is not one rustls can sign with: {source}")]
    BadKey {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("the certificate and the key do not belong together: {0}")]
    Mismatch(rustls::Error),
    #[error("acme_ca_file {path}: {source}")]
    BadCa {
        path: PathBuf,
        source: rustls::Error,
    },
}

/// Where the certificate comes from; decides what [`Tls::run`] does.
enum Source {
    Acme(Box<rustls_acme::AcmeState<std::io::Error>>),
    Files(Arc<FileResolver>),
}

/// The HTTPS listener's TLS: the acceptor for connections, and what keeps its certificate.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    source: Source,
}

impl Tls {
    /// TLS as `config` asks for it; `None` when it names no certificate (plain HTTP only).
    pub fn from_config(config: &Config) -> Result<Option<Tls>, TlsError> {
        if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            let resolver = Arc::new(FileResolver::load(cert, key)?);
            let acceptor = acceptor(resolver.clone(), false);
            let source = Source::Files(resolver);
            return Ok(Some(Tls { acceptor, source }));
        }
        if config.domain.is_empty() {
            return Ok(None);
        }
        let state = acme_state(config)?;
        let acceptor = acceptor(state.resolver(), true);
        let source = Source::Acme(Box::new(state));
        Ok(Some(Tls { acceptor, source }))
    }

    /// Keeps the certificate fresh until `stop`: drives ACME orders and renewals, or watches
    /// the files.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let work = async move {
            match self.source {
                Source::Acme(state) => drive_acme(*state).await,
                Source::Files(resolver) => watch_files(&resolver).await,
            }
        };
        tokio::select! {
            _ = work => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// HTTP/1.1 only, as the plain listener (serve.rs drives hyper's HTTP/1); `acme-tls/1` for
/// the CA's challenge handshakes when ACME is on.
fn acceptor(resolver: Arc<dyn ResolvesServerCert>, acme: bool) -> TlsAcceptor {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if acme {
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    TlsAcceptor::from(Arc::new(config))
}

fn acme_state(config: &Config) -> Result<rustls_acme::AcmeState<std::io::Error>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.acme_ca_file {
        for cert in read_certs(path)? {
            (roots.add(cert)).map_err(|source| TlsError::BadCa {
                path: path.clone(),
                source,
            })?;
        }
    }
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let cache = (config.acme_cache_dir.clone()).expect("check() requires acme_cache_dir");
    let acme = rustls_acme::AcmeConfig::new_with_client_config(&config.domain, Arc::new(client))
        .directory(&config.acme_directory)
        .contact(config.acme_email.iter().map(|e| format!("mailto:{e}")))
        .cache(rustls_acme::caches::DirCache::new(cache));
    Ok(acme.state())
}

/// Logs what ACME does: the admin's only view of it. rustls-acme retries a failed order by
/// itself (backing off), so every error is a `warn`, never the end.
async fn drive_acme(mut state: rustls_acme::AcmeState<std::io::Error>) {
    use rustls_acme::EventOk;
    while let Some(event) = state.next().await {
        match event {
            Ok(EventOk::DeployedCachedCert) => {
                tracing::info!("https: using the certificate from the ACME cache");
            }
            Ok(EventOk::DeployedNewCert) => tracing::info!("https: new certificate deployed"),
            Ok(EventOk::CertCacheStore) => tracing::info!("https: certificate cached"),
            Ok(EventOk::AccountCacheStore) => tracing::info!("https: ACME account key cached"),
            // The CA's reason is in the error: a refused connection to the directory, or a
            // challenge that could not reach port 443 under the domain.
            Err(e) => tracing::warn!(
                error = %e,
                "https: no certificate from the ACME server yet, retrying"
            ),
        }
    }
}

/// Reloads the files when they change; keeps the old certificate if the new ones do not load
/// (a half-written renewal is read again at the next look).
async fn watch_files(resolver: &FileResolver) {
    let mut seen = resolver.mtimes();
    let mut tick = tokio::time::interval(RELOAD_CHECK);
    tick.tick().await;
    loop {
        tick.tick().await;
        match resolver.look(&mut seen) {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(cert = %resolver.cert.display(), "https: certificate reloaded");
            }
            Err(e) => tracing::warn!(error = %e, "https: changed certificate not loaded"),
        }
    }
}

/// The certificate from `tls_cert` and `tls_key`, swapped whole on reload. A std lock, not a
/// tokio one: it is held only to clone an `Arc`, inside rustls' synchronous callback.
#[derive(Debug)]
struct FileResolver {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl FileResolver {
    fn load(cert: &Path, key: &Path) -> Result<FileResolver, TlsError> {
        let current = RwLock::new(Arc::new(certified_key(cert, key)?));
        Ok(FileResolver {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current,
        })
    }

    /// Reloads the pair if either file changed since `seen` (which then moves on); whether
    /// it did. On an error `seen` stays, so the next look tries again.
    fn look(&self, seen: &mut [Option<SystemTime>; 2]) -> Result<bool, TlsError> {
        let now = self.mtimes();
        if now == *seen {
            return Ok(false);
        }
        let fresh = Arc::new(certified_key(&self.cert, &self.key)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        *seen = now;
        Ok(true)
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn mtimes(&self) -> [Option<SystemTime>; 2] {
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        [mtime(&self.cert), mtime(&self.key)]
    }
}

impl ResolvesServerCert for FileResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The chain in `cert` (leaf first, as certbot's `fullchain.pem`) with the key in `key`.
fn certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain = read_certs(cert)?;
    let der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|_| TlsError::NoKey {
        path: key.to_path_buf(),
    })?;
    let certified = CertifiedKey::from_der(chain, der, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch(e),
        source => TlsError::BadKey {
            path: key.to_path_buf(),
            source,
        },
    })?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn pair(name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_string()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn leaf(resolver: &FileResolver) -> Vec<u8> {
        resolver.current().cert[0].to_vec()
    }

    #[test]
    fn changed_files_are_reloaded_and_a_broken_pair_keeps_the_old_certificate() {
        let dir = std::env::temp_dir().join(format!("aula-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        let write = |(cert, key): &(String, String)| {
            std::fs::write(&cert_path, cert).unwrap();
            std::fs::write(&key_path, key).unwrap();
        };
        let first = pair("aula.test");
        write(&first);
        let resolver = FileResolver::load(&cert_path, &key_path).unwrap();
        let mut seen = resolver.mtimes();
        let original = leaf(&resolver);
        assert!(!resolver.look(&mut seen).unwrap(), "unchanged");

        // mtimes have coarse steps on some file systems: make the change visible.
        let later = |p: &Path, secs| {
            let f = std::fs::File::options().write(true).open(p).unwrap();
            f.set_modified(SystemTime::now() + Duration::from_secs(secs))
                .unwrap();
        };
        let second = pair("aula.test");
        std::fs::write(&cert_path, &second.0).unwrap();
        later(&cert_path, 5);
        assert!(
            matches!(resolver.look(&mut seen), Err(TlsError::Mismatch(_))),
            "a new certificate with the old key: half a renewal"
        );
        assert_eq!(leaf(&resolver), original, "the old one stays");

        std::fs::write(&key_path, &second.1).unwrap();
        later(&key_path, 10);
        assert!(resolver.look(&mut seen).unwrap(), "the whole renewal");
        assert_ne!(leaf(&resolver), original);
        assert!(!resolver.look(&mut seen).unwrap(), "and only once");

        std::fs::write(&key_path, "not a key").unwrap();
        assert!(matches!(
            FileResolver::load(&cert_path, &key_path),
            Err(TlsError::NoKey { .. })
        ));
        std::fs::write(&cert_path, "").unwrap();
        assert!(matches!(
            FileResolver::load(&cert_path, &key_path),
            Err(TlsError::NoCertificate { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
