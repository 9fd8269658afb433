//! What the core reads from a publish offer itself, before str0m sees it: how many media
//! sections it has (to refuse too many cheaply) and which of them send media, by mid and kind
//! (to know a restarted publisher's tracks at once), and the source each one carries.

use crate::api::{Kind, Source};

/// What a published m-line carries: the client's word for its mid, else the usual by kind.
pub(crate) fn source_for(hints: &[(String, Source)], mid: &str, kind: Kind) -> Source {
    let hinted = hints.iter().find(|(m, _)| m == mid).map(|(_, s)| *s);
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

/// The audio and video m-lines of an offer that send media to us: (mid, kind).
pub(crate) fn offered_media(sdp: &str) -> Vec<(String, Kind)> {
    let mut found = Vec::new();
    // (kind, mid, sends) of the section being read
    let mut section: Option<(Kind, Option<String>, bool)> = None;
    let mut finish = |s: Option<(Kind, Option<String>, bool)>| {
        if let Some((kind, Some(mid), true)) = s {
            found.push((mid, kind));
        }
    };
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            finish(section.take());
            let kind = match m.split(' ').next() {
                Some("audio") => Some(Kind::Audio),
                Some("video") => Some(Kind::Video),
                _ => None,
            };
            let port_zero = m.split(' ').nth(1) == Some("0");
            section = kind.filter(|_| !port_zero).map(|k| (k, None, true));
        } else if let Some((_, mid, sends)) = &mut section {
            if let Some(v) = line.strip_prefix("a=mid:") {
                *mid = Some(v.to_string());
            } else if line == "a=recvonly" || line == "a=inactive" {
                *sends = false;
            }
        }
    }
    finish(section);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_hints_are_checked_against_kind() {
        let hints = vec![
            ("0".to_string(), Source::Screen),
            ("1".to_string(), Source::Screen),
        ];
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
        let found = offered_media(sdp);
        assert_eq!(
            found,
            [("0".into(), Kind::Audio), ("1".into(), Kind::Video)]
        );
    }

    #[test]
    fn counts_only_audio_and_video_sections() {
        let sdp = "v=0\r\nm=audio 9 UDP\r\nm=video 9 UDP\r\nm=application 9 UDP\r\n";
        assert_eq!(count_media_sections(sdp), 2);
    }
}
