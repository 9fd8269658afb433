//! What the core reads from a publish offer itself, before str0m sees it: how many media
//! sections it has (to refuse too many cheaply), its audio and video m-lines in order with
//! whether each sends (to know a publisher's tracks at once, and to refuse a renegotiation that
//! breaks JSEP's rules before str0m changes anything), the source each one carries, and the
//! client's DTLS fingerprint and ICE ufrag (which tell a renegotiation from a new connection,
//! and an ICE restart from a change of media).

use crate::api::{Kind, Source, TrackHint};

/// One audio or video m-line of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub mid: String,
    pub kind: Kind,
    /// `sendonly` or `sendrecv` with a port: media comes to us on it.
    pub sends: bool,
    /// Simulcast encodings it sends (`a=simulcast:send`), in the order of that line; empty
    /// without simulcast.
    pub rids: Vec<String>,
}

/// What a published m-line carries: the client's word for its mid, else the usual by kind.
pub(crate) fn source_for(hints: &[TrackHint], mid: &str, kind: Kind) -> Source {
    let hinted = hints.iter().find(|h| h.mid == mid).map(|h| h.source);
    match (hinted, kind) {
        (Some(Source::Microphone), Kind::Audio) => Source::Microphone,
        (Some(s @ (Source::Camera | Source::Screen)), Kind::Video) => s,
        (_, Kind::Audio) => Source::Microphone,
        (_, Kind::Video) => Source::Camera,
    }
}

/// Audio and video m-lines in an SDP (data channels do not count as tracks).
pub(crate) fn count_media_sections(sdp: &str) -> usize {
    sdp.lines()
        .filter(|l| l.starts_with("m=audio") || l.starts_with("m=video"))
        .count()
}

/// The audio and video m-lines of an offer, in order. A section without `a=mid` gets an empty
/// mid (str0m refuses such an offer anyway). Port 0 marks a rejected m-line only outside the
/// BUNDLE group: Firefox offers every m-line but the first as `a=bundle-only` with port 0
/// (RFC 8843 §6), and those send like any other.
pub(crate) fn sections(sdp: &str) -> Vec<Section> {
    let bundle: Vec<&str> = sdp
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=group:BUNDLE "))
        .flat_map(|mids| mids.split_whitespace())
        .collect();
    let mut found = Vec::new();
    // The section being read, and whether its port is 0.
    let mut section: Option<(Section, bool)> = None;
    let finish = |s: Option<(Section, bool)>, found: &mut Vec<Section>| {
        if let Some((mut s, port_zero)) = s {
            if port_zero && !bundle.contains(&s.mid.as_str()) {
                s.sends = false;
            }
            found.push(s);
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            finish(section.take(), &mut found);
            let mut words = m.split(' ');
            let kind = match words.next() {
                Some("audio") => Some(Kind::Audio),
                Some("video") => Some(Kind::Video),
                _ => None,
            };
            let port_zero = words.next() == Some("0");
            section = kind.map(|kind| {
                let s = Section {
                    mid: String::new(),
                    kind,
                    sends: true,
                    rids: Vec::new(),
                };
                (s, port_zero)
            });
        } else if let Some((s, _)) = &mut section {
            if let Some(v) = line.strip_prefix("a=mid:") {
                s.mid = v.to_string();
            } else if line == "a=recvonly" || line == "a=inactive" {
                s.sends = false;
            } else if let Some(v) = line.strip_prefix("a=simulcast:send ") {
                s.rids = simulcast_rids(v);
            }
        }
    }
    finish(section, &mut found);
    found
}

/// The rids of an `a=simulcast:send` value (RFC 8853: `q;h;f`, alternatives `a,b` of which
/// the first counts, `~` marking an encoding paused at the start), at most [`MAX_LAYERS`], each
/// a sane rid; others are left out.
fn simulcast_rids(value: &str) -> Vec<String> {
    value
        .split_whitespace()
        .next()
        .unwrap_or("")
        .split(';')
        .filter_map(|alternatives| alternatives.split(',').next())
        .map(|rid| rid.trim_start_matches('~'))
        .filter(|rid| is_rid(rid))
        .take(MAX_LAYERS)
        .map(str::to_string)
        .collect()
}

/// Simulcast encodings one m-line may send (protocol.md, "Simulcast").
pub(crate) const MAX_LAYERS: usize = 3;

/// A rid as the protocol allows: 1..=16 of `[A-Za-z0-9_-]`.
pub(crate) fn is_rid(rid: &str) -> bool {
    (1..=16).contains(&rid.len())
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The value of the first `a=<name>:` line, at session or media level.
fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    sdp.lines().find_map(|l| {
        let v = l.trim_end().strip_prefix("a=")?.strip_prefix(name)?;
        v.strip_prefix(':').map(str::trim)
    })
}

/// The DTLS certificate fingerprint of the offering peer connection (`a=fingerprint:`).
pub(crate) fn fingerprint(sdp: &str) -> Option<&str> {
    attribute(sdp, "fingerprint")
}

/// The offerer's ICE username fragment (`a=ice-ufrag:`).
pub(crate) fn ice_ufrag(sdp: &str) -> Option<&str> {
    attribute(sdp, "ice-ufrag")
}

/// Why an offer cannot be taken, if it cannot, in words for the client (`bad_sdp`): a
/// payload type or header extension id that means two things (RFC 8843 §9 lets bundled
/// m-lines share one only for the same codec or extension), or an m-line that sends with no
/// codec the SFU forwards (Opus; VP8 or H.264). Checked before str0m sees the offer, which
/// would otherwise answer such an m-line rejected and leave the sender wondering.
pub(crate) fn check_offer(sdp: &str) -> Result<(), String> {
    use std::collections::HashMap;
    let mut pts: HashMap<&str, (String, String)> = HashMap::new(); // pt -> (codec, mid)
    let mut exts: HashMap<&str, (&str, String)> = HashMap::new(); // id -> (uri, mid)
    let mut mid = String::new();
    let mut kind: Option<Kind> = None;
    let mut codecs: Vec<String> = Vec::new();
    let mut sends = false;
    let finish = |kind: Option<Kind>, mid: &str, codecs: &[String], sends: bool| match kind {
        Some(k) if sends && !codecs.iter().any(|c| forwards(k, c)) => Err(format!(
            "m-line {mid} ({}) offers no codec the server forwards ({}): it needs {}",
            k.as_str(),
            if codecs.is_empty() {
                "none".into()
            } else {
                codecs.join(", ")
            },
            if k == Kind::Audio {
                "Opus"
            } else {
                "VP8 or H.264"
            }
        )),
        _ => Ok(()),
    };
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            finish(kind, &mid, &codecs, sends)?;
            kind = match m.split(' ').next() {
                Some("audio") => Some(Kind::Audio),
                Some("video") => Some(Kind::Video),
                _ => None,
            };
            (mid, sends) = (String::new(), true);
            codecs.clear();
        } else if let Some(v) = line.strip_prefix("a=mid:") {
            mid = v.to_string();
        } else if line == "a=recvonly" || line == "a=inactive" {
            sends = false;
        } else if let Some(v) = line.strip_prefix("a=rtpmap:") {
            let (pt, codec) = v
                .split_once(' ')
                .ok_or("an a=rtpmap line without a codec")?;
            let codec = codec.to_ascii_lowercase();
            if let Some((before, in_mid)) = pts.get(pt)
                && *before != codec
            {
                return Err(format!(
                    "payload type {pt} is {before} in m-line {in_mid} and {codec} in m-line {mid}"
                ));
            }
            pts.insert(pt, (codec.clone(), mid.clone()));
            codecs.push(codec.split('/').next().unwrap_or("").to_string());
        } else if let Some(v) = line.strip_prefix("a=extmap:") {
            let (id, rest) = v.split_once(' ').ok_or("an a=extmap line without a URI")?;
            let id = id.split('/').next().unwrap_or(id);
            let uri = rest.split(' ').next().unwrap_or(rest);
            if let Some((before, in_mid)) = exts.get(id)
                && *before != uri
            {
                return Err(format!(
                    "header extension id {id} is {before} in m-line {in_mid} and {uri} in m-line {mid}"
                ));
            }
            exts.insert(id, (uri, mid.clone()));
        }
    }
    finish(kind, &mid, &codecs, sends)
}

/// Whether the SFU forwards `codec` (an rtpmap name, lowercase) for `kind`.
fn forwards(kind: Kind, codec: &str) -> bool {
    match kind {
        Kind::Audio => codec == "opus",
        Kind::Video => codec == "vp8" || codec == "h264",
    }
}

/// Why a renegotiation offer cannot be applied to a connection whose last accepted offer had
/// `before`, if it cannot. JSEP (RFC 8829 §5.2.2): m-lines are never removed or reordered. An
/// ICE restart must keep the media exactly as it is.
pub(crate) fn check_renegotiation(
    before: &[Section],
    after: &[Section],
    ice_restart: bool,
) -> Result<(), String> {
    if after.len() < before.len() {
        return Err(format!(
            "the offer has {} media sections, the connection has {}: m-lines are never removed",
            after.len(),
            before.len()
        ));
    }
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if a.mid != b.mid || a.kind != b.kind {
            return Err(format!(
                "m-line {i} was mid {} ({}), the offer has mid {} ({}): m-lines are never reordered",
                b.mid,
                b.kind.as_str(),
                a.mid,
                a.kind.as_str()
            ));
        }
    }
    if ice_restart && before != after {
        return Err("an ICE restart must not change the media".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_hints_are_checked_against_kind() {
        let hint = |mid: &str| TrackHint {
            mid: mid.into(),
            source: Source::Screen,
            layers: vec![],
        };
        let hints = vec![hint("0"), hint("1")];
        assert_eq!(source_for(&hints, "0", Kind::Audio), Source::Microphone);
        assert_eq!(source_for(&hints, "1", Kind::Video), Source::Screen);
        assert_eq!(source_for(&hints, "9", Kind::Video), Source::Camera);
    }

    #[test]
    fn finds_the_sending_media_of_an_offer() {
        let sdp = "v=0\r\nm=audio 9 UDP\r\na=mid:0\r\na=sendonly\r\n\
                   m=video 9 UDP\r\na=mid:1\r\na=sendrecv\r\n\
                   m=video 9 UDP\r\na=mid:2\r\na=recvonly\r\n\
                   m=video 0 UDP\r\na=mid:3\r\n\
                   m=application 9 UDP\r\na=mid:4\r\n";
        let found = sections(sdp);
        assert_eq!(found.len(), 4, "inactive and stopped ones are sections");
        let sending: Vec<(&str, Kind)> = found
            .iter()
            .filter(|s| s.sends)
            .map(|s| (s.mid.as_str(), s.kind))
            .collect();
        assert_eq!(sending, [("0", Kind::Audio), ("1", Kind::Video)]);
    }

    #[test]
    fn firefox_bundle_only_sections_send() {
        // Captured from firefox-esr 153 publishing camera and microphone (max-bundle): the
        // video m-line has port 0 and a=bundle-only. Read as rejected, Firefox students were
        // invisible to everyone.
        let sdp = include_str!("../tests/fixtures/firefox-153-publish.sdp");
        let found = sections(sdp);
        let expected = [
            Section {
                mid: "0".into(),
                kind: Kind::Audio,
                sends: true,
                rids: vec![],
            },
            Section {
                mid: "1".into(),
                kind: Kind::Video,
                sends: true,
                rids: vec![],
            },
        ];
        assert_eq!(found, expected);
        let rejected = "v=0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP\r\na=mid:0\r\n\
                        m=video 0 UDP\r\na=mid:1\r\na=sendonly\r\n";
        assert!(
            !sections(rejected)[1].sends,
            "port 0 outside the group is rejected"
        );
    }

    #[test]
    fn offers_the_browsers_make_pass_the_checks() {
        let firefox = include_str!("../tests/fixtures/firefox-153-publish.sdp");
        assert_eq!(check_offer(firefox), Ok(()));
    }

    #[test]
    fn clashing_payload_types_and_extension_ids_are_refused_with_the_reason() {
        let dup_pt = "v=0\r\nm=video 9 X 96 97\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n\
                      a=rtpmap:96 H264/90000\r\n";
        let err = check_offer(dup_pt).unwrap_err();
        assert!(err.contains("payload type 96 is vp8/90000"), "{err}");
        let across = "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
                      m=video 9 X 111\r\na=mid:1\r\na=rtpmap:111 VP8/90000\r\n";
        assert!(check_offer(across).unwrap_err().contains("m-line 0"));
        let same_codec_twice = "v=0\r\nm=video 9 X 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n\
                                m=video 9 X 96\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(
            check_offer(same_codec_twice),
            Ok(()),
            "bundled m-lines may share"
        );
        let ext = "v=0\r\nm=audio 9 X 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
                   a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\r\n";
        assert!(
            check_offer(ext)
                .unwrap_err()
                .contains("header extension id 1")
        );
    }

    #[test]
    fn a_sending_m_line_without_a_codec_we_forward_is_refused() {
        let vp9 = "v=0\r\nm=video 9 X 98\r\na=mid:0\r\na=sendonly\r\na=rtpmap:98 VP9/90000\r\n";
        let err = check_offer(vp9).unwrap_err();
        assert!(
            err.contains("needs VP8 or H.264") && err.contains("vp9"),
            "{err}"
        );
        let receiving =
            "v=0\r\nm=video 9 X 98\r\na=mid:0\r\na=inactive\r\na=rtpmap:98 VP9/90000\r\n";
        assert_eq!(
            check_offer(receiving),
            Ok(()),
            "an m-line that sends nothing may"
        );
    }

    #[test]
    fn counts_only_audio_and_video_sections() {
        let sdp = "v=0\r\nm=audio 9 UDP\r\nm=video 9 UDP\r\nm=application 9 UDP\r\n";
        assert_eq!(count_media_sections(sdp), 2);
    }

    #[test]
    fn reads_fingerprint_and_ufrag_at_either_level() {
        let sdp = "v=0\r\na=fingerprint:sha-256 AB:CD\r\nm=audio 9 UDP\r\na=ice-ufrag:x7Yz\r\n";
        assert_eq!(fingerprint(sdp), Some("sha-256 AB:CD"));
        assert_eq!(ice_ufrag(sdp), Some("x7Yz"));
        assert_eq!(ice_ufrag("v=0\r\na=ice-ufrag-x\r\n"), None);
    }

    fn s(mid: &str, kind: Kind, sends: bool) -> Section {
        Section {
            mid: mid.into(),
            kind,
            sends,
            rids: vec![],
        }
    }

    #[test]
    fn reads_the_simulcast_encodings_in_order() {
        let sdp = "v=0\r\nm=video 9 X 96\r\na=mid:1\r\na=sendonly\r\na=rid:q send\r\n\
                   a=rid:h send\r\na=rid:f send\r\na=simulcast:send q;~h;f,f2\r\n";
        assert_eq!(sections(sdp)[0].rids, ["q", "h", "f"]);
        let hostile = "v=0\r\nm=video 9 X 96\r\na=mid:1\r\n\
                       a=simulcast:send a;b;c;d;e;<script>;aaaaaaaaaaaaaaaaaaaa\r\n";
        assert_eq!(sections(hostile)[0].rids, ["a", "b", "c"], "at most three");
        assert!(!is_rid("<script>") && !is_rid("") && is_rid("hi_res-2"));
    }

    #[test]
    fn renegotiation_keeps_order_and_may_append_or_go_inactive() {
        let before = [s("0", Kind::Audio, true), s("1", Kind::Video, true)];
        let screen_on = [
            s("0", Kind::Audio, true),
            s("1", Kind::Video, true),
            s("2", Kind::Video, true),
        ];
        assert!(check_renegotiation(&before, &screen_on, false).is_ok());
        let camera_off = [s("0", Kind::Audio, true), s("1", Kind::Video, false)];
        assert!(check_renegotiation(&before, &camera_off, false).is_ok());
        let swapped = [s("1", Kind::Video, true), s("0", Kind::Audio, true)];
        assert!(check_renegotiation(&before, &swapped, false).is_err());
        let dropped = [s("0", Kind::Audio, true)];
        assert!(check_renegotiation(&before, &dropped, false).is_err());
    }

    #[test]
    fn an_ice_restart_keeps_the_media_exactly() {
        let before = [s("0", Kind::Audio, true), s("1", Kind::Video, true)];
        assert!(check_renegotiation(&before, &before, true).is_ok());
        let camera_off = [s("0", Kind::Audio, true), s("1", Kind::Video, false)];
        let err = check_renegotiation(&before, &camera_off, true).unwrap_err();
        assert!(err.contains("ICE restart"), "{err}");
    }
}
