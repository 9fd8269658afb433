//! One str0m `Rtc` with what the core keeps beside it: its ICE ufrag (how the shell routes
//! datagrams to it), the remote addresses it has accepted, and its next timeout.

use std::net::SocketAddr;
use std::time::Instant;

use rand::Rng;
use rand::distr::Alphanumeric;
use str0m::ice::IceCreds;
use str0m::{Candidate, Rtc};

use crate::worker::Ctx;

pub(crate) struct Conn {
    pub rtc: Rtc,
    pub ufrag: String,
    /// Remote addresses whose STUN this connection accepted; routed to it until it closes.
    pub addrs: Vec<SocketAddr>,
    /// When str0m next wants `Input::Timeout`.
    pub next_timeout: Instant,
    /// ICE and DTLS are up; media written before this is dropped by str0m.
    pub connected: bool,
    /// Has had input or writes since it last returned a timeout, so it must be polled.
    pub dirty: bool,
}

impl Conn {
    /// A new ICE-lite connection with the server's host candidates and random ICE credentials.
    pub fn new(now: Instant, ctx: &mut Ctx) -> Conn {
        let (config, rng) = (&ctx.config, &mut ctx.rng);
        let creds = IceCreds {
            ufrag: random_token(rng, 8),
            pass: random_token(rng, 24),
        };
        let ufrag = creds.ufrag.clone();
        let mut builder = Rtc::builder()
            // ICE-lite: the browser runs the checks, the server answers them. One fewer state
            // machine per connection, and no outbound checks during a join surge.
            .set_ice_lite(true)
            .set_local_ice_credentials(creds)
            .set_dtls_cert(ctx.dtls_cert.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true);
        // H.264 constrained baseline, packetization-mode 1: what Safari prefers and every
        // browser can decode in hardware.
        builder
            .codec_config()
            .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
        let mut rtc = builder.build(now);
        for addr in &config.candidates {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => tracing::warn!(%addr, error = %e, "cannot use address as a candidate"),
            }
        }
        Conn {
            rtc,
            ufrag,
            addrs: Vec::new(),
            next_timeout: now,
            connected: false,
            dirty: true,
        }
    }
}

fn random_token(rng: &mut impl Rng, len: usize) -> String {
    rng.sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
