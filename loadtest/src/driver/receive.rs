//! Events of the subscribe connection: ICE state, and media frames, each counted for its
//! remote participant, timed into its gap log by its arrival, and answered with a keyframe
//! request when frames went missing, as a browser's decoder would.

use std::time::{Duration, Instant};

use str0m::Event;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind};

use super::{Bot, is_connected};
use str0m::IceConnectionState;

/// At most one PLI per remote video track per this interval, like browsers throttle them.
const PLI_INTERVAL: Duration = Duration::from_secs(1);

impl Bot {
    pub(super) fn handle_subscribe_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => {
                let at = now.duration_since(self.start);
                if is_connected(state) {
                    self.stats.subscribe_ice_connected.get_or_insert(at);
                } else if state == IceConnectionState::Disconnected {
                    self.stats
                        .push_error("Subscribe connection: ice disconnected".into());
                }
            }
            Event::MediaData(data) => self.handle_media(now, &data),
            _ => {}
        }
    }

    fn handle_media(&mut self, now: Instant, data: &MediaData) {
        let received_us = crate::media::unix_micros(std::time::SystemTime::now());
        let at = now.duration_since(self.start);
        let Some(track) = self.down_tracks.iter_mut().find(|t| t.mid == data.mid) else {
            tracing::trace!(mid = %data.mid, "media on an unmapped mid");
            return;
        };
        self.stats.first_media.get_or_insert(at);
        // Silences are timed by when each frame's first packet arrived: they say whether the
        // server's media reached the bot. Behind a lost packet str0m hands over no later frame
        // of the stream until the retransmission attempts are over (15 packets for audio;
        // NACKs and three round trips for video, a second and more through a full queue), then
        // all at once: a wait a browser does not make for audio (it conceals the loss) nor
        // for a keyframe, and not the server's silence.
        let arrived = data.network_time.saturating_duration_since(self.start);
        self.stats.gap_logs[track.log].record(arrived);
        let remote = &mut self.stats.remotes[track.remote];
        let stamp = crate::media::Stamp::read_from(&data.data);
        let bytes = data.data.len();
        if let (MediaKind::Video, Some(s)) = (track.kind, stamp) {
            remote.since_tile.record(s.layer, bytes);
        }
        let stream = match track.kind {
            MediaKind::Audio => &mut remote.audio,
            MediaKind::Video => &mut remote.video,
        };
        stream.record(
            at,
            bytes,
            data.is_keyframe(),
            stamp.map(|s| (s.seq, s.layer)),
        );
        if let Some(stamp) = stamp {
            stream
                .delay
                .record(received_us.saturating_sub(stamp.sent_us));
        }
        // A gap means a lost frame; ask for a keyframe as a browser's decoder would.
        let throttled = track.last_pli.is_some_and(|t| now < t + PLI_INTERVAL);
        if track.kind == MediaKind::Video && !data.contiguous && !throttled {
            track.last_pli = Some(now);
            let mid = track.mid;
            if let Some(mut writer) = self.subscribe.rtc().and_then(|rtc| rtc.writer(mid)) {
                let _ = writer.request_keyframe(None, KeyframeRequestKind::Pli);
            }
        }
    }
}
