//! The wire protocol of docs/protocol.md, as Rust types. Parsing is strict about types and
//! lenient about extra fields; every failure becomes an [`ErrorCode`] the client can act on.

mod client;
mod server;

pub use client::{
    ClientMsg, KNOWN_TYPES, Pc, PublishLayer, PublishTrack, SettingsChange, ViewTile,
};
pub use server::{
    ChatMessage, EncodingState, EndReason, Joined, ModerationAction, ParticipantInfo, Role,
    RoomInfo, RoomKind, ServerMsg, Settings, StreamRef, TrackInfo, WaitingInfo,
};

/// The protocol version this server speaks.
pub const VERSION: u32 = 1;
/// Largest text frame a client may send (docs/protocol.md).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest display name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 40;
/// Longest chat message, in Unicode scalar values.
pub const MAX_CHAT_CHARS: usize = 1000;

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
    /// The lobby holds as many from the joiner's address as it takes: `room_full` on the
    /// wire (the page treats it as a full room), with its own message.
    LobbyFull,
    NotJoined,
    AlreadyJoined,
    ServerBusy,
    RoomLocked,
    Denied,
    Removed,
    NotAdmitted,
    Forbidden,
    UnknownParticipant,
    TextTooLong,
    RateLimited,
    ResumeFailed,
    NameTaken,
}

impl ErrorCode {
    /// Every code, in the order declared (crate::tally counts by position).
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::BadMessage,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownRoom,
        ErrorCode::BadSecret,
        ErrorCode::BadName,
        ErrorCode::RoomFull,
        ErrorCode::LobbyFull,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::ServerBusy,
        ErrorCode::RoomLocked,
        ErrorCode::Denied,
        ErrorCode::Removed,
        ErrorCode::NotAdmitted,
        ErrorCode::Forbidden,
        ErrorCode::UnknownParticipant,
        ErrorCode::TextTooLong,
        ErrorCode::RateLimited,
        ErrorCode::ResumeFailed,
        ErrorCode::NameTaken,
    ];

    /// The code as `/metrics` labels it: as on the wire, but a full lobby apart from a full room.
    pub fn label(self) -> &'static str {
        match self {
            ErrorCode::LobbyFull => "lobby_full",
            other => other.as_str(),
        }
    }

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
            ErrorCode::LobbyFull => "room_full",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::RoomLocked => "room_locked",
            ErrorCode::Denied => "denied",
            ErrorCode::Removed => "removed",
            ErrorCode::NotAdmitted => "not_admitted",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::UnknownParticipant => "unknown_participant",
            ErrorCode::TextTooLong => "text_too_long",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ResumeFailed => "resume_failed",
            ErrorCode::NameTaken => "name_taken",
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
                | ErrorCode::LobbyFull
                | ErrorCode::ServerBusy
                | ErrorCode::RoomLocked
                | ErrorCode::Denied
                | ErrorCode::Removed
        )
    }

    pub fn message(self, message: impl Into<String>) -> ServerMsg {
        crate::tally::error_sent(self);
        ServerMsg::Error {
            code: self.as_str(),
            message: message.into(),
            re: None,
            retry_after_secs: None,
        }
    }

    /// The error as the answer to a request of type `re`.
    pub fn reply(self, re: &'static str, message: impl Into<String>) -> ServerMsg {
        crate::tally::error_sent(self);
        ServerMsg::Error {
            code: self.as_str(),
            message: message.into(),
            re: (!re.is_empty()).then_some(re),
            retry_after_secs: None,
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
    if !KNOWN_TYPES.contains(&kind) {
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
    if name.chars().any(reorders_text) {
        return Err("the name contains characters that reorder text".into());
    }
    if name.chars().any(invisible) {
        return Err("the name contains invisible characters".into());
    }
    Ok(name.to_string())
}

/// Whether two names would be read as the same one: letter case and runs of spaces aside.
/// A participant may not take a present host's name (`name_taken`).
pub fn same_name(a: &str, b: &str) -> bool {
    let fold = |s: &str| {
        s.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" ")
    };
    fold(a) == fold(b)
}

/// Characters that show as nothing (zero-width space, direction marks, word joiners, the
/// byte order mark, the soft hyphen, Hangul fillers): `"Frau\u{200B} Weber"` would pass for
/// "Frau Weber", and a name of fillers shows as no name. The zero-width joiner and non-joiner
/// stay: emoji and several scripts (Persian, the Indic ones) need them.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2060}'..='\u{2064}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}'
    )
}

/// Unicode's bidirectional embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069), and the line and paragraph separators: none belongs in a name, and they let
/// one be shown as another (`"\u{202E}rebeW uarF"` reads "Frau Weber"), or break the lines of
/// every list it is in. Right-to-left names need none of them: the browser orders Arabic and
/// Hebrew by itself.
fn reorders_text(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Checks a chat message: trimmed, not empty, at most [`MAX_CHAT_CHARS`], no control
/// characters but line breaks and tabs.
pub fn clean_chat(text: &str) -> Result<String, (ErrorCode, String)> {
    let text = text.trim();
    if text.is_empty() {
        return Err((ErrorCode::BadMessage, "the chat message is empty".into()));
    }
    if text.chars().count() > MAX_CHAT_CHARS {
        let why = format!("a chat message may have at most {MAX_CHAT_CHARS} characters");
        return Err((ErrorCode::TextTooLong, why));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        let why = "the chat message contains control characters".to_string();
        return Err((ErrorCode::BadMessage, why));
    }
    Ok(text.to_string())
}

/// Parses a participant id as the wire shows it (`p7`).
pub fn parse_participant(id: &str) -> Option<aula_sfu::ParticipantId> {
    let digits = id.strip_prefix('p')?;
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    digits.parse().ok().map(aula_sfu::ParticipantId)
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
        assert!(
            clean_name("\u{202E}rebeW uarF").is_err(),
            "right-to-left override"
        );
        assert!(clean_name("Anna\u{2066}x\u{2069}").is_err(), "isolate");
        assert!(clean_name("Anna\u{2028}Ben").is_err(), "line separator");
        assert_eq!(
            clean_name("مريم").unwrap(),
            "مريم",
            "right-to-left names need none"
        );
        assert_eq!(clean_name("נועה").unwrap(), "נועה");
        assert!(clean_name(&"ä".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(clean_name(&"ä".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(
            clean_name("Frau\u{200B} Weber").is_err(),
            "zero-width space"
        );
        assert!(clean_name("\u{3164}\u{3164}").is_err(), "Hangul fillers");
        assert!(clean_name("Anna\u{FEFF}").is_err(), "byte order mark");
        assert_eq!(
            clean_name("👩\u{200D}🏫 Lea").unwrap(),
            "👩\u{200D}🏫 Lea",
            "joiners stay"
        );
        assert_eq!(clean_name("می\u{200C}خواهم").unwrap(), "می\u{200C}خواهم");
    }

    #[test]
    fn names_are_the_same_whatever_their_case_and_spaces() {
        assert!(same_name("Frau Weber", "frau  WEBER"));
        assert!(same_name("Frau Weber", " Frau Weber "));
        assert!(!same_name("Frau Weber", "Frau Webers"));
        assert!(same_name("Jörg Groß", "JÖRG GROß"));
    }

    #[test]
    fn cleans_chat() {
        assert_eq!(clean_chat("  hallo\nwelt ").unwrap(), "hallo\nwelt");
        assert_eq!(clean_chat(" ").unwrap_err().0, ErrorCode::BadMessage);
        assert_eq!(clean_chat("a\u{1b}b").unwrap_err().0, ErrorCode::BadMessage);
        assert!(clean_chat(&"ü".repeat(MAX_CHAT_CHARS)).is_ok());
        let long = "ü".repeat(MAX_CHAT_CHARS + 1);
        assert_eq!(clean_chat(&long).unwrap_err().0, ErrorCode::TextTooLong);
    }

    #[test]
    fn parses_participant_ids() {
        assert_eq!(parse_participant("p7"), Some(aula_sfu::ParticipantId(7)));
        assert_eq!(parse_participant("p0"), Some(aula_sfu::ParticipantId(0)));
        for bad in ["", "p", "7", "p07", "p-1", "px", "p99999999999", "P7"] {
            assert_eq!(parse_participant(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_host_actions() {
        let m = parse(r#"{"type":"settings","chat":false}"#).unwrap();
        assert!(matches!(m, ClientMsg::Settings(c) if c.chat == Some(false) && c.lobby.is_none()));
        let m = parse(r#"{"type":"set_role","participant":"p1","role":"host"}"#).unwrap();
        assert!(matches!(
            m,
            ClientMsg::SetRole {
                role: Role::Host,
                ..
            }
        ));
        assert!(parse(r#"{"type":"set_role","participant":"p1","role":"teacher"}"#).is_err());
        assert!(matches!(
            parse(r#"{"type":"admit_all"}"#),
            Ok(ClientMsg::AdmitAll)
        ));
        assert!(matches!(
            parse(r#"{"type":"lower_hand"}"#),
            Ok(ClientMsg::LowerHand { participant: None })
        ));
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
