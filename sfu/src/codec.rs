//! Which payload type carries a publisher's frame on a subscriber's m-line.
//!
//! Each browser numbers its codecs its own way (Chrome's VP8 is 96, Firefox's 120) and str0m
//! maps payload types and header extension ids per connection; what it cannot know is which of
//! a subscriber's negotiated codecs may carry a frame. str0m's own `match_params` looks at the
//! server's whole codec configuration, so an H.264 frame for a subscriber that negotiated only
//! VP8 got H.264's payload type anyway and the browser dropped every packet, silently. Here the
//! choice is made among the payload types the subscriber accepted for this m-line only: the
//! same codec at the same clock rate and, for H.264, the same packetization mode and a profile
//! the decoder takes; none means the frame cannot be forwarded (and is counted).

use str0m::format::{Codec, PayloadParams};
use str0m::media::Pt;

/// The subscriber's payload type for a frame the publisher sent with `incoming`, among the
/// payload types `accepted` for the m-line; an exact match of the codec's parameters wins.
pub(crate) fn pick_pt<'a>(
    accepted: impl Iterator<Item = &'a PayloadParams>,
    incoming: &PayloadParams,
) -> Option<Pt> {
    let want = incoming.spec();
    let mut fallback = None;
    for p in accepted {
        let have = p.spec();
        if have.codec != want.codec || have.clock_rate != want.clock_rate {
            continue;
        }
        if have == want {
            return Some(p.pt());
        }
        if want.codec == Codec::H264 && !h264_compatible(&have.format, &want.format) {
            continue;
        }
        fallback.get_or_insert(p.pt());
    }
    fallback
}

/// An H.264 stream from a sender with `sent` can go to a receiver that negotiated `accepted`:
/// the same packetization mode, and the same profile (profile_idc and the constraint flags
/// that matter: constrained baseline decodes on every baseline decoder). The level may differ:
/// browsers decode above the level they offer at the sizes a class sends.
fn h264_compatible(
    accepted: &str0m::format::FormatParams,
    sent: &str0m::format::FormatParams,
) -> bool {
    let mode = |f: &str0m::format::FormatParams| f.packetization_mode.unwrap_or(0);
    let profile = |f: &str0m::format::FormatParams| f.profile_level_id.map(|id| id >> 16);
    let baseline = |p: Option<u32>| matches!(p.map(|p| p >> 8), Some(0x42));
    let same_profile = profile(accepted) == profile(sent);
    mode(accepted) == mode(sent)
        && (same_profile || baseline(profile(accepted)) && baseline(profile(sent)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use str0m::format::{CodecSpec, FormatParams};
    use str0m::media::Frequency;

    fn params(pt: u8, codec: Codec, format: FormatParams) -> PayloadParams {
        let spec = CodecSpec {
            codec,
            clock_rate: Frequency::NINETY_KHZ,
            channels: None,
            format,
        };
        PayloadParams::new(pt.into(), None, spec)
    }

    fn h264(pt: u8, mode: u8, profile_level_id: u32) -> PayloadParams {
        let format = FormatParams {
            packetization_mode: Some(mode),
            profile_level_id: Some(profile_level_id),
            level_asymmetry_allowed: Some(true),
            ..FormatParams::default()
        };
        params(pt, Codec::H264, format)
    }

    #[test]
    fn firefox_vp8_goes_out_on_chromium_s_payload_type() {
        // (Firefox's max-fs and max-fr are not among the parameters str0m keeps.)
        let from_firefox = params(120, Codec::Vp8, FormatParams::default());
        let chromium = [
            params(96, Codec::Vp8, FormatParams::default()),
            h264(108, 1, 0x42e01f),
        ];
        assert_eq!(pick_pt(chromium.iter(), &from_firefox), Some(96.into()));
    }

    #[test]
    fn h264_never_goes_to_a_vp8_only_subscriber() {
        let from_safari = h264(102, 1, 0x42e01f);
        let firefox = [params(120, Codec::Vp8, FormatParams::default())];
        assert_eq!(pick_pt(firefox.iter(), &from_safari), None);
    }

    #[test]
    fn h264_matches_mode_and_profile_not_level() {
        let sent = h264(102, 1, 0x42e01f);
        let accepted = [
            h264(100, 0, 0x42e01f),
            h264(108, 1, 0x42001f),
            h264(110, 1, 0x640c1f),
        ];
        // Mode 0 cannot take FU-A; baseline takes constrained baseline; high is another profile.
        assert_eq!(pick_pt(accepted.iter(), &sent), Some(108.into()));
        let exact = [h264(110, 1, 0x640c1f), h264(127, 1, 0x42e01f)];
        assert_eq!(pick_pt(exact.iter(), &sent), Some(127.into()));
        let high_only = [h264(110, 1, 0x640c1f)];
        assert_eq!(pick_pt(high_only.iter(), &sent), None);
    }
}
