//! The codec policy of docs/architecture.md ("Codecs") as the SFU answers real offers: VP8
//! first, H.264 constrained baseline beside it, whatever order the browser prefers; publish
//! offers captured from Debian's chromium 156 and firefox-esr 153 (fake camera and microphone,
//! `tests/fixtures/`) are answered in each browser's own payload types and header extension
//! ids, and both of their streams reach a subscriber.

use crate::common;

use std::time::Instant;

use aula_sfu::worker::{CoreConfig, Output, Worker};
use aula_sfu::{Command, Kind, ParticipantId, RoomId, SfuEvent, Source};
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};

fn worker() -> (Worker, RoomId) {
    let config = CoreConfig {
        candidates: vec![common::SERVER.parse().unwrap()],
        max_tracks_per_participant: 3,
        egress: None,
        room_egress_limit: None,
        adaptation: true,
    };
    (Worker::new(config, 1), "room".into())
}

/// Publishes `offer` as participant 0; returns the answer's SDP.
fn answer(w: &mut Worker, room: &RoomId, offer: String) -> String {
    let now = Instant::now();
    let p = ParticipantId(0);
    w.handle_command(now, room, Command::Join { participant: p });
    w.handle_command(
        now,
        room,
        Command::Publish {
            participant: p,
            offer,
            tracks: vec![],
        },
    );
    std::iter::from_fn(|| w.poll_output())
        .find_map(|o| match o {
            Output::Event {
                event: SfuEvent::PublishAnswer { sdp },
                ..
            } => Some(sdp),
            _ => None,
        })
        .expect("an answer")
}

/// The codecs of the answer's video m-line, in its order.
fn video_codecs(sdp: &str) -> Vec<String> {
    let m = sdp
        .lines()
        .find(|l| l.starts_with("m=video"))
        .expect("video");
    m.split(' ')
        .skip(3)
        .filter_map(|pt| {
            let prefix = format!("a=rtpmap:{pt} ");
            let line = sdp.lines().find(|l| l.starts_with(&prefix))?;
            Some(line[prefix.len()..].split('/').next()?.to_string())
        })
        .filter(|c| c != "rtx")
        .collect()
}

#[test]
fn an_h264_first_offer_is_answered_vp8_first() {
    // What Safari historically offered: H.264 before VP8.
    let now = Instant::now();
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_h264(true)
        .enable_vp8(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host("127.0.2.1:7000".parse().unwrap(), "udp").unwrap());
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, _) = change.apply().expect("an offer");
    let offered = video_codecs(&offer.to_sdp_string());
    assert_eq!(
        offered.first().map(String::as_str),
        Some("H264"),
        "{offered:?}"
    );

    let (mut w, room) = worker();
    let codecs = video_codecs(&answer(&mut w, &room, offer.to_sdp_string()));
    assert_eq!(
        codecs,
        ["VP8", "H264"],
        "the browser sends the answer's first codec"
    );
}

#[test]
fn firefox_s_offer_is_answered_in_its_own_payload_types_and_its_camera_is_a_stream() {
    let offer = include_str!("fixtures/firefox-153-publish.sdp").to_string();
    let (mut w, room) = worker();
    let sdp = answer(&mut w, &room, offer);
    assert_eq!(
        video_codecs(&sdp),
        ["VP8"],
        "Firefox offers no H.264 without OpenH264"
    );
    let m = sdp
        .lines()
        .find(|l| l.starts_with("m=video"))
        .expect("video");
    assert!(
        m.split(' ').any(|pt| pt == "120"),
        "Firefox's VP8 payload type: {m}"
    );

    // A second participant is offered both of Firefox's streams.
    let now = Instant::now();
    let sub = ParticipantId(1);
    w.handle_command(now, &room, Command::Join { participant: sub });
    let tracks = std::iter::from_fn(|| w.poll_output())
        .find_map(|o| match o {
            Output::Event {
                participant,
                event: SfuEvent::SubscribeOffer { tracks, .. },
                ..
            } if participant == sub => Some(tracks),
            _ => None,
        })
        .expect("a subscribe offer");
    let streams: Vec<(Kind, Source)> = tracks.iter().map(|t| (t.kind, t.source)).collect();
    assert_eq!(
        streams,
        [
            (Kind::Audio, Source::Microphone),
            (Kind::Video, Source::Camera)
        ]
    );
}

/// `id -> uri` of the `a=extmap` lines of the first m-line of `kind`.
fn extmaps(sdp: &str, kind: &str) -> Vec<(String, String)> {
    let start = sdp.find(&format!("m={kind}")).expect("m-line");
    let section = &sdp[start..];
    let end = section[2..].find("\nm=").map_or(section.len(), |e| e + 2);
    section[..end]
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=extmap:"))
        .map(|v| {
            let (id, uri) = v.split_once(' ').expect("id and uri");
            let id = id.split('/').next().unwrap_or(id);
            (
                id.to_string(),
                uri.split(' ').next().unwrap_or(uri).to_string(),
            )
        })
        .collect()
}

/// The payload type of `codec` in the first m-line of `kind`.
fn pt_of(sdp: &str, kind: &str, codec: &str) -> Option<String> {
    let start = sdp.find(&format!("m={kind}"))?;
    sdp[start..].lines().find_map(|l| {
        let v = l.strip_prefix("a=rtpmap:")?;
        let (pt, c) = v.split_once(' ')?;
        c.starts_with(codec).then(|| pt.to_string())
    })
}

#[test]
fn every_browser_s_offer_is_answered_in_its_own_numbers() {
    for (browser, offer) in [
        (
            "chromium 156",
            include_str!("fixtures/chromium-156-publish.sdp"),
        ),
        (
            "firefox-esr 153",
            include_str!("fixtures/firefox-153-publish.sdp"),
        ),
    ] {
        let (mut w, room) = worker();
        let answer = answer(&mut w, &room, offer.to_string());
        assert_eq!(
            pt_of(&answer, "video", "VP8"),
            pt_of(offer, "video", "VP8"),
            "{browser}: VP8 on the browser's payload type"
        );
        assert_eq!(
            pt_of(&answer, "audio", "opus"),
            pt_of(offer, "audio", "opus"),
            "{browser}"
        );
        for kind in ["audio", "video"] {
            let offered = extmaps(offer, kind);
            for (id, uri) in extmaps(&answer, kind) {
                assert!(
                    offered.contains(&(id.clone(), uri.clone())),
                    "{browser} {kind}: the answer's extension {id} {uri} is not the offer's"
                );
            }
        }
        let audio_level = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
        assert!(
            extmaps(&answer, "audio")
                .iter()
                .any(|(_, u)| u == audio_level),
            "{browser}: audio levels (active speaker) negotiated"
        );
    }
}
