//! What the server sends (docs/protocol.md, "Server -> client").

use serde::{Deserialize, Serialize};

/// A participant's role in a room. In a class the host is the teacher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Host,
    Participant,
}

/// A class (one teacher leads) or a meeting (staff; everyone may speak and share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    #[default]
    Class,
    Meeting,
}

/// The room's settings; hosts change them, everyone admitted sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub lobby: bool,
    pub locked: bool,
    pub chat: bool,
    pub unmute: bool,
    pub video: bool,
    pub screen: bool,
}

impl Settings {
    /// The defaults of docs/protocol.md's settings table.
    pub fn for_kind(kind: RoomKind) -> Settings {
        let class = kind == RoomKind::Class;
        Settings {
            lobby: class,
            locked: false,
            chat: true,
            unmute: true,
            video: true,
            screen: !class,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ParticipantInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
    /// The hand's place key, or `None` when the hand is down.
    pub hand: Option<u64>,
    /// `good`, `poor` or `lost`, as the SFU rates this participant's connections.
    pub quality: &'static str,
    /// Its socket is gone and the server keeps its seat for a resume.
    pub reconnecting: bool,
    /// Joined with the host link (not made host by another host): only the room's lead may
    /// remove or demote such a host.
    pub host_link: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitingInfo {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomInfo {
    pub id: String,
    pub title: String,
    pub kind: RoomKind,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackInfo {
    pub mid: String,
    pub participant: String,
    pub kind: &'static str,
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatMessage {
    pub id: u64,
    pub from: String,
    pub name: String,
    /// The sender's role when it was sent: pages mark a host's messages, so a pupil who
    /// named herself like the teacher cannot post as her.
    pub role: Role,
    pub text: String,
    /// Milliseconds since the Unix epoch, by the server's clock.
    pub at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationAction {
    Mute,
    StopVideo,
    StopScreen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    EndedByHost,
}

/// What `joined` carries (docs/protocol.md).
#[derive(Debug, Clone, Serialize)]
pub struct Joined {
    pub v: u32,
    pub you: ParticipantInfo,
    pub room: RoomInfo,
    pub session: String,
    /// This participant's resume token (a secret: never logged).
    pub resume: String,
    pub resume_grace_secs: u64,
    /// This `joined` answers a `resume`.
    pub resumed: bool,
    pub settings: Settings,
    pub participants: Vec<ParticipantInfo>,
    pub chat: Vec<ChatMessage>,
    /// Hosts only: the participant link's secret, so the link can be shown again on any
    /// device the host joins from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_secret: Option<String>,
    /// Hosts only: the lobby.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Vec<WaitingInfo>>,
    /// The school's TURN server with credentials for this participant (secrets: never
    /// logged), for `RTCConfiguration.iceServers`; absent without TURN.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ice_servers: Vec<crate::turn::IceServer>,
    /// This is the room's lead: joined with the host link and the room's creator key (or,
    /// until someone has, the first with the host link), who may remove and demote other
    /// host-link holders and renew the host link.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lead: bool,
    /// Whom a host has put in the spotlight for everyone; absent: nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spotlight: Option<String>,
}

/// One participant's one source.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRef {
    pub participant: String,
    pub source: &'static str,
}

/// One simulcast encoding (by rid; empty for a track that sends one) and whether it is on.
#[derive(Debug, Clone, Serialize)]
pub struct EncodingState {
    pub rid: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Lobby {
        room: RoomInfo,
        session: String,
    },
    /// Boxed: by far the largest message, and every queued message is as large as the largest
    /// variant.
    Joined(Box<Joined>),
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantUpdated {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        id: String,
    },
    SettingsUpdated {
        settings: Settings,
    },
    /// Whom a host put in the spotlight for everyone (`None`: nobody any more).
    Spotlight {
        participant: Option<String>,
    },
    Moderated {
        action: ModerationAction,
        by: Option<String>,
    },
    /// To a waiting participant whom a host could not let in (`reason`: `room_full`).
    AdmitFailed {
        reason: &'static str,
    },
    HostInfo {
        participant_secret: String,
        waiting: Vec<WaitingInfo>,
        /// Whether this host is the room's lead (false for a stand-in when the creator comes).
        lead: bool,
    },
    /// The lobby as a delta: everyone waiting by id, in order of arrival, and the names of
    /// those who arrived since the last one (a host knows the others' from `joined`,
    /// `host_info` or an earlier update).
    LobbyUpdated {
        waiting: Vec<String>,
        arrived: Vec<WaitingInfo>,
    },
    LinkRenewed {
        participant_secret: String,
    },
    /// To the lead after `renew_host_link`: the new host link's secret.
    HostLinkRenewed {
        host_secret: String,
    },
    Chat {
        message: ChatMessage,
    },
    Speakers {
        speaking: Vec<String>,
        dominant: Option<String>,
    },
    PublishAnswer {
        sdp: String,
    },
    SubscribeOffer {
        sdp: String,
        tracks: Vec<TrackInfo>,
        reset: bool,
    },
    /// A stream this participant should receive cannot be forwarded to it.
    StreamUnavailable {
        participant: String,
        source: &'static str,
        reason: &'static str,
        codec: String,
    },
    RoomEnded {
        reason: EndReason,
    },
    /// What the server's bandwidth allocator holds back from this participant: videos its
    /// page shows but gets none of, and whether its own link is the limit.
    Bandwidth {
        paused: Vec<StreamRef>,
        limited: bool,
    },
    /// To a publisher: which encodings of a source anybody takes; the page switches the
    /// others off.
    Encodings {
        source: &'static str,
        encodings: Vec<EncodingState>,
    },
    /// To a publisher: the bit/s to send its screen share at, at most (`null`: no cap).
    ScreenBitrate {
        max_bitrate: Option<u64>,
    },
    /// To a publisher: the bit/s to send its camera's lowest encoding at, at most (`null`: no
    /// cap).
    CameraBitrate {
        max_bitrate: Option<u64>,
    },
    Error {
        code: &'static str,
        message: String,
        /// The `type` of the request this answers, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        re: Option<&'static str>,
        /// For `server_busy` when the server cannot even queue the join: when to ask again.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// The answer to a client's `ping`.
    Pong,
    /// The server is full for now: this join waits its turn (docs/protocol.md, `queued`).
    Queued {
        /// 1: next in.
        position: usize,
        /// Everyone waiting to enter this server.
        waiting: usize,
        /// About how long this one still waits, when the queue has moved lately.
        wait_secs: Option<u64>,
    },
    /// To hosts: how many wait in the server's queue to enter this room.
    Queue {
        waiting: usize,
    },
}
