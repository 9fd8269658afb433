//! Synthetic media: VP8-shaped video frames and Opus-sized audio frames that carry a send stamp.
//!
//! No codec runs here. A frame only has to look right to the parts of the stack that peek into
//! it: str0m's VP8 depacketizer reads bit 0 of the first payload byte (the VP8 `P` bit, 0 for a
//! keyframe) to set `MediaData::is_keyframe`, and the SFU relies on that to know where a new
//! subscriber can start decoding. So keyframes get a real VP8 keyframe header (frame tag, start
//! code, size) and interframes a real interframe tag. Everything after the header is filler,
//! except a [`Stamp`] at [`STAMP_OFFSET`] that lets a receiver on the same machine compute
//! one-way delay, count missing frames and tell which simulcast layer a frame came from.
//!
//! A camera ([`VideoConfig`]) has one encoding or three simulcast layers (`q`, `h`, `f`, as the
//! web client sends its camera); each encoding is a [`VideoSource`] of its own, with its own
//! size, bitrate and keyframes, and all of them count frames in step, so a subscriber switched
//! from one layer to another by the SFU sees no gap in the frame numbers.
//!
//! Pure: the caller passes the send time and the RNG, so tests are exact.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use str0m::media::{Frequency, MediaTime};

/// Where the [`Stamp`] starts in every frame: after the 10-byte VP8 keyframe header (3-byte frame
/// tag, 3-byte start code, 4 bytes of size), so the header stays intact and audio and video share
/// one layout.
pub const STAMP_OFFSET: usize = 10;
/// Bytes the stamp takes: an 8-byte send time and a 4-byte frame number, both big-endian, and
/// one byte for the encoding's index.
pub const STAMP_LEN: usize = 13;
/// The shortest frame a source produces: header room plus the stamp.
pub const MIN_FRAME_LEN: usize = STAMP_OFFSET + STAMP_LEN;

/// Audio frames are 20 ms long, the packet time browsers use for Opus.
pub const AUDIO_FRAME_INTERVAL: Duration = Duration::from_millis(20);
/// Opus counts in 48 kHz samples: 960 of them in 20 ms.
const AUDIO_SAMPLES_PER_FRAME: u64 = 960;
/// Opus TOC byte for configuration 31 (CELT, fullband, 20 ms), mono, one frame per packet.
const OPUS_TOC: u8 = 31 << 3;

/// The three bytes every VP8 keyframe carries after its frame tag (RFC 6386, 9.1).
pub const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// What a sender writes into each frame so that a receiver can measure the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// When the frame was handed to str0m, in microseconds since the UNIX epoch. Bots on one
    /// machine share this clock, so receive time minus this is the one-way delay.
    pub sent_us: u64,
    /// The frame's number within its track, from 0, so a receiver can count gaps. The layers
    /// of a simulcast camera number their frames alike (one capture, three encodings).
    pub seq: u32,
    /// The index of the encoding that made the frame, smallest first: the simulcast layer
    /// (0 `q`, 1 `h`, 2 `f`), or 0 for a camera without simulcast and for audio.
    pub layer: u8,
}

impl Stamp {
    /// Writes the stamp at [`STAMP_OFFSET`].
    ///
    /// Panics if `frame` is shorter than [`MIN_FRAME_LEN`]; the sources never make such frames.
    pub fn write_to(self, frame: &mut [u8]) {
        let at = &mut frame[STAMP_OFFSET..MIN_FRAME_LEN];
        at[..8].copy_from_slice(&self.sent_us.to_be_bytes());
        at[8..12].copy_from_slice(&self.seq.to_be_bytes());
        at[12] = self.layer;
    }

    /// Reads the stamp back, or `None` if the frame is too short to hold one.
    pub fn read_from(frame: &[u8]) -> Option<Stamp> {
        let at = frame.get(STAMP_OFFSET..MIN_FRAME_LEN)?;
        let sent_us = u64::from_be_bytes(at[..8].try_into().expect("slice of 8"));
        let seq = u32::from_be_bytes(at[8..12].try_into().expect("slice of 4"));
        Some(Stamp {
            sent_us,
            seq,
            layer: at[12],
        })
    }
}

/// Microseconds since the UNIX epoch, the clock [`Stamp::sent_us`] uses (0 before 1970).
pub fn unix_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One frame as produced by a source; its bytes are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// For video, whether the frame is a keyframe. Audio frames are never keyframes.
    pub keyframe: bool,
    /// RTP time of the frame: frame number times frame length in the codec's clock.
    pub rtp_time: MediaTime,
    /// The frame number also written into the stamp.
    pub seq: u32,
}

/// Whether a VP8 frame is a keyframe: the `P` bit (bit 0 of the first byte) is 0.
pub fn is_vp8_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 0x01 == 0)
}

/// The 3-byte VP8 frame tag (RFC 6386, 9.1): `P` bit, version 0, `show_frame` set, and the size
/// of the first partition in the top 19 bits (clamped; nobody decodes it).
fn vp8_frame_tag(keyframe: bool, first_part_size: usize) -> [u8; 3] {
    let size = first_part_size.min(0x7_ffff) as u32;
    let tag = u32::from(!keyframe) | (1 << 4) | (size << 5);
    let [a, b, c, _] = tag.to_le_bytes();
    [a, b, c]
}

/// The rids of a simulcast camera's layers, smallest first, as the web client names them
/// (docs/protocol.md, "Simulcast").
pub const RIDS: [&str; 3] = ["q", "h", "f"];

/// The sizes of the layers, smallest first, as the web client encodes its camera: about 180p,
/// 360p and 720p (docs/protocol.md).
pub const LAYER_SIZES: [(u16, u16); 3] = [(320, 180), (640, 360), (1280, 720)];

/// One encoding of a synthetic camera: a simulcast layer, or the only encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Written into keyframe headers and announced in `publish.tracks[].layers` (pixels).
    pub width: u16,
    /// Written into keyframe headers and announced in `publish.tracks[].layers` (pixels).
    pub height: u16,
}

/// What a camera sends: one encoding, or three simulcast layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encodings {
    /// One encoding without a rid, as a browser without simulcast sends.
    Single(Encoding),
    /// Three layers with the rids of [`RIDS`], smallest first, as the web client sends.
    Simulcast([Encoding; 3]),
}

impl Encodings {
    /// The encodings, smallest first.
    pub fn as_slice(&self) -> &[Encoding] {
        match self {
            Encodings::Single(e) => std::slice::from_ref(e),
            Encodings::Simulcast(layers) => layers,
        }
    }

    /// Whether these are simulcast layers.
    pub fn is_simulcast(&self) -> bool {
        matches!(self, Encodings::Simulcast(_))
    }
}

/// Settings of a synthetic camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoConfig {
    /// Frames per second of every encoding. 30, as a webcam sends.
    pub fps: u32,
    /// A keyframe at least this often in each encoding, as encoders do for recovery, on top of
    /// requested ones.
    pub keyframe_interval: Duration,
    /// One encoding or three layers.
    pub encodings: Encodings,
}

impl Default for VideoConfig {
    /// One 640×360 encoding at 300 kbit/s: what a 360p camera gets in a busy class.
    fn default() -> Self {
        VideoConfig::single(300_000, 640, 360)
    }
}

impl VideoConfig {
    /// One encoding at `bitrate_bps`, `width` × `height`.
    pub fn single(bitrate_bps: u32, width: u16, height: u16) -> VideoConfig {
        VideoConfig {
            fps: 30,
            keyframe_interval: Duration::from_secs(5),
            encodings: Encodings::Single(Encoding {
                bitrate_bps,
                width,
                height,
            }),
        }
    }

    /// Three simulcast layers at [`LAYER_SIZES`] and these bitrates (bits per second),
    /// smallest first.
    pub fn simulcast(bitrates_bps: [u32; 3]) -> VideoConfig {
        let layer = |i: usize| Encoding {
            bitrate_bps: bitrates_bps[i],
            width: LAYER_SIZES[i].0,
            height: LAYER_SIZES[i].1,
        };
        VideoConfig {
            encodings: Encodings::Simulcast([layer(0), layer(1), layer(2)]),
            ..VideoConfig::single(0, 0, 0)
        }
    }
}

/// How much bigger a keyframe is than an average frame; real encoders land around 3 to 10.
const KEYFRAME_SIZE_FACTOR: usize = 4;

/// Makes VP8-shaped frames of one encoding at its bitrate and the camera's frame rate.
#[derive(Debug, Clone)]
pub struct VideoSource {
    encoding: Encoding,
    /// Written into every stamp: the encoding's index, smallest first.
    layer: u8,
    fps: u32,
    /// A cap below the encoding's own rate (`camera_bitrate`), or `None`.
    max_bitrate: Option<u32>,
    frame_no: u64,
    frames_since_keyframe: u64,
    keyframe_every: u64,
    want_keyframe: bool,
}

impl VideoSource {
    /// A source for encoding `layer` of `config` (0 for a camera without simulcast), whose
    /// first frame is a keyframe. `fps` below 1 counts as 1.
    ///
    /// Panics if `config` has no encoding `layer`.
    pub fn new(config: &VideoConfig, layer: usize) -> Self {
        let fps = config.fps.max(1);
        let every = config.keyframe_interval.as_secs_f64() * f64::from(fps);
        VideoSource {
            encoding: config.encodings.as_slice()[layer],
            layer: layer as u8,
            fps,
            max_bitrate: None,
            frame_no: 0,
            frames_since_keyframe: 0,
            keyframe_every: (every as u64).max(1),
            want_keyframe: true,
        }
    }

    /// Time between two frames.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_secs(1) / self.fps
    }

    /// Sends at no more than `max_bitrate` bit/s from the next frame on, in smaller frames
    /// (`None`: at the encoding's own rate), as an encoder given a `maxBitrate` does.
    pub fn set_max_bitrate(&mut self, max_bitrate: Option<u32>) {
        self.max_bitrate = max_bitrate;
    }

    /// Makes the next frame a keyframe (a PLI or FIR arrived).
    pub fn request_keyframe(&mut self) {
        self.want_keyframe = true;
    }

    /// Lets the next frame go by unsent (the encoding is switched off): the frame numbers
    /// and the RTP clock move on as the capture does, so the encoding resumes in step with
    /// the others.
    pub fn skip_frame(&mut self) {
        self.frame_no += 1;
    }

    /// Writes the next frame into `buf` (replacing what it held) and describes it.
    pub fn next_frame(&mut self, sent_us: u64, rng: &mut impl Rng, buf: &mut Vec<u8>) -> Frame {
        let keyframe = self.want_keyframe || self.frames_since_keyframe >= self.keyframe_every;
        let bitrate = self.max_bitrate.map_or(self.encoding.bitrate_bps, |m| {
            m.min(self.encoding.bitrate_bps)
        });
        let avg = (bitrate / 8 / self.fps) as usize;
        let base = if keyframe {
            avg * KEYFRAME_SIZE_FACTOR
        } else {
            avg
        };
        // +-10 % so packet counts per frame vary a little, as with a real encoder.
        let len = rng
            .random_range(base * 9 / 10..=base * 11 / 10)
            .max(MIN_FRAME_LEN);

        buf.clear();
        buf.resize(len, 0);
        buf[..3].copy_from_slice(&vp8_frame_tag(keyframe, len - 3));
        if keyframe {
            buf[3..6].copy_from_slice(&VP8_START_CODE);
            // 14-bit sizes, little-endian, scale bits 0.
            buf[6..8].copy_from_slice(&(self.encoding.width & 0x3fff).to_le_bytes());
            buf[8..10].copy_from_slice(&(self.encoding.height & 0x3fff).to_le_bytes());
        }
        let seq = self.frame_no as u32;
        let layer = self.layer;
        Stamp {
            sent_us,
            seq,
            layer,
        }
        .write_to(buf);

        let rtp_ticks = self.frame_no * 90_000 / u64::from(self.fps);
        self.frame_no += 1;
        self.want_keyframe = false;
        self.frames_since_keyframe = if keyframe {
            1
        } else {
            self.frames_since_keyframe + 1
        };
        Frame {
            keyframe,
            rtp_time: MediaTime::new(rtp_ticks, Frequency::NINETY_KHZ),
            seq,
        }
    }
}

/// The audio level of someone talking at a normal volume, in dBov (str0m's example value).
pub const TALKING_DBOV: i8 = -30;
/// The audio level of silence, the quietest the RTP header extension can say (RFC 6464).
pub const SILENT_DBOV: i8 = -127;

/// Settings of a synthetic audio track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioConfig {
    /// Smallest frame in bytes. Opus speech at 32-64 kbps makes 80 to 160 bytes per 20 ms.
    pub min_frame_bytes: usize,
    /// Largest frame in bytes.
    pub max_frame_bytes: usize,
    /// The level every frame's `ssrc-audio-level` header extension carries, in dBov
    /// ([`SILENT_DBOV`]..=0; values outside are clamped). The SFU picks the active speaker
    /// from it. [`TALKING_DBOV`] by default: a bot with a microphone talks.
    pub level_dbov: i8,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            min_frame_bytes: 80,
            max_frame_bytes: 160,
            level_dbov: TALKING_DBOV,
        }
    }
}

/// What the `ssrc-audio-level` extension says for `level_dbov`: the level clamped to what the
/// extension can carry, and voice activity, set for anything above silence.
pub fn audio_level(level_dbov: i8) -> (i8, bool) {
    let level = level_dbov.clamp(SILENT_DBOV, 0);
    (level, level > SILENT_DBOV)
}

/// Makes Opus-sized frames, one every [`AUDIO_FRAME_INTERVAL`].
#[derive(Debug, Clone)]
pub struct AudioSource {
    config: AudioConfig,
    frame_no: u64,
}

impl AudioSource {
    /// A source; sizes below [`MIN_FRAME_LEN`] are raised to it.
    pub fn new(mut config: AudioConfig) -> Self {
        config.min_frame_bytes = config.min_frame_bytes.max(MIN_FRAME_LEN);
        config.max_frame_bytes = config.max_frame_bytes.max(config.min_frame_bytes);
        AudioSource {
            config,
            frame_no: 0,
        }
    }

    /// The level and voice activity the next frames carry; see [`audio_level`].
    pub fn level(&self) -> (i8, bool) {
        audio_level(self.config.level_dbov)
    }

    /// Changes the level of the frames from now on (someone starts or stops talking).
    pub fn set_level(&mut self, level_dbov: i8) {
        self.config.level_dbov = level_dbov;
    }

    /// Lets the next frame go by unsent (the encoding is switched off): the frame numbers
    /// and the RTP clock move on as the capture does, so the encoding resumes in step with
    /// the others.
    pub fn skip_frame(&mut self) {
        self.frame_no += 1;
    }

    /// Writes the next frame into `buf` (replacing what it held) and describes it.
    pub fn next_frame(&mut self, sent_us: u64, rng: &mut impl Rng, buf: &mut Vec<u8>) -> Frame {
        let len = rng.random_range(self.config.min_frame_bytes..=self.config.max_frame_bytes);
        buf.clear();
        buf.resize(len, 0);
        buf[0] = OPUS_TOC;
        let seq = self.frame_no as u32;
        let layer = 0;
        Stamp {
            sent_us,
            seq,
            layer,
        }
        .write_to(buf);

        let rtp_ticks = self.frame_no * AUDIO_SAMPLES_PER_FRAME;
        self.frame_no += 1;
        Frame {
            keyframe: false,
            rtp_time: MediaTime::new(rtp_ticks, Frequency::FORTY_EIGHT_KHZ),
            seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn stamp_round_trips_at_its_offset() {
        let mut frame = vec![0xaa; 40];
        let stamp = Stamp {
            sent_us: 1_700_000_000_123_456,
            seq: 0xdead_beef,
            layer: 2,
        };
        stamp.write_to(&mut frame);
        assert_eq!(Stamp::read_from(&frame), Some(stamp));
        assert_eq!(&frame[..STAMP_OFFSET], &[0xaa; STAMP_OFFSET]);
        assert_eq!(&frame[MIN_FRAME_LEN..], &[0xaa; 40 - MIN_FRAME_LEN]);
        assert_eq!(frame[STAMP_OFFSET], 0x00, "big-endian: high byte first");
        assert_eq!(frame[MIN_FRAME_LEN - 1], 2, "the layer last");
    }

    #[test]
    fn short_frame_has_no_stamp() {
        assert_eq!(Stamp::read_from(&[0; MIN_FRAME_LEN - 1]), None);
        assert!(Stamp::read_from(&[0; MIN_FRAME_LEN]).is_some());
    }

    #[test]
    fn unix_micros_counts_from_the_epoch() {
        let t = UNIX_EPOCH + Duration::from_micros(42);
        assert_eq!(unix_micros(t), 42);
        assert_eq!(unix_micros(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn first_video_frame_is_a_vp8_keyframe() {
        let mut src = VideoSource::new(&VideoConfig::default(), 0);
        let mut buf = Vec::new();
        let f = src.next_frame(5, &mut rng(), &mut buf);
        assert!(f.keyframe);
        assert!(is_vp8_keyframe(&buf));
        assert_eq!(buf[0] & 0x01, 0, "P bit clear");
        assert_eq!(buf[0] & 0x0e, 0, "version 0");
        assert_eq!(buf[0] & 0x10, 0x10, "show_frame");
        assert_eq!(&buf[3..6], &VP8_START_CODE);
        assert_eq!(u16::from_le_bytes([buf[6], buf[7]]), 640);
        assert_eq!(u16::from_le_bytes([buf[8], buf[9]]), 360);
        let tag = u32::from_le_bytes([buf[0], buf[1], buf[2], 0]);
        assert_eq!((tag >> 5) as usize, buf.len() - 3, "first partition size");
        let stamp = Stamp {
            sent_us: 5,
            seq: 0,
            layer: 0,
        };
        assert_eq!(Stamp::read_from(&buf), Some(stamp));
    }

    #[test]
    fn later_frames_are_interframes_until_requested() {
        let mut src = VideoSource::new(&VideoConfig::default(), 0);
        let (mut r, mut buf) = (rng(), Vec::new());
        src.next_frame(0, &mut r, &mut buf);
        let f = src.next_frame(0, &mut r, &mut buf);
        assert!(!f.keyframe);
        assert!(!is_vp8_keyframe(&buf));
        assert_eq!(buf[0] & 0x01, 0x01, "P bit set");
        assert_ne!(&buf[3..6], &VP8_START_CODE);

        src.request_keyframe();
        let f = src.next_frame(0, &mut r, &mut buf);
        assert!(f.keyframe && is_vp8_keyframe(&buf));
        assert!(!src.next_frame(0, &mut r, &mut buf).keyframe);
    }

    #[test]
    fn str0m_sees_the_keyframe_bit() {
        use str0m::rtp::Vp8Descriptor;
        let mut src = VideoSource::new(&VideoConfig::default(), 0);
        let (mut r, mut buf) = (rng(), Vec::new());
        for want in [true, false] {
            src.next_frame(0, &mut r, &mut buf);
            // RTP payload descriptors as str0m's packetizer writes them: plain, and with a
            // 7-bit picture id.
            for descriptor in [&[0x10][..], &[0x90, 0x80, 0x05]] {
                let payload = [descriptor, &buf[..]].concat();
                let parsed = Vp8Descriptor::parse(&payload).expect("valid descriptor");
                assert_eq!(parsed.starts_keyframe(&payload), want);
            }
        }
    }

    #[test]
    fn keyframes_repeat_at_the_interval() {
        let config = VideoConfig {
            fps: 10,
            keyframe_interval: Duration::from_secs(1),
            ..VideoConfig::default()
        };
        let mut src = VideoSource::new(&config, 0);
        let (mut r, mut buf) = (rng(), Vec::new());
        let keys: Vec<u32> = (0..25)
            .map(|_| src.next_frame(0, &mut r, &mut buf))
            .filter(|f| f.keyframe)
            .map(|f| f.seq)
            .collect();
        assert_eq!(keys, vec![0, 10, 20]);
    }

    #[test]
    fn video_keeps_its_bitrate_and_rtp_clock() {
        let config = VideoConfig::default();
        let mut src = VideoSource::new(&config, 0);
        let (mut r, mut buf) = (rng(), Vec::new());
        let mut bytes = 0;
        let mut last = None;
        for _ in 0..300 {
            last = Some(src.next_frame(0, &mut r, &mut buf));
            bytes += buf.len();
        }
        // 10 s of video at 300 kbps is 375 kB; keyframes add a few percent.
        let kbps = bytes * 8 / 10 / 1000;
        assert!((290..=330).contains(&kbps), "{kbps} kbps");
        let last = last.expect("frames were made");
        assert_eq!(
            last.rtp_time,
            MediaTime::new(299 * 3000, Frequency::NINETY_KHZ)
        );
        assert_eq!(src.frame_interval(), Duration::from_nanos(33_333_333));
    }

    #[test]
    fn a_capped_encoding_sends_smaller_frames_never_more_than_its_own_rate() {
        let config = VideoConfig::default();
        let mut src = VideoSource::new(&config, 0);
        let (mut r, mut buf) = (rng(), Vec::new());
        let mut kbps = |src: &mut VideoSource| {
            let mut bytes = 0;
            for _ in 0..300 {
                src.next_frame(0, &mut r, &mut buf);
                bytes += buf.len();
            }
            bytes * 8 / 10 / 1000
        };
        kbps(&mut src);
        src.set_max_bitrate(Some(100_000));
        let capped = kbps(&mut src);
        assert!((95..=115).contains(&capped), "{capped} kbps");
        src.set_max_bitrate(Some(5_000_000));
        let above = kbps(&mut src);
        assert!((290..=330).contains(&above), "{above} kbps");
        src.set_max_bitrate(None);
        let lifted = kbps(&mut src);
        assert!((290..=330).contains(&lifted), "{lifted} kbps");
    }

    #[test]
    fn tiny_bitrate_still_leaves_room_for_the_stamp() {
        let config = VideoConfig::single(100, 640, 360);
        let mut src = VideoSource::new(&config, 0);
        let mut buf = Vec::new();
        src.next_frame(9, &mut rng(), &mut buf);
        src.next_frame(9, &mut rng(), &mut buf);
        assert_eq!(buf.len(), MIN_FRAME_LEN);
        assert_eq!(Stamp::read_from(&buf).map(|s| s.seq), Some(1));
    }

    #[test]
    fn simulcast_layers_count_frames_in_step_at_their_own_sizes() {
        let config = VideoConfig::simulcast([150_000, 450_000, 1_200_000]);
        assert!(config.encodings.is_simulcast());
        let mut layers: Vec<VideoSource> = (0..3).map(|i| VideoSource::new(&config, i)).collect();
        let (mut r, mut buf) = (rng(), Vec::new());
        let mut bytes = [0usize; 3];
        for n in 0..300u32 {
            let mut times = Vec::new();
            for (i, src) in layers.iter_mut().enumerate() {
                if n == 100 && i == 1 {
                    src.request_keyframe();
                }
                let f = src.next_frame(0, &mut r, &mut buf);
                assert_eq!(f.seq, n, "one capture, three encodings");
                let stamp = Stamp::read_from(&buf).expect("stamped");
                assert_eq!(stamp.layer as usize, i);
                // Each layer's interval counts from its own last keyframe.
                let due = if i == 1 {
                    [0, 100, 250].contains(&n)
                } else {
                    n % 150 == 0
                };
                assert_eq!(f.keyframe, due, "frame {n} of layer {i}");
                if f.keyframe {
                    let (w, h) = LAYER_SIZES[i];
                    assert_eq!(u16::from_le_bytes([buf[6], buf[7]]), w);
                    assert_eq!(u16::from_le_bytes([buf[8], buf[9]]), h);
                }
                times.push(f.rtp_time);
                bytes[i] += buf.len();
            }
            assert!(times.windows(2).all(|t| t[0] == t[1]), "same capture time");
        }
        // 10 s each; keyframes add a few percent.
        let kbps = bytes.map(|b| b * 8 / 10 / 1000);
        assert!((145..=175).contains(&kbps[0]), "{kbps:?}");
        assert!((440..=520).contains(&kbps[1]), "{kbps:?}");
        assert!((1180..=1380).contains(&kbps[2]), "{kbps:?}");
    }

    #[test]
    fn a_layer_switched_off_resumes_in_step() {
        let config = VideoConfig::simulcast([150_000, 450_000, 1_200_000]);
        let mut src = VideoSource::new(&config, 2);
        let (mut r, mut buf) = (rng(), Vec::new());
        src.next_frame(0, &mut r, &mut buf);
        for _ in 0..9 {
            src.skip_frame();
        }
        src.request_keyframe();
        let f = src.next_frame(0, &mut r, &mut buf);
        assert_eq!(f.seq, 10, "the capture went on");
        assert!(f.keyframe, "back with a keyframe");
        assert_eq!(f.rtp_time, MediaTime::new(10 * 3000, Frequency::NINETY_KHZ));
    }

    #[test]
    fn audio_frames_are_opus_sized_and_counted_in_48khz() {
        let mut src = AudioSource::new(AudioConfig::default());
        let (mut r, mut buf) = (rng(), Vec::new());
        for n in 0..100u32 {
            let f = src.next_frame(u64::from(n), &mut r, &mut buf);
            assert!((80..=160).contains(&buf.len()), "{} bytes", buf.len());
            assert_eq!(buf[0], OPUS_TOC);
            assert!(!f.keyframe);
            assert_eq!(f.seq, n);
            assert_eq!(f.rtp_time.numer(), u64::from(n) * 960);
            assert_eq!(
                Stamp::read_from(&buf),
                Some(Stamp {
                    sent_us: u64::from(n),
                    seq: n,
                    layer: 0,
                })
            );
        }
    }

    #[test]
    fn audio_levels_fit_the_extension() {
        assert_eq!(audio_level(TALKING_DBOV), (-30, true));
        assert_eq!(audio_level(SILENT_DBOV), (-127, false));
        // -128 has no 7-bit magnitude; it would wrap to 0 dBov (loudest) on the wire.
        assert_eq!(audio_level(i8::MIN), (-127, false));
        assert_eq!(audio_level(5), (0, true));
        let mut src = AudioSource::new(AudioConfig::default());
        assert_eq!(src.level(), (-30, true));
        src.set_level(SILENT_DBOV);
        assert_eq!(src.level(), (-127, false));
    }
}
