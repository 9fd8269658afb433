//! The wire protocol of docs/protocol.md, as Rust types. Parsing is strict about types and
//! lenient about extra fields; every failure becomes an [`ErrorCode`] the client can act on.

use serde::{Deserialize, Serialize};

/// The protocol version this server speaks.
pub const VERSION: u32 = 1;
/// Largest text frame a client may send (docs/protocol.md).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest display name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 40;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Join {
        v: u32,
        room: String,
        secret: String,
        name: String,
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
    },
    Leave,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Teacher,
    Student,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParticipantInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub audio: bool,
    pub video: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomInfo {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackInfo {
    pub mid: String,
    pub participant: String,
    pub kind: &'static str,
    pub source: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Joined {
        v: u32,
        you: ParticipantInfo,
        room: RoomInfo,
        participants: Vec<ParticipantInfo>,
        /// Teachers only: the student link's secret, so the link can be shown again on any
        /// device the teacher joins from.
        #[serde(skip_serializing_if = "Option::is_none")]
        student_secret: Option<String>,
    },
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantUpdated {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        id: String,
    },
    PublishAnswer {
        sdp: String,
    },
    SubscribeOffer {
        sdp: String,
        tracks: Vec<TrackInfo>,
    },
    Error {
        code: &'static str,
        message: String,
    },
}

/// Machine-readable error codes (docs/protocol.md has the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadMessage,
    UnknownType,
    TooLarge,
    UnsupportedVersion,
    UnknownRoom,
    BadSecret,
    BadName,
    RoomFull,
    NotJoined,
    AlreadyJoined,
    ServerBusy,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::UnknownRoom => "unknown_room",
            ErrorCode::BadSecret => "bad_secret",
            ErrorCode::BadName => "bad_name",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::ServerBusy => "server_busy",
        }
    }

    /// Whether the server closes the socket after sending this error.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            ErrorCode::TooLarge
                | ErrorCode::UnsupportedVersion
                | ErrorCode::UnknownRoom
                | ErrorCode::BadSecret
                | ErrorCode::RoomFull
                | ErrorCode::ServerBusy
        )
    }

    pub fn message(self, message: impl Into<String>) -> ServerMsg {
        ServerMsg::Error {
            code: self.as_str(),
            message: message.into(),
        }
    }
}

/// Parses one text frame, telling an unknown `type` apart from a malformed message.
pub fn parse(text: &str) -> Result<ClientMsg, (ErrorCode, String)> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err((ErrorCode::TooLarge, "message larger than 64 KiB".into()));
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| (ErrorCode::BadMessage, format!("not valid JSON: {e}")))?;
    let Some(kind) = value.get("type").and_then(|t| t.as_str()) else {
        return Err((
            ErrorCode::BadMessage,
            "expected an object with a \"type\"".into(),
        ));
    };
    const KNOWN: &[&str] = &[
        "join",
        "publish",
        "subscribe_answer",
        "candidate",
        "media_state",
        "leave",
    ];
    if !KNOWN.contains(&kind) {
        return Err((
            ErrorCode::UnknownType,
            format!("unknown message type {kind:?}"),
        ));
    }
    let kind = kind.to_string();
    serde_json::from_value(value).map_err(|e| {
        (
            ErrorCode::BadMessage,
            format!("malformed {kind} message: {e}"),
        )
    })
}

/// Checks and normalizes a display name.
pub fn clean_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err("the name is empty".into());
    }
    if chars > MAX_NAME_CHARS {
        return Err(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains control characters".into());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_join() {
        let m = parse(r#"{"type":"join","v":1,"room":"r","secret":"s","name":"Anna","x":1}"#);
        assert!(matches!(m, Ok(ClientMsg::Join { v: 1, .. })));
    }

    #[test]
    fn tells_unknown_type_from_malformed() {
        assert_eq!(
            parse(r#"{"type":"dance"}"#).unwrap_err().0,
            ErrorCode::UnknownType
        );
        assert_eq!(
            parse(r#"{"type":"join"}"#).unwrap_err().0,
            ErrorCode::BadMessage
        );
        assert_eq!(parse("[1,2]").unwrap_err().0, ErrorCode::BadMessage);
        assert_eq!(parse("{not json").unwrap_err().0, ErrorCode::BadMessage);
        assert_eq!(parse(r#"{"type":5}"#).unwrap_err().0, ErrorCode::BadMessage);
    }

    #[test]
    fn refuses_oversized_text() {
        let big = format!(
            r#"{{"type":"leave","pad":"{}"}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(parse(&big).unwrap_err().0, ErrorCode::TooLarge);
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean_name("  Anna  ").unwrap(), "Anna");
        assert!(clean_name("   ").is_err());
        assert!(clean_name("a\u{7}b").is_err());
        assert!(clean_name(&"ä".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(clean_name(&"ä".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn serializes_with_snake_case_types() {
        let m = ServerMsg::ParticipantLeft { id: "p2".into() };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"type":"participant_left","id":"p2"}"#
        );
    }
}
