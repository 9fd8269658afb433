//! The client's side of docs/protocol.md (version 1): the JSON messages on `GET /ws`.
//!
//! These are the bot's own types, not the server's: the bots test the document, so they are
//! written from it. Unknown fields are ignored and an unknown `type` parses as
//! [`ServerMsg::Unknown`], as the document asks of clients.

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Which of a participant's two peer connections a `candidate` belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pc {
    /// Client to server.
    Publish,
    /// Server to client.
    Subscribe,
}

/// What a published m-line carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Audio from a microphone.
    Microphone,
    /// Video from a camera.
    Camera,
    /// Video of a shared screen.
    Screen,
}

/// One entry of `publish.tracks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishTrack {
    /// The m-line's mid in the offer.
    pub mid: String,
    /// What it carries.
    pub source: Source,
}

/// Messages the client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg<'a> {
    /// First message on a socket.
    Join {
        /// Always [`PROTOCOL_VERSION`].
        v: u32,
        /// Room id.
        room: &'a str,
        /// The `k=` value of the teacher or student link.
        secret: &'a str,
        /// Display name, 1..=40 characters.
        name: &'a str,
    },
    /// An offer for the publish connection.
    Publish {
        /// SDP offer.
        sdp: String,
        /// Source of each m-line.
        tracks: Vec<PublishTrack>,
    },
    /// The answer to the latest `subscribe_offer`.
    SubscribeAnswer {
        /// SDP answer.
        sdp: String,
    },
    /// A trickled ICE candidate of the client.
    Candidate {
        /// The connection it is for.
        pc: Pc,
        /// `candidate:…` attribute value; empty for end of candidates.
        candidate: String,
    },
    /// Whether microphone and camera are on.
    MediaState {
        /// Microphone on.
        audio: bool,
        /// Camera on.
        video: bool,
    },
    /// Leave the room; the server closes the socket.
    Leave,
}

/// A participant as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Participant {
    /// Unique within the room while it lives.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `teacher` or `student`.
    #[serde(default)]
    pub role: String,
    /// Microphone on.
    #[serde(default)]
    pub audio: bool,
    /// Camera on.
    #[serde(default)]
    pub video: bool,
}

/// The room as `joined` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomInfo {
    /// Room id.
    pub id: String,
    /// Title given at creation, if any.
    #[serde(default)]
    pub title: Option<String>,
}

/// One entry of `subscribe_offer.tracks`: whose media an m-line carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscribeTrack {
    /// The m-line's mid in the offer.
    pub mid: String,
    /// The publishing participant's id.
    pub participant: String,
    /// `audio` or `video`.
    pub kind: String,
    /// `microphone`, `camera` or `screen`.
    #[serde(default)]
    pub source: Option<String>,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The answer to a successful `join`.
    Joined {
        /// Protocol version.
        v: u32,
        /// This participant.
        you: Participant,
        /// The room.
        room: RoomInfo,
        /// Everyone else already in the room.
        #[serde(default)]
        participants: Vec<Participant>,
    },
    /// Someone joined.
    ParticipantJoined {
        /// Who.
        participant: Participant,
    },
    /// Someone's media state changed.
    ParticipantUpdated {
        /// Who, as they are now.
        participant: Participant,
    },
    /// Someone left.
    ParticipantLeft {
        /// Their id.
        id: String,
    },
    /// The answer to `publish`.
    PublishAnswer {
        /// SDP answer.
        sdp: String,
    },
    /// A (re)offer of the subscribe connection.
    SubscribeOffer {
        /// SDP offer.
        sdp: String,
        /// The active m-lines and whose media each carries.
        #[serde(default)]
        tracks: Vec<SubscribeTrack>,
    },
    /// Something went wrong.
    Error {
        /// Machine-readable code.
        code: String,
        /// For people.
        #[serde(default)]
        message: String,
    },
    /// A `type` this crate does not know; ignored.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_serializes_as_documented() {
        let msg = ClientMsg::Join {
            v: PROTOCOL_VERSION,
            room: "r8f3k2c9q4",
            secret: "5c0b",
            name: "Anna",
        };
        let value = serde_json::to_value(&msg).expect("serializes");
        let want =
            json!({"type": "join", "v": 1, "room": "r8f3k2c9q4", "secret": "5c0b", "name": "Anna"});
        assert_eq!(value, want);
    }

    #[test]
    fn publish_and_candidate_serialize_as_documented() {
        let msg = ClientMsg::Publish {
            sdp: "v=0".into(),
            tracks: vec![PublishTrack {
                mid: "1".into(),
                source: Source::Camera,
            }],
        };
        let want =
            json!({"type": "publish", "sdp": "v=0", "tracks": [{"mid": "1", "source": "camera"}]});
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);

        let msg = ClientMsg::Candidate {
            pc: Pc::Subscribe,
            candidate: String::new(),
        };
        let want = json!({"type": "candidate", "pc": "subscribe", "candidate": ""});
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);
        let want = json!({"type": "leave"});
        assert_eq!(
            serde_json::to_value(ClientMsg::Leave).expect("serializes"),
            want
        );
    }

    #[test]
    fn joined_parses_with_extra_fields() {
        let text = r#"{"type": "joined", "v": 1, "extra": 3,
            "you": {"id": "p1", "name": "Anna", "role": "student", "audio": true, "video": true},
            "room": {"id": "r8f3k2c9q4", "title": "7b Mathe"},
            "participants": [{"id": "p0", "name": "Frau Weber", "role": "teacher", "audio": true, "video": false}]}"#;
        let ServerMsg::Joined {
            you, participants, ..
        } = serde_json::from_str(text).expect("parses")
        else {
            panic!("not joined");
        };
        assert_eq!(you.id, "p1");
        assert_eq!(participants.len(), 1);
        assert!(!participants[0].video);
    }

    #[test]
    fn subscribe_offer_and_unknown_types_parse() {
        let text = r#"{"type": "subscribe_offer", "sdp": "v=0",
            "tracks": [{"mid": "0", "participant": "p0", "kind": "audio", "source": "microphone"}]}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        let ServerMsg::SubscribeOffer { tracks, .. } = msg else {
            panic!("not an offer");
        };
        assert_eq!(tracks[0].participant, "p0");

        let msg: ServerMsg =
            serde_json::from_str(r#"{"type": "whatever", "x": 1}"#).expect("parses");
        assert_eq!(msg, ServerMsg::Unknown);
        let msg: ServerMsg =
            serde_json::from_str(r#"{"type": "participant_left", "id": "p2"}"#).expect("parses");
        assert_eq!(msg, ServerMsg::ParticipantLeft { id: "p2".into() });
    }
}
