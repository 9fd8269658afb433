//! The vocabulary between the SFU and the rest of Aula: ids, the commands signaling sends in,
//! and the events that come back out for one participant.

use std::fmt;
use std::sync::Arc;

/// A room's id, as signaling names it. Cheap to clone: it rides along with every command.
pub type RoomId = Arc<str>;

/// A participant within one room. Shown on the wire as `p<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u32);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// What a published track carries. A participant has at most one track per source, so
/// `(publisher, source)` names a stream that survives the publisher reconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Microphone,
    Camera,
    Screen,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Microphone => "microphone",
            Source::Camera => "camera",
            Source::Screen => "screen",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "microphone" => Some(Source::Microphone),
            "camera" => Some(Source::Camera),
            "screen" => Some(Source::Screen),
            _ => None,
        }
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
        }
    }
}

/// Which of a participant's two connections: `Publish` carries media up to the SFU and is
/// offered by the client; `Subscribe` carries media down and is offered by the SFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Publish,
    Subscribe,
}

/// Input from signaling, addressed to one room.
#[derive(Debug)]
pub enum Command {
    /// Add a participant (signaling has already checked the secret and the room's limits).
    Join { participant: ParticipantId },
    /// An SDP offer for the participant's publish connection. `tracks` names the source of
    /// each m-line by mid (m-lines not named default by kind) and the sizes of its simulcast
    /// layers.
    Publish {
        participant: ParticipantId,
        offer: String,
        tracks: Vec<TrackHint>,
    },
    /// The sizes at which a subscriber's page shows the others' videos now; a stream not
    /// listed is not shown and gets no video. Replaces the previous view.
    View {
        participant: ParticipantId,
        tiles: Vec<Tile>,
    },
    /// The answer to the last `SubscribeOffer` event.
    SubscribeAnswer {
        participant: ParticipantId,
        answer: String,
    },
    /// A trickled ICE candidate of the client.
    RemoteCandidate {
        participant: ParticipantId,
        direction: Direction,
        candidate: String,
    },
    /// Open or close the gate on one of a participant's sources: while closed, the SFU
    /// forwards none of that source's media to anyone, whatever the publisher sends. Gates
    /// start open; signaling closes them for what a participant may not (or does not) send,
    /// e.g. a muted microphone. Reopening a video gate asks the publisher for a keyframe.
    Gate {
        participant: ParticipantId,
        source: Source,
        open: bool,
    },
    /// The participant's signaling came back (a resumed session). Without `fresh`, a
    /// subscribe offer that was outstanding is emitted again (the client may have lost it with
    /// its old socket); with `fresh` (a reloaded page: its peer connections are gone) the
    /// subscribe connection is rebuilt and offered anew with `reset`. The shell also takes the
    /// new event sink that comes with it.
    Resume {
        participant: ParticipantId,
        fresh: bool,
    },
    /// Restart ICE on the participant's subscribe connection: the next subscribe offer carries
    /// new ICE credentials. Refused with [`SfuError::RateLimited`] past 3 in a burst, then one
    /// per 5 s. (The publish connection restarts ICE with an offer of its own, a `Publish`.)
    IceRestart { participant: ParticipantId },
    /// The client could not apply the latest subscribe offer: the subscribe connection is
    /// rebuilt and offered anew with `reset`.
    SubscribeFailed { participant: ParticipantId },
    /// Whether a participant is a host (teacher, chair, co-host): the bandwidth allocator
    /// keeps a host's camera before the others' (docs/architecture.md, "Bandwidth
    /// adaptation"). Participants start as non-hosts.
    Role {
        participant: ParticipantId,
        host: bool,
    },
    /// Remove a participant and everything it published.
    Leave { participant: ParticipantId },
    /// Close the room and free everything it holds.
    Close,
    /// Panic in the room's code, as a bug would: the tests of what a fault in one room does
    /// (`Worker::fail_room`). Only in builds with the `fault-injection` feature.
    #[cfg(any(test, feature = "fault-injection"))]
    Fault,
}

impl Command {
    /// Whether a client's message caused this command (an offer, an answer, a candidate, a
    /// view, an ICE restart), as opposed to its session's life (join, resume, role, gates,
    /// leave, close), whose number the rooms bound. Only these are refused when a worker's
    /// queue is long ([`crate::SendError::Busy`]).
    pub fn from_client(&self) -> bool {
        matches!(
            self,
            Command::Publish { .. }
                | Command::View { .. }
                | Command::SubscribeAnswer { .. }
                | Command::RemoteCandidate { .. }
                | Command::IceRestart { .. }
                | Command::SubscribeFailed { .. }
        )
    }
}

/// What the client says of one published m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackHint {
    pub mid: String,
    pub source: Source,
    /// Its simulcast layers, smallest first (empty: the SFU assumes 180, 360, 720 lines).
    pub layers: Vec<LayerHint>,
}

/// One simulcast layer: its rid and the size it is encoded at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerHint {
    pub rid: String,
    pub width: u32,
    pub height: u32,
}

/// How large a subscriber's page shows one stream, in device pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub publisher: ParticipantId,
    pub source: Source,
    pub width: u32,
    pub height: u32,
}

/// One m-line of a subscribe connection, and whose media it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownTrackInfo {
    pub mid: String,
    pub participant: ParticipantId,
    pub kind: Kind,
    pub source: Source,
}

/// Output for one participant, to be sent over its signaling socket.
#[derive(Debug)]
pub enum SfuEvent {
    PublishAnswer {
        sdp: String,
    },
    SubscribeOffer {
        sdp: String,
        tracks: Vec<DownTrackInfo>,
        /// The subscribe connection is new: the client drops its old one and answers on a new
        /// peer connection.
        reset: bool,
    },
    /// How well this participant's connections carry media now, when it changes (see
    /// [`Quality`]). Signaling tells the room.
    Quality(Quality),
    /// A stream this participant should receive cannot be forwarded to it, e.g. the publisher
    /// sends a codec this participant's browser did not negotiate. Once per stream instance.
    StreamUnavailable {
        publisher: ParticipantId,
        source: Source,
        reason: DropCause,
        /// The codec the publisher sends (`VP8`, `H264`, `opus`).
        codec: String,
    },
    /// Who is talking in the room, loudest first, and the dominant speaker (the last one who
    /// spoke long enough; kept through silence). Sent to every participant of the room when
    /// it changes, from the audio level RTP header extension of forwarded (gate open) audio.
    Speakers {
        speaking: Vec<ParticipantId>,
        dominant: Option<ParticipantId>,
    },
    /// What the bandwidth allocator holds back from this subscriber, when that changes: the
    /// videos it shows but gets none of (paused for want of bandwidth), and whether its own
    /// link is what limits it (its estimate is below what its page would show).
    Bandwidth {
        paused: Vec<(ParticipantId, Source)>,
        limited: bool,
    },
    /// To a publisher: which encodings (by rid) of a source anybody takes. The page switches
    /// the others off (`RTCRtpSender.setParameters`, `active: false`) and on again when told.
    Encodings {
        source: Source,
        encodings: Vec<(String, bool)>,
    },
    /// To a publisher: send the screen share, or the camera's lowest encoding, at no more
    /// than this many bit/s (`None`: as the browser likes), because a subscriber cannot take
    /// it whole. The page sets the encoding's `maxBitrate`; for screen content the browser
    /// keeps the resolution and lowers the frame rate.
    MaxBitrate {
        source: Source,
        max_bitrate: Option<u64>,
    },
    /// The participant's media connections are gone: a fault in its room's media code ended
    /// the room's media state (the worker and its other rooms go on). Signaling joins the
    /// participant again, and its page starts both connections anew.
    MediaLost,
    /// A command was refused; `re` names it as the wire does (`publish`, `subscribe_answer`,
    /// `ice_restart`).
    Error {
        error: SfuError,
        re: &'static str,
    },
}

/// A room's bandwidth picture, as of its latest allocation (every half second): what its hosts
/// see through `GET /api/rooms/{id}/bandwidth`, and what `/metrics` sums up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomReport {
    /// The room's share of the server's egress budget, and its own limit, whichever is lower
    /// (bit/s); `None`: unlimited.
    pub budget: Option<u64>,
    pub subscribers: Vec<SubscriberReport>,
}

/// One subscriber's part of a [`RoomReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriberReport {
    pub participant: ParticipantId,
    /// The send-side estimate of its subscribe connection (bit/s), once there is one.
    pub estimate: Option<u64>,
    /// What the chosen layers and its audio send (bit/s).
    pub allocated: u64,
    /// What every video it shows at the layer its tile calls for would send (bit/s).
    pub wanted: u64,
    /// Its own link is what holds it back.
    pub limited: bool,
    /// It gets audio only: the share of its estimate its media may fill fell below 100 kbit/s.
    pub audio_only: bool,
    pub videos: Vec<VideoReport>,
}

/// One video a subscriber could receive, and what it gets of it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoReport {
    pub publisher: ParticipantId,
    pub source: Source,
    /// How high its page shows it (`None`: not shown).
    pub shown: Option<u32>,
    /// The layer it gets; `None`: none.
    pub layer: Option<LayerReport>,
    /// Shown, but paused for want of bandwidth.
    pub paused: bool,
}

/// The layer a subscriber gets of a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerReport {
    /// Its index in the publisher's layers, 0 the smallest.
    pub index: u8,
    /// Lines high.
    pub height: u32,
    /// What it sends, as the allocator counted it (bit/s, packets with their overhead): a
    /// host who sees a video paused can read what it would have cost.
    pub bitrate: u64,
}

/// A participant's connection quality, as the SFU measures it (docs/protocol.md, "Connection
/// quality").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Quality {
    #[default]
    Good,
    Poor,
    /// Nothing arrived on one of its media connections for a while.
    Lost,
}

impl Quality {
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Poor => "poor",
            Quality::Lost => "lost",
        }
    }
}

/// Why a frame could not be forwarded to a subscriber (docs/operations.md, `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropCause {
    /// The subscriber's connection did not negotiate the codec the publisher sends.
    Codec,
    /// The m-line is not sending (a bug if it ever shows).
    NotSending,
    /// str0m refused the write.
    WriteFailed,
}

impl DropCause {
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::Codec => "codec",
            DropCause::NotSending => "not_sending",
            DropCause::WriteFailed => "write_failed",
        }
    }
}

/// Why a command was refused. Each maps to one wire error code in docs/protocol.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SfuError {
    #[error("the offer has {found} media sections, at most {max} are allowed")]
    TooManyTracks { found: usize, max: usize },
    #[error("the session description could not be accepted: {0}")]
    BadSdp(String),
    #[error("no subscribe offer is outstanding")]
    UnexpectedAnswer,
    #[error("the participant is not in this room")]
    UnknownParticipant,
    #[error("too many ICE restarts; wait a few seconds")]
    RateLimited,
}

impl SfuError {
    /// The wire error code (docs/protocol.md).
    pub fn code(&self) -> &'static str {
        match self {
            SfuError::TooManyTracks { .. } => "too_many_tracks",
            SfuError::BadSdp(_) => "bad_sdp",
            SfuError::UnexpectedAnswer => "unexpected_answer",
            SfuError::UnknownParticipant => "not_joined",
            SfuError::RateLimited => "rate_limited",
        }
    }
}
