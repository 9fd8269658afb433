//! Aula's settings: one typed [`Config`], read from an optional TOML file, then overridden by
//! environment variables and command-line flags (flags win). docs/operations.md lists them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the web pages, REST API and WebSocket listen. All interfaces on 8080, so a
    /// reverse proxy on the same host or a browser on the LAN can reach it.
    pub http_addr: SocketAddr,
    /// The address people use to reach Aula (e.g. `https://aula.schule.de`), for the links the
    /// teacher shares. Unset: taken from each request's Host header (fine behind a proxy that
    /// passes Host and X-Forwarded-Proto).
    pub public_url: Option<String>,
    /// Where HTTPS listens when TLS is on (`domain`, or `tls_cert` and `tls_key`). 443: the
    /// port browsers use without one in the URL, and the one the ACME CA connects to for its
    /// TLS-ALPN-01 challenge. With TLS on, `http_addr` only redirects here (set it to port 80).
    pub https_addr: SocketAddr,
    /// The names to get a certificate for over ACME (e.g. `aula.schule.de`); each must point
    /// at this server and reach `https_addr` as port 443 from the CA. Empty: no ACME.
    pub domain: Vec<String>,
    /// Contact address for the ACME account (the CA writes before a certificate expires
    /// unrenewed). Unset: none, which Let's Encrypt allows.
    pub acme_email: Option<String>,
    /// The ACME server's directory URL. Let's Encrypt's production CA: the one browsers trust
    /// and that schools use for free.
    pub acme_directory: String,
    /// Where the ACME account key and certificates are kept across restarts. Required with
    /// `domain` (no default): without a cache every restart would order a new certificate,
    /// and Let's Encrypt issues only 5 a week for the same names. The package uses
    /// `/var/lib/aula/acme` (systemd's `StateDirectory`).
    pub acme_cache_dir: Option<PathBuf>,
    /// An extra root certificate (PEM) to trust for the ACME server's own HTTPS: a school's
    /// internal ACME CA, or a test CA. Unset: the Web PKI roots only.
    pub acme_ca_file: Option<PathBuf>,
    /// A certificate chain (PEM, leaf first, e.g. certbot's `fullchain.pem`) to serve HTTPS
    /// with instead of ACME; reloaded when the file changes. Needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Host names the links of a new room may be built from when `public_url` is unset, as a
    /// request's `Host` header names them (without the port), e.g. `aula.schule.de`. This
    /// machine's own IP addresses and `localhost` always may, so a LAN address or a test run
    /// needs no setting. Empty: those only. A request naming any other host is refused, as
    /// the links would send a class to a name nobody configured (a proxy that passes any
    /// `Host`, or someone else's DNS name pointed at this server).
    pub allowed_hosts: Vec<String>,
    /// The one UDP port all media uses. 10000: outside the ephemeral range, easy to open in a
    /// firewall.
    pub media_port: u16,
    /// Local IP addresses to receive media on. Empty: every IPv4 address of the machine, so
    /// localhost and the LAN both work out of the box.
    pub media_ips: Vec<IpAddr>,
    /// The public IP to advertise to browsers when the server sits behind 1:1 NAT (the port
    /// must be forwarded unchanged). Unset: advertise the local addresses.
    pub public_ip: Option<IpAddr>,
    /// Media worker threads. 0: one per core, the point of having cores.
    pub media_workers: usize,
    /// Datagrams queued per media worker before new ones are dropped. 4096 is about 100 ms of
    /// media for a busy worker: longer queues only add delay.
    pub media_queue: usize,
    /// Send datagrams for one browser in a batch as one UDP GSO send: a third of the kernel's
    /// cost per datagram (docs/benchmarks.md, "The floor"). Turns itself off if the kernel
    /// refuses; off only to measure the difference.
    pub media_gso: bool,
    /// Receive media with `recvmmsg`, many datagrams per system call. Off only to measure.
    pub media_recv_batch: bool,
    /// The school's uplink for media, in Mbit/s: what all rooms together may send. Unset, the
    /// server sends what the subscribers' links take; set it a little below the uplink
    /// (leaving room for other traffic) and the rooms share it by need, teacher and audio
    /// first.
    pub egress_limit_mbps: Option<f64>,
    /// What any one room may send, Mbit/s; unset, no limit beyond the server's.
    pub room_egress_limit_mbps: Option<f64>,
    /// Adapt every subscriber's video to its link and the budgets, and switch off encodings
    /// nobody takes. Off, each subscriber gets the layer its tile size calls for whatever its
    /// link or the budget: only to measure what adaptation saves (docs/benchmarks.md).
    pub bandwidth_adaptation: bool,
    /// People on the server at once, whatever the rooms: the ceiling when the measurements
    /// (CPU, egress) do not stop joins before. Sized for the 2-core reference machine
    /// (docs/operations.md, "When the server is full").
    pub max_participants: usize,
    /// Joins (ICE and DTLS handshakes, first keyframes) started per second at most; the rest
    /// wait their turn in the queue.
    pub join_rate: f64,
    /// People who may wait in the join queue; beyond, pages retry by themselves.
    pub queue_limit: usize,
    /// Places in the queue one address may hold (a school's NAT holds a class).
    pub queue_per_address: usize,
    /// Open WebSockets one client address may hold (addresses.rs says who shares one). 500:
    /// a school behind one NAT may be everyone the server carries (`max_participants`, 400),
    /// with pages reconnecting and waiting besides; one machine still holds at most an eighth
    /// of `max_connections`. Beyond it the upgrade gets `429`.
    pub sockets_per_address: usize,
    /// TCP connections one client address may hold open at once, WebSockets and page loads
    /// together. 1000: the WebSockets of `sockets_per_address` and the connections their
    /// pages load with (a browser opens up to six, kept 10 s); a quarter of `max_connections`,
    /// so one machine cannot hold them all. Beyond it a connection gets the plain `503`. Only
    /// connections that come straight from the client count: behind a reverse proxy on this
    /// machine they come from loopback, and the proxy's own limits apply.
    pub connections_per_address: usize,
    /// Rooms one address may create an hour (evenly: one every 3600/n seconds after the
    /// first n). 100: a school's every teacher starting a lesson in the same hour, some twice;
    /// a script gets no further than that, and its unused rooms close after
    /// `unused_room_ttl_secs`.
    pub rooms_per_address_per_hour: usize,
    /// Rooms created from one address open at once. 100: every class of a large school in a
    /// lesson at the same time; a fifth of `max_rooms`, so one address cannot take them all.
    pub open_rooms_per_address: usize,
    /// Joins one address may start a minute (evenly: one every 60/n seconds after the first
    /// n); a resume does not count. 600: the whole server's 400 pupils joining from one NAT in
    /// the same minute at 8 o'clock, and half of them again for a reload; beyond, the page
    /// is told `server_busy` and tries again by itself.
    pub joins_per_address_per_minute: usize,
    /// People from one address waiting in one room's lobby at once. 40: a class of 30 and
    /// its guests knocking at once from the school's NAT; a room's lobby holds
    /// `max_participants_per_room` (50), so one address cannot fill it alone. A school that
    /// lists its NAT in `exempt_networks` may set this to a family's size (5).
    pub lobby_per_address: usize,
    /// Networks (CIDR: `203.0.113.0/28`, `2001:db8:5::/48`, or one address) whose clients
    /// are not counted against the per-address caps above: the school's own NAT, a
    /// university's. (The join queue's `queue_per_address` counts them still.) Loopback never is counted: it is this machine itself (a reverse
    /// proxy on it passes each client's own address in `X-Forwarded-For`).
    pub exempt_networks: Vec<String>,
    /// Participants per room. 50 covers a class with guests or a large faculty meeting.
    pub max_participants_per_room: usize,
    /// Audio and video tracks one participant may publish: microphone, camera, screen.
    pub max_tracks_per_participant: usize,
    /// Rooms open at once. 500 is far beyond what 2 cores can carry; it stops a runaway script.
    pub max_rooms: usize,
    /// Seconds a room stays open after the last person left, so a reload or a short network
    /// drop does not end the lesson.
    pub empty_room_grace_secs: u64,
    /// Seconds a new room waits for its first participant before it is closed.
    pub unused_room_ttl_secs: u64,
    /// Seconds a WebSocket may stay silent before the server drops it as dead. The server pings
    /// every third of this and browsers answer by themselves, so only a vanished device (lid
    /// closed, Wi-Fi gone without a goodbye) stays silent. 60: a mobile network's short
    /// outages survive; a dead socket does not hold a seat or keep a room open for long.
    pub ws_idle_timeout_secs: u64,
    /// Seconds a WebSocket may take to send its `join` (or `resume`): one that never does
    /// holds memory and a connection for nothing. A page sends it at once; a refused name may
    /// be corrected on the same socket, which a minute leaves time for (a page whose socket
    /// was closed meanwhile opens a new one when the name is sent again).
    pub ws_join_timeout_secs: u64,
    /// Seconds the server keeps the seat of a participant whose WebSocket dropped without a
    /// `leave`, for the page to `resume` (docs/protocol.md). 30: longer than a Wi-Fi roam or a
    /// switch to mobile data, and about what a browser's ICE takes to declare a path failed;
    /// the others see "reconnecting…" on the tile meanwhile, not a leave and a join.
    pub resume_grace_secs: u64,
    /// Seconds the seat is kept after `leave` with `may_return` (a page being unloaded: a
    /// reload or a closed tab, which the page cannot tell apart). 4: a reload resumes well
    /// within it on a slow laptop, and a closed tab's tile goes a few seconds later.
    pub unload_grace_secs: u64,
    /// TURN servers handed to every participant, for networks that block UDP: `turn:` and
    /// `turns:` URLs of a coturn run with `use-auth-secret` (docs/operations.md). Empty: none.
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`: each participant gets credentials made from it that
    /// expire after `turn_ttl_secs` (coturn's REST API scheme). Required with `turn_urls`.
    pub turn_secret: Option<String>,
    /// How long TURN credentials are good for, from the join. 12 hours: a school day, so a
    /// room open all day never loses its relay; a leaked credential is worthless the next day.
    pub turn_ttl_secs: u64,
    /// Browser origins besides this server's own (`public_url`'s, or the one the request's
    /// `Host` names) that may create rooms and open WebSockets, e.g. a school portal that
    /// embeds a "start a class" button: `https://portal.schule.de`. Empty: our own only.
    pub allowed_origins: Vec<String>,
    /// A bearer token that lets a scraper read `/metrics` from anywhere. Without it (and
    /// without it in the request) `/metrics` answers only direct requests from this machine
    /// (loopback, no proxy headers), so a reverse proxy never exposes it.
    pub metrics_token: Option<String>,
    /// Open TCP connections at once, HTTP and HTTPS together, WebSockets included (a TLS
    /// connection holds its place from before its handshake); beyond it a connection gets a
    /// plain `503` and is closed. 4096: everyone in the rooms (`max_participants`) and in the join
    /// queue (`queue_limit`) at the defaults, plus their page loads; at most about 600 MB of
    /// connection buffers, which a small server has.
    pub max_connections: usize,
    /// Who may start rooms: `staff` (signed in, with an account in `accounts_file` or the
    /// directory of `ldap_url`) or `open` (anyone who reaches the site: a server only the
    /// school's own network reaches, and tests). Staff by default: a site on the internet
    /// must not be anyone's free video service.
    pub room_creation: RoomCreation,
    /// The staff accounts (`aula user add`; one `name:argon2-hash` per line). Relative paths
    /// are from the working directory; the Debian package keeps it in `/var/lib/aula`.
    pub accounts_file: PathBuf,
    /// Seconds a staff sign-in lasts. 12 hours: a school day, so a teacher signs in once in
    /// the morning; on a shared staff-room PC it is gone by the next day (or at "Sign out").
    pub staff_session_secs: u64,
    /// The school's directory, for staff sign-in: `ldaps://dc.schule.local` (or `ldap://`
    /// with `ldap_starttls`, or `ldap://` on this machine). Unset: local accounts only.
    pub ldap_url: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS before any password is sent.
    pub ldap_starttls: bool,
    /// Where people are searched, e.g. `ou=people,dc=schule,dc=de`.
    pub ldap_base: String,
    /// The search for the person signing in, `{user}` standing for the name typed (escaped).
    /// `(uid={user})` fits OpenLDAP-based school servers; Active Directory wants
    /// `(sAMAccountName={user})`; add a group to let only staff in, e.g.
    /// `(&(uid={user})(memberOf=cn=teachers,ou=groups,dc=schule,dc=de))`.
    pub ldap_filter: String,
    /// A service account to search as; unset: search anonymously.
    pub ldap_bind_dn: Option<String>,
    /// The service account's password.
    pub ldap_bind_password: Option<String>,
    /// Log filter (tracing's EnvFilter syntax); unset: `RUST_LOG` if that is set, else
    /// `info`, which logs no names and no secrets.
    pub log: Option<String>,
    /// `text` (one line per event) or `json` (one object per line, for a log collector).
    pub log_format: LogFormat,
}

/// Who may start rooms (`room_creation`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum RoomCreation {
    #[default]
    Staff,
    Open,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The log filter to start with: `log` if it was set anywhere (the file, `--log`,
/// `AULA_LOG`), else `RUST_LOG` if set, else the default (`info`).
pub fn requested_log(config: &Config, rust_log: Option<String>) -> String {
    (config.log.clone())
        .or(rust_log)
        .unwrap_or_else(|| "info".into())
}

/// Let's Encrypt's production ACME directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

impl Default for Config {
    fn default() -> Config {
        Config {
            http_addr: "0.0.0.0:8080".parse().expect("valid literal"),
            public_url: None,
            https_addr: "0.0.0.0:443".parse().expect("valid literal"),
            domain: Vec::new(),
            acme_email: None,
            acme_directory: LETS_ENCRYPT.into(),
            acme_cache_dir: None,
            acme_ca_file: None,
            tls_cert: None,
            tls_key: None,
            allowed_hosts: Vec::new(),
            media_port: 10000,
            media_ips: Vec::new(),
            public_ip: None,
            media_workers: 0,
            media_queue: 4096,
            media_gso: true,
            media_recv_batch: true,
            egress_limit_mbps: None,
            room_egress_limit_mbps: None,
            bandwidth_adaptation: true,
            max_participants: 400,
            join_rate: 30.0,
            queue_limit: 2000,
            queue_per_address: 200,
            sockets_per_address: 500,
            connections_per_address: 1000,
            rooms_per_address_per_hour: 100,
            open_rooms_per_address: 100,
            joins_per_address_per_minute: 600,
            lobby_per_address: 40,
            exempt_networks: Vec::new(),
            max_participants_per_room: 50,
            max_tracks_per_participant: 3,
            max_rooms: 500,
            empty_room_grace_secs: 60,
            unused_room_ttl_secs: 600,
            ws_idle_timeout_secs: 60,
            ws_join_timeout_secs: 60,
            resume_grace_secs: 30,
            unload_grace_secs: 4,
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl_secs: 12 * 3600,
            allowed_origins: Vec::new(),
            metrics_token: None,
            max_connections: 4096,
            room_creation: RoomCreation::Staff,
            accounts_file: PathBuf::from("aula-accounts"),
            staff_session_secs: 12 * 3600,
            ldap_url: None,
            ldap_starttls: false,
            ldap_base: String::new(),
            ldap_filter: "(uid={user})".into(),
            ldap_bind_dn: None,
            ldap_bind_password: None,
            log_format: LogFormat::Text,
            log: None,
        }
    }
}

impl Config {
    /// Loopback only, ephemeral ports, short graces: for tests that start a server in-process.
    pub fn for_tests() -> Config {
        Config {
            http_addr: "127.0.0.1:0".parse().expect("valid literal"),
            https_addr: "127.0.0.1:0".parse().expect("valid literal"),
            media_port: 0,
            media_ips: vec![IpAddr::from([127, 0, 0, 1])],
            media_workers: 2,
            empty_room_grace_secs: 2,
            unused_room_ttl_secs: 30,
            resume_grace_secs: 3,
            unload_grace_secs: 1,
            room_creation: RoomCreation::Open,
            ..Config::default()
        }
    }

    /// The per-address caps, with `exempt_networks` parsed (check() refused bad ones).
    pub(crate) fn address_caps(&self) -> crate::addresses::Caps {
        let exempt = self.exempt_networks.iter();
        crate::addresses::Caps {
            sockets: self.sockets_per_address,
            connections: self.connections_per_address,
            rooms_per_hour: self.rooms_per_address_per_hour,
            open_rooms: self.open_rooms_per_address,
            joins_per_minute: self.joins_per_address_per_minute,
            exempt: exempt
                .filter_map(|n| crate::addresses::Network::parse(n))
                .collect(),
        }
    }

    pub fn empty_room_grace(&self) -> Duration {
        Duration::from_secs(self.empty_room_grace_secs)
    }

    pub fn unused_room_ttl(&self) -> Duration {
        Duration::from_secs(self.unused_room_ttl_secs)
    }

    pub fn ws_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.ws_idle_timeout_secs.max(1))
    }

    pub fn ws_join_timeout(&self) -> Duration {
        Duration::from_secs(self.ws_join_timeout_secs.max(1))
    }

    pub fn staff_session(&self) -> Duration {
        Duration::from_secs(self.staff_session_secs)
    }

    pub fn resume_grace(&self) -> Duration {
        Duration::from_secs(self.resume_grace_secs)
    }

    pub fn unload_grace(&self) -> Duration {
        Duration::from_secs(self.unload_grace_secs.min(self.resume_grace_secs))
    }

    /// Whether HTTPS is served (by ACME or from files).
    pub fn tls(&self) -> bool {
        !self.domain.is_empty() || self.tls_cert.is_some()
    }

    /// Defaults, then the TOML file if given, then environment and flags.
    pub fn load(args: Args) -> anyhow::Result<Config> {
        let mut config = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        args.apply(&mut config);
        config.check()?;
        Ok(config)
    }

    /// Settings that cannot work together, refused at startup with what to change.
    pub fn check(&self) -> anyhow::Result<()> {
        for url in &self.turn_urls {
            if !["turn:", "turns:", "stun:"]
                .iter()
                .any(|s| url.starts_with(s))
            {
                anyhow::bail!("turn_urls: {url:?} is not a turn:, turns: or stun: URL");
            }
        }
        for net in &self.exempt_networks {
            if crate::addresses::Network::parse(net).is_none() {
                anyhow::bail!("exempt_networks: {net:?} is not a network (203.0.113.0/28)");
            }
        }
        for host in &self.allowed_hosts {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let name = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
            let valid =
                bare.parse::<IpAddr>().is_ok() || (!bare.is_empty() && bare.chars().all(name));
            if !valid {
                anyhow::bail!(
                    "allowed_hosts: {host:?} is not a host name (aula.schule.de, no scheme or port)"
                );
            }
        }
        for origin in &self.allowed_origins {
            if split_origin(origin).is_none() {
                anyhow::bail!(
                    "allowed_origins: {origin:?} is not an origin (scheme://host[:port])"
                );
            }
        }
        if let Some(url) = &self.ldap_url {
            if !crate::staff::ldap_transport_is_safe(url, self.ldap_starttls) {
                anyhow::bail!(
                    "ldap_url {url:?} would send passwords unencrypted: use ldaps://, or set \
                     ldap_starttls = true (ldap:// is fine only on this machine)"
                );
            }
            if !self.ldap_filter.contains("{user}") {
                anyhow::bail!("ldap_filter must contain {{user}}, where the name goes");
            }
        }
        // Zero here is no "unlimited" (as media_workers = 0 is "automatic"): admission would
        // let one person in every 100 s, and every new room would close at once.
        if !(self.join_rate.is_finite() && self.join_rate > 0.0) {
            anyhow::bail!(
                "join_rate: {} is no rate; give the joins a second to start (30 by default)",
                self.join_rate
            );
        }
        if self.unused_room_ttl_secs == 0 {
            anyhow::bail!(
                "unused_room_ttl_secs: 0 would close every room before anyone could join \
                 (600 by default)"
            );
        }
        if self.metrics_token.as_deref() == Some("") {
            anyhow::bail!("metrics_token is empty: leave it out, or give a long random one");
        }
        self.check_tls()?;
        let needs_secret = self.turn_urls.iter().any(|u| !u.starts_with("stun:"));
        if needs_secret && self.turn_secret.as_deref().is_none_or(str::is_empty) {
            anyhow::bail!("turn_urls needs turn_secret (coturn's static-auth-secret)");
        }
        Ok(())
    }

    fn check_tls(&self) -> anyhow::Result<()> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            anyhow::bail!("tls_cert and tls_key go together: set both, or neither");
        }
        if self.tls_cert.is_some() && !self.domain.is_empty() {
            anyhow::bail!(
                "domain (a certificate over ACME) and tls_cert (one from files) exclude each \
                 other: set one"
            );
        }
        for name in &self.domain {
            // No `*`: the ACME challenge Aula answers (TLS-ALPN-01) gets no wildcard certificate.
            let valid = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
            if name.is_empty() || !name.chars().all(valid) {
                anyhow::bail!("domain: {name:?} is not a DNS name (like aula.schule.de)");
            }
        }
        if !self.domain.is_empty() && self.acme_cache_dir.is_none() {
            anyhow::bail!(
                "domain needs acme_cache_dir (e.g. /var/lib/aula/acme): without it every \
                 restart orders a new certificate, and the CA allows only a few a week"
            );
        }
        if !self.acme_directory.starts_with("https://") {
            anyhow::bail!("acme_directory must be an https:// URL");
        }
        if self.acme_email.as_deref().is_some_and(|e| !e.contains('@')) {
            anyhow::bail!("acme_email: give an address like admin@schule.de");
        }
        // Without a scheme every page's origin would differ from it: each WebSocket, sign-in
        // and new room refused as from a foreign site.
        if let Some(url) = &self.public_url
            && split_origin(crate::guard::origin_of(url)).is_none()
        {
            anyhow::bail!("public_url: {url:?} is not a URL like https://aula.schule.de");
        }
        if self.tls()
            && self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://"))
        {
            anyhow::bail!(
                "public_url is http:// but Aula serves HTTPS (domain or tls_cert): links would \
                 go to the redirect; use https://"
            );
        }
        if self.tls() && self.https_addr == self.http_addr {
            anyhow::bail!("https_addr and http_addr must differ");
        }
        Ok(())
    }
}

/// Command-line flags; each also reads an `AULA_*` environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "aula",
    version,
    about = "Video classes for schools, on one small server"
)]
pub struct Args {
    /// TOML config file (see docs/operations.md).
    #[arg(long, env = "AULA_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
    #[arg(long, env = "AULA_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    #[arg(long, env = "AULA_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[arg(long, env = "AULA_HTTPS_ADDR")]
    pub https_addr: Option<SocketAddr>,
    /// Comma-separated names to get a certificate for over ACME.
    #[arg(long, env = "AULA_DOMAIN", value_delimiter = ',')]
    pub domain: Option<Vec<String>>,
    #[arg(long, env = "AULA_ACME_EMAIL")]
    pub acme_email: Option<String>,
    #[arg(long, env = "AULA_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,
    #[arg(long, env = "AULA_ACME_CACHE_DIR")]
    pub acme_cache_dir: Option<PathBuf>,
    #[arg(long, env = "AULA_ACME_CA_FILE")]
    pub acme_ca_file: Option<PathBuf>,
    #[arg(long, env = "AULA_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, env = "AULA_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Comma-separated host names for the links when public_url is unset.
    #[arg(long, env = "AULA_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Option<Vec<String>>,
    #[arg(long, env = "AULA_MEDIA_PORT")]
    pub media_port: Option<u16>,
    /// Comma-separated local IPs for media.
    #[arg(long, env = "AULA_MEDIA_IPS", value_delimiter = ',')]
    pub media_ips: Option<Vec<IpAddr>>,
    #[arg(long, env = "AULA_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,
    #[arg(long, env = "AULA_MEDIA_WORKERS")]
    pub media_workers: Option<usize>,
    /// true or false.
    #[arg(long, env = "AULA_MEDIA_GSO")]
    pub media_gso: Option<bool>,
    /// true or false.
    #[arg(long, env = "AULA_MEDIA_RECV_BATCH")]
    pub media_recv_batch: Option<bool>,
    /// Mbit/s for all rooms together.
    #[arg(long, env = "AULA_EGRESS_LIMIT_MBPS")]
    pub egress_limit_mbps: Option<f64>,
    /// Mbit/s for any one room.
    #[arg(long, env = "AULA_ROOM_EGRESS_LIMIT_MBPS")]
    pub room_egress_limit_mbps: Option<f64>,
    /// true or false.
    #[arg(long, env = "AULA_BANDWIDTH_ADAPTATION")]
    pub bandwidth_adaptation: Option<bool>,
    #[arg(long, env = "AULA_MAX_PARTICIPANTS")]
    pub max_participants: Option<usize>,
    #[arg(long, env = "AULA_JOIN_RATE")]
    pub join_rate: Option<f64>,
    #[arg(long, env = "AULA_QUEUE_LIMIT")]
    pub queue_limit: Option<usize>,
    #[arg(long, env = "AULA_QUEUE_PER_ADDRESS")]
    pub queue_per_address: Option<usize>,
    #[arg(long, env = "AULA_SOCKETS_PER_ADDRESS")]
    pub sockets_per_address: Option<usize>,
    #[arg(long, env = "AULA_CONNECTIONS_PER_ADDRESS")]
    pub connections_per_address: Option<usize>,
    #[arg(long, env = "AULA_ROOMS_PER_ADDRESS_PER_HOUR")]
    pub rooms_per_address_per_hour: Option<usize>,
    #[arg(long, env = "AULA_OPEN_ROOMS_PER_ADDRESS")]
    pub open_rooms_per_address: Option<usize>,
    #[arg(long, env = "AULA_JOINS_PER_ADDRESS_PER_MINUTE")]
    pub joins_per_address_per_minute: Option<usize>,
    #[arg(long, env = "AULA_LOBBY_PER_ADDRESS")]
    pub lobby_per_address: Option<usize>,
    /// Comma-separated networks (CIDR) not counted against the per-address caps.
    #[arg(long, env = "AULA_EXEMPT_NETWORKS", value_delimiter = ',')]
    pub exempt_networks: Option<Vec<String>>,
    #[arg(long, env = "AULA_MAX_PARTICIPANTS_PER_ROOM")]
    pub max_participants_per_room: Option<usize>,
    #[arg(long, env = "AULA_MAX_ROOMS")]
    pub max_rooms: Option<usize>,
    #[arg(long, env = "AULA_EMPTY_ROOM_GRACE_SECS")]
    pub empty_room_grace_secs: Option<u64>,
    #[arg(long, env = "AULA_RESUME_GRACE_SECS")]
    pub resume_grace_secs: Option<u64>,
    #[arg(long, env = "AULA_UNLOAD_GRACE_SECS")]
    pub unload_grace_secs: Option<u64>,
    #[arg(long, env = "AULA_WS_JOIN_TIMEOUT_SECS")]
    pub ws_join_timeout_secs: Option<u64>,
    #[arg(long, env = "AULA_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Option<Vec<String>>,
    #[arg(long, env = "AULA_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    #[arg(long, env = "AULA_TURN_TTL_SECS")]
    pub turn_ttl_secs: Option<u64>,
    #[arg(long, env = "AULA_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    #[arg(long, env = "AULA_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Option<Vec<String>>,
    #[arg(long, env = "AULA_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// staff or open.
    #[arg(long, env = "AULA_ROOM_CREATION", value_enum)]
    pub room_creation: Option<RoomCreation>,
    #[arg(long, env = "AULA_ACCOUNTS_FILE", global = true)]
    pub accounts_file: Option<PathBuf>,
    #[arg(long, env = "AULA_STAFF_SESSION_SECS")]
    pub staff_session_secs: Option<u64>,
    #[arg(long, env = "AULA_LDAP_URL")]
    pub ldap_url: Option<String>,
    /// true or false.
    #[arg(long, env = "AULA_LDAP_STARTTLS")]
    pub ldap_starttls: Option<bool>,
    #[arg(long, env = "AULA_LDAP_BASE")]
    pub ldap_base: Option<String>,
    #[arg(long, env = "AULA_LDAP_FILTER")]
    pub ldap_filter: Option<String>,
    #[arg(long, env = "AULA_LDAP_BIND_DN")]
    pub ldap_bind_dn: Option<String>,
    #[arg(long, env = "AULA_LDAP_BIND_PASSWORD", hide_env_values = true)]
    pub ldap_bind_password: Option<String>,
    #[arg(long, env = "AULA_LOG")]
    pub log: Option<String>,
    #[arg(long, env = "AULA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// What `aula` does besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Staff accounts in `accounts_file`: who may start rooms.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum UserAction {
    /// Adds an account; asks for its password (or reads one line from standard input).
    Add { name: String },
    /// Sets a new password for an account.
    Passwd { name: String },
    /// Removes an account; its sessions end at once (with LDAP configured: when they expire).
    Remove { name: String },
    /// Lists the accounts' names.
    List,
}

impl Args {
    fn apply(self, c: &mut Config) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        set(&mut c.http_addr, self.http_addr);
        set(&mut c.public_url, self.public_url.map(Some));
        set(&mut c.https_addr, self.https_addr);
        set(&mut c.domain, self.domain);
        set(&mut c.acme_email, self.acme_email.map(Some));
        set(&mut c.acme_directory, self.acme_directory);
        set(&mut c.acme_cache_dir, self.acme_cache_dir.map(Some));
        set(&mut c.acme_ca_file, self.acme_ca_file.map(Some));
        set(&mut c.tls_cert, self.tls_cert.map(Some));
        set(&mut c.tls_key, self.tls_key.map(Some));
        set(&mut c.allowed_hosts, self.allowed_hosts);
        set(&mut c.media_port, self.media_port);
        set(&mut c.media_ips, self.media_ips);
        set(&mut c.public_ip, self.public_ip.map(Some));
        set(&mut c.media_workers, self.media_workers);
        set(&mut c.media_gso, self.media_gso);
        set(&mut c.media_recv_batch, self.media_recv_batch);
        set(&mut c.egress_limit_mbps, self.egress_limit_mbps.map(Some));
        set(
            &mut c.room_egress_limit_mbps,
            self.room_egress_limit_mbps.map(Some),
        );
        set(&mut c.bandwidth_adaptation, self.bandwidth_adaptation);
        set(&mut c.max_participants, self.max_participants);
        set(&mut c.join_rate, self.join_rate);
        set(&mut c.queue_limit, self.queue_limit);
        set(&mut c.queue_per_address, self.queue_per_address);
        set(&mut c.sockets_per_address, self.sockets_per_address);
        set(&mut c.connections_per_address, self.connections_per_address);
        set(
            &mut c.rooms_per_address_per_hour,
            self.rooms_per_address_per_hour,
        );
        set(&mut c.open_rooms_per_address, self.open_rooms_per_address);
        set(
            &mut c.joins_per_address_per_minute,
            self.joins_per_address_per_minute,
        );
        set(&mut c.lobby_per_address, self.lobby_per_address);
        set(&mut c.exempt_networks, self.exempt_networks);
        set(
            &mut c.max_participants_per_room,
            self.max_participants_per_room,
        );
        set(&mut c.max_rooms, self.max_rooms);
        set(&mut c.empty_room_grace_secs, self.empty_room_grace_secs);
        set(&mut c.resume_grace_secs, self.resume_grace_secs);
        set(&mut c.unload_grace_secs, self.unload_grace_secs);
        set(&mut c.ws_join_timeout_secs, self.ws_join_timeout_secs);
        set(&mut c.turn_urls, self.turn_urls);
        set(&mut c.turn_secret, self.turn_secret.map(Some));
        set(&mut c.turn_ttl_secs, self.turn_ttl_secs);
        set(&mut c.max_connections, self.max_connections);
        set(&mut c.allowed_origins, self.allowed_origins);
        set(&mut c.metrics_token, self.metrics_token.map(Some));
        set(&mut c.room_creation, self.room_creation);
        set(&mut c.accounts_file, self.accounts_file);
        set(&mut c.staff_session_secs, self.staff_session_secs);
        set(&mut c.ldap_url, self.ldap_url.map(Some));
        set(&mut c.ldap_starttls, self.ldap_starttls);
        set(&mut c.ldap_base, self.ldap_base);
        set(&mut c.ldap_filter, self.ldap_filter);
        set(&mut c.ldap_bind_dn, self.ldap_bind_dn.map(Some));
        set(&mut c.ldap_bind_password, self.ldap_bind_password.map(Some));
        set(&mut c.log, self.log.map(Some));
        set(&mut c.log_format, self.log_format);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_flags_override_toml() {
        let mut c: Config = toml::from_str("media_port = 12000\nmax_rooms = 7").unwrap();
        assert_eq!(
            (c.media_port, c.max_rooms, c.http_addr.port()),
            (12000, 7, 8080)
        );
        let args = Args::parse_from(["aula", "--media-port", "13000", "--media-ips", "127.0.0.1"]);
        args.apply(&mut c);
        assert_eq!(c.media_port, 13000);
        assert_eq!(c.media_ips, vec![IpAddr::from([127, 0, 0, 1])]);
        assert_eq!(c.max_rooms, 7);
    }

    #[test]
    fn turn_urls_need_a_secret_and_turn_schemes() {
        let mut c = Config {
            turn_urls: vec!["turns:turn.schule.de:443?transport=tcp".into()],
            ..Config::default()
        };
        assert!(c.check().is_err(), "no secret");
        c.turn_secret = Some("s3cret".into());
        assert!(c.check().is_ok());
        c.turn_urls.push("https://turn.schule.de".into());
        assert!(c.check().is_err(), "not a TURN URL");
        let args = Args::parse_from([
            "aula",
            "--turn-urls",
            "turn:a.de:3478,turns:a.de:443",
            "--turn-secret",
            "x",
        ]);
        let mut c = Config::default();
        args.apply(&mut c);
        assert_eq!(c.turn_urls, ["turn:a.de:3478", "turns:a.de:443"]);
        assert!(c.check().is_ok());
    }

    #[test]
    fn rust_log_yields_to_the_log_setting() {
        let mut c = Config::default();
        assert_eq!(requested_log(&c, None), "info");
        assert_eq!(requested_log(&c, Some("debug".into())), "debug");
        Args::parse_from(["aula", "--log", "info", "--log-format", "json"]).apply(&mut c);
        assert_eq!(
            requested_log(&c, Some("debug".into())),
            "info",
            "set, even to the default"
        );
        assert_eq!(c.log_format, LogFormat::Json);
        let c: Config = toml::from_str("log = \"error\"\nlog_format = \"text\"").unwrap();
        assert_eq!(requested_log(&c, Some("debug".into())), "error");
    }

    #[test]
    fn staff_start_rooms_unless_opened_and_user_commands_take_the_accounts_file() {
        assert_eq!(Config::default().room_creation, RoomCreation::Staff);
        let c: Config = toml::from_str("room_creation = \"open\"").unwrap();
        assert_eq!(c.room_creation, RoomCreation::Open);
        let args = Args::parse_from(["aula", "user", "add", "weber", "--accounts-file", "/x"]);
        assert!(matches!(
            &args.command,
            Some(Command::User { action: UserAction::Add { name } }) if name == "weber"
        ));
        let mut c = Config::default();
        args.apply(&mut c);
        assert_eq!(c.accounts_file, PathBuf::from("/x"));
    }

    #[test]
    fn tls_from_acme_or_files_never_both() {
        let ok = |c: &Config| c.check().is_ok();
        assert!(!Config::default().tls());
        let args = ["aula", "--domain", "aula.schule.de,www.aula.schule.de"];
        let mut acme = Config::default();
        Args::parse_from(args).apply(&mut acme);
        assert_eq!(acme.domain, ["aula.schule.de", "www.aula.schule.de"]);
        assert!(acme.tls());
        assert!(!ok(&acme), "no cache: every restart would order anew");
        acme.acme_cache_dir = Some("/var/lib/aula/acme".into());
        assert!(ok(&acme));
        assert_eq!(acme.acme_directory, LETS_ENCRYPT);

        let files: Config =
            toml::from_str("tls_cert = \"/etc/ssl/aula.pem\"\ntls_key = \"/etc/ssl/aula.key\"")
                .unwrap();
        assert!(files.tls() && ok(&files));
        assert!(
            !ok(&Config {
                tls_key: None,
                ..files.clone()
            }),
            "a cert without its key"
        );
        assert!(
            !ok(&Config {
                tls_cert: None,
                ..files.clone()
            }),
            "a key without its cert"
        );
        let both = Config {
            domain: acme.domain.clone(),
            acme_cache_dir: acme.acme_cache_dir.clone(),
            ..files.clone()
        };
        assert!(!ok(&both), "ACME and files at once");

        for bad in ["", "aula.schule.de/", "https://aula.schule.de", "a b"] {
            let c = Config {
                domain: vec![bad.into()],
                ..acme.clone()
            };
            assert!(!ok(&c), "{bad:?}");
        }
        let plain = Config {
            acme_directory: "http://localhost:14000/dir".into(),
            ..acme.clone()
        };
        assert!(!ok(&plain), "the ACME directory over plain HTTP");
        let email = Config {
            acme_email: Some("mailto:x".into()),
            ..acme.clone()
        };
        assert!(!ok(&email));
        let http_links = Config {
            public_url: Some("http://aula.schule.de".into()),
            ..acme.clone()
        };
        assert!(!ok(&http_links), "links to the redirect");
        let same = Config {
            https_addr: acme.http_addr,
            ..acme
        };
        assert!(!ok(&same), "one port for both");
    }

    #[test]
    fn allowed_hosts_are_bare_host_names_or_ips() {
        let hosts = |h: &[&str]| Config {
            allowed_hosts: h.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        };
        assert!(
            hosts(&["aula.schule.de", "203.0.113.5", "[2001:db8::5]"])
                .check()
                .is_ok()
        );
        for bad in ["https://aula.schule.de", "aula.schule.de:443", "", "a/b"] {
            assert!(hosts(&[bad]).check().is_err(), "{bad}");
        }
        let mut c = Config::default();
        Args::parse_from(["aula", "--allowed-hosts", "a.de,b.de"]).apply(&mut c);
        assert_eq!(c.allowed_hosts, ["a.de", "b.de"]);
    }

    #[test]
    fn a_public_url_without_a_scheme_or_a_wildcard_domain_is_refused() {
        for url in [
            "https://aula.schule.de",
            "http://10.0.0.5:8080/",
            "https://a.de/aula/",
        ] {
            let c = Config {
                public_url: Some(url.into()),
                ..Config::default()
            };
            assert!(c.check().is_ok(), "{url}");
        }
        for url in [
            "aula.schule.de",
            "aula.schule.de/unterricht",
            "ftp://aula.schule.de",
        ] {
            let c = Config {
                public_url: Some(url.into()),
                ..Config::default()
            };
            let e = c.check().expect_err("refused").to_string();
            assert!(e.contains("public_url"), "{url}: {e}");
        }
        let c = Config {
            domain: vec!["*.schule.de".into()],
            acme_cache_dir: Some("/var/lib/aula/acme".into()),
            ..Config::default()
        };
        assert!(
            c.check()
                .expect_err("refused")
                .to_string()
                .contains("domain")
        );
    }

    #[test]
    fn exempt_networks_must_be_networks() {
        let mut c = Config::default();
        Args::parse_from(["aula", "--exempt-networks", "203.0.113.0/28,2001:db8::/48"])
            .apply(&mut c);
        assert!(c.check().is_ok());
        c.exempt_networks.push("schule.de".into());
        assert!(c.check().is_err());
    }

    #[test]
    fn a_join_rate_or_room_ttl_that_cannot_work_is_refused() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let c = Config {
                join_rate: rate,
                ..Config::default()
            };
            let e = c.check().expect_err("refused").to_string();
            assert!(e.contains("join_rate"), "{e}");
        }
        let c = Config {
            unused_room_ttl_secs: 0,
            ..Config::default()
        };
        assert!(c.check().is_err());
        assert!(Config::default().check().is_ok());
        assert!(Config::for_tests().check().is_ok());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<Config>("media_prot = 1").is_err());
    }
}

/// An origin (`https://aula.schule.de:8443`, a trailing `/` allowed) as its scheme and its
/// authority (host and port, lowercase); `None` if it is not one.
pub(crate) fn split_origin(origin: &str) -> Option<(&'static str, String)> {
    let origin = origin.trim().trim_end_matches('/');
    let (scheme, rest) = if let Some(rest) = origin.strip_prefix("https://") {
        ("https", rest)
    } else {
        ("http", origin.strip_prefix("http://")?)
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    if rest.is_empty() || !rest.chars().all(valid) {
        return None;
    }
    Some((scheme, rest.to_ascii_lowercase()))
}

/// Crates whose logs below `info` carry what must not reach a log file: tungstenite logs every
/// WebSocket frame at `trace` (link secrets, session tokens, chat text, names), str0m its
/// SDP and ICE credentials at `debug`, and so do the crates str0m is made of (`is`, its ICE
/// agent, logs both sides' ICE passwords; found by tests/log-hygiene.rs).
const LOGS_SECRETS: [&str; 8] = [
    "tungstenite",
    "tokio_tungstenite",
    "str0m",
    "is",
    "dimpl",
    "sctp_proto",
    "str0m_proto",
    "str0m_aws_lc_rs",
];

/// The log filter to use for `requested` (`RUST_LOG` or the `log` setting): as asked, except
/// that the crates of `LOGS_SECRETS` stay at `info` unless the filter names them itself (a
/// developer chasing a WebRTC bug may ask for `str0m=debug`, and then has asked for it).
pub fn log_filter(requested: &str) -> String {
    let mut filter = requested.trim().to_string();
    for krate in LOGS_SECRETS {
        let named =
            (filter.split(',')).any(|d| d.trim().split(['=', ':', '[']).next() == Some(krate));
        if !named {
            if !filter.is_empty() {
                filter.push(',');
            }
            filter.push_str(krate);
            filter.push_str("=info");
        }
    }
    filter
}

#[cfg(test)]
mod log_filter_tests {
    use super::log_filter;

    #[test]
    fn crates_that_log_secrets_stay_at_info_unless_named() {
        let rest = "is=info,dimpl=info,sctp_proto=info,str0m_proto=info,str0m_aws_lc_rs=info";
        assert_eq!(
            log_filter("trace"),
            format!("trace,tungstenite=info,tokio_tungstenite=info,str0m=info,{rest}")
        );
        assert_eq!(
            log_filter("info,str0m=debug"),
            format!("info,str0m=debug,tungstenite=info,tokio_tungstenite=info,{rest}")
        );
        assert_eq!(
            log_filter("is::agent=debug"),
            "is::agent=debug,tungstenite=info,tokio_tungstenite=info,str0m=info,\
             dimpl=info,sctp_proto=info,str0m_proto=info,str0m_aws_lc_rs=info"
        );
        assert_eq!(
            log_filter(""),
            format!("tungstenite=info,tokio_tungstenite=info,str0m=info,{rest}")
        );
    }
}
