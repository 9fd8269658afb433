//! What clients send (docs/protocol.md, "Client -> server").

use serde::Deserialize;

use super::Role;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Join {
        v: u32,
        room: String,
        secret: String,
        name: String,
        #[serde(default)]
        session: Option<String>,
        /// The room's `creator_key`, from the browser that created it (with the host link).
        #[serde(default)]
        creator: Option<String>,
    },
    /// Instead of `join` on a new socket: take the place of this participant's earlier one.
    Resume {
        v: u32,
        room: String,
        token: String,
        #[serde(default)]
        fresh: bool,
    },
    Publish {
        sdp: String,
        #[serde(default)]
        tracks: Vec<PublishTrack>,
    },
    SubscribeAnswer {
        sdp: String,
    },
    /// The client could not apply the latest subscribe offer.
    SubscribeFailed {
        #[serde(default)]
        reason: String,
    },
    IceRestart {
        pc: Pc,
    },
    Candidate {
        pc: Pc,
        candidate: String,
    },
    MediaState {
        audio: bool,
        video: bool,
        #[serde(default)]
        screen: bool,
    },
    RaiseHand,
    LowerHand {
        #[serde(default)]
        participant: Option<String>,
    },
    Chat {
        text: String,
    },
    Leave {
        /// The page is being unloaded (closed or reloaded): keep the seat briefly.
        #[serde(default)]
        may_return: bool,
    },
    /// Is the socket still carrying? Answered with `pong` at once, joined or not.
    Ping,
    /// What the page shows of the others' videos, and how large.
    View {
        tiles: Vec<ViewTile>,
    },
    // Host actions.
    Admit {
        participant: String,
    },
    AdmitAll,
    Deny {
        participant: String,
    },
    /// Turns away everyone waiting (a lobby filled by strangers).
    DenyAll,
    Mute {
        participant: String,
    },
    MuteAll,
    /// Lowers every raised hand (the lesson moves on).
    LowerAllHands,
    /// Everyone's stage shows this participant (`None`: back to each page's own choice).
    Spotlight {
        #[serde(default)]
        participant: Option<String>,
    },
    StopVideo {
        participant: String,
    },
    StopScreen {
        participant: String,
    },
    Remove {
        participant: String,
    },
    SetRole {
        participant: String,
        role: Role,
    },
    Settings(SettingsChange),
    RenewLink,
    /// The lead only: a new host link; the old one admits nobody.
    RenewHostLink,
    EndRoom,
}

impl ClientMsg {
    /// The message's `type` on the wire, for the `re` of an error that answers it.
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientMsg::Join { .. } => "join",
            ClientMsg::Resume { .. } => "resume",
            ClientMsg::Publish { .. } => "publish",
            ClientMsg::SubscribeAnswer { .. } => "subscribe_answer",
            ClientMsg::SubscribeFailed { .. } => "subscribe_failed",
            ClientMsg::IceRestart { .. } => "ice_restart",
            ClientMsg::Candidate { .. } => "candidate",
            ClientMsg::MediaState { .. } => "media_state",
            ClientMsg::RaiseHand => "raise_hand",
            ClientMsg::LowerHand { .. } => "lower_hand",
            ClientMsg::Chat { .. } => "chat",
            ClientMsg::Leave { .. } => "leave",
            ClientMsg::Ping => "ping",
            ClientMsg::View { .. } => "view",
            ClientMsg::Admit { .. } => "admit",
            ClientMsg::AdmitAll => "admit_all",
            ClientMsg::Deny { .. } => "deny",
            ClientMsg::DenyAll => "deny_all",
            ClientMsg::Mute { .. } => "mute",
            ClientMsg::MuteAll => "mute_all",
            ClientMsg::LowerAllHands => "lower_all_hands",
            ClientMsg::Spotlight { .. } => "spotlight",
            ClientMsg::StopVideo { .. } => "stop_video",
            ClientMsg::StopScreen { .. } => "stop_screen",
            ClientMsg::Remove { .. } => "remove",
            ClientMsg::SetRole { .. } => "set_role",
            ClientMsg::Settings(_) => "settings",
            ClientMsg::RenewLink => "renew_link",
            ClientMsg::RenewHostLink => "renew_host_link",
            ClientMsg::EndRoom => "end_room",
        }
    }
}

/// The `type` of every client message, for telling an unknown type from a malformed message.
pub const KNOWN_TYPES: &[&str] = &[
    "join",
    "resume",
    "publish",
    "subscribe_answer",
    "subscribe_failed",
    "ice_restart",
    "candidate",
    "media_state",
    "raise_hand",
    "lower_hand",
    "chat",
    "leave",
    "ping",
    "view",
    "admit",
    "admit_all",
    "deny",
    "deny_all",
    "mute",
    "mute_all",
    "lower_all_hands",
    "spotlight",
    "stop_video",
    "stop_screen",
    "remove",
    "set_role",
    "settings",
    "renew_link",
    "renew_host_link",
    "end_room",
];

#[derive(Debug, Deserialize)]
pub struct PublishTrack {
    pub mid: String,
    pub source: String,
    /// Simulcast layers, smallest first (protocol.md, "Simulcast").
    #[serde(default)]
    pub layers: Vec<PublishLayer>,
}

#[derive(Debug, Deserialize)]
pub struct PublishLayer {
    pub rid: String,
    pub width: u64,
    pub height: u64,
}

/// One remote video a page shows, and how large (protocol.md, `view`).
#[derive(Debug, Deserialize)]
pub struct ViewTile {
    pub participant: String,
    pub source: String,
    pub width: u64,
    pub height: u64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pc {
    Publish,
    Subscribe,
}

/// A host's partial change of the room's settings: fields left out stay as they are.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct SettingsChange {
    pub lobby: Option<bool>,
    pub locked: Option<bool>,
    pub chat: Option<bool>,
    pub unmute: Option<bool>,
    pub video: Option<bool>,
    pub screen: Option<bool>,
}
