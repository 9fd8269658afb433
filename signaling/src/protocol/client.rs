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
    },
    Publish {
        sdp: String,
        #[serde(default)]
        tracks: Vec<PublishTrack>,
    },
    SubscribeAnswer {
        sdp: String,
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
    Leave,
    // Host actions.
    Admit {
        participant: String,
    },
    AdmitAll,
    Deny {
        participant: String,
    },
    Mute {
        participant: String,
    },
    MuteAll,
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
    EndRoom,
}

/// The `type` of every client message, for telling an unknown type from a malformed message.
pub const KNOWN_TYPES: &[&str] = &[
    "join",
    "publish",
    "subscribe_answer",
    "candidate",
    "media_state",
    "raise_hand",
    "lower_hand",
    "chat",
    "leave",
    "admit",
    "admit_all",
    "deny",
    "mute",
    "mute_all",
    "stop_video",
    "stop_screen",
    "remove",
    "set_role",
    "settings",
    "renew_link",
    "end_room",
];

#[derive(Debug, Deserialize)]
pub struct PublishTrack {
    pub mid: String,
    pub source: String,
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
