//! The client's side of docs/protocol.md (version 1): the JSON messages on `GET /ws`.
//!
//! These are the bot's own types, not the server's: the bots test the document, so they are
//! written from it. Unknown fields are ignored and an unknown `type` parses as
//! [`ServerMsg::Unknown`], as the document asks of clients. Client messages cover what a bot
//! sends on its own and the participant's actions tests use (hands, chat); host actions are
//! sent as plain JSON (`BotHandle::send_json`).

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A class (one teacher leads) or a meeting (staff).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// The server's default.
    #[default]
    Class,
    /// Everyone may speak, show video and share the screen.
    Meeting,
}

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
    /// Its simulcast layers, smallest first; empty (and left out) without simulcast.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<PublishLayer>,
}

/// One simulcast layer of a published video track: its rid and the size it is encoded at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishLayer {
    /// The rid of its `a=rid` line.
    pub rid: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

/// One entry of `view.tiles`: a remote video the page shows, and how large.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewTile {
    /// The publishing participant's id.
    pub participant: String,
    /// `camera` or `screen`.
    pub source: Source,
    /// Device pixels.
    pub width: u32,
    /// Device pixels.
    pub height: u32,
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
        /// The `k=` value of the host or participant link.
        secret: &'a str,
        /// Display name, 1..=40 characters.
        name: &'a str,
        /// The session an earlier `joined` or `lobby` of this room gave, to skip the lobby.
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<&'a str>,
    },
    /// Instead of `join`, first on a new socket: take the place of this participant's earlier
    /// socket (its media connections go on).
    Resume {
        /// Always [`PROTOCOL_VERSION`].
        v: u32,
        /// Room id.
        room: &'a str,
        /// The `resume` of the latest `joined`.
        token: &'a str,
        /// True when the client has none of the earlier socket's media connections.
        fresh: bool,
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
    /// The client could not apply the latest `subscribe_offer`; the server offers a new
    /// subscribe connection (`reset`).
    SubscribeFailed {
        /// Why, for the server's log; at most 200 characters.
        reason: String,
    },
    /// Asks for an ICE restart of the subscribe connection (`pc` is always `subscribe`).
    IceRestart {
        /// The connection.
        pc: Pc,
    },
    /// A trickled ICE candidate of the client.
    Candidate {
        /// The connection it is for.
        pc: Pc,
        /// `candidate:…` attribute value; empty for end of candidates.
        candidate: String,
    },
    /// What the client wants on; the SFU forwards only what the server holds on.
    MediaState {
        /// Microphone on.
        audio: bool,
        /// Camera on.
        video: bool,
        /// Screen share on.
        screen: bool,
    },
    /// Join the end of the hand queue.
    RaiseHand,
    /// Lower the sender's hand, or (hosts) someone else's.
    LowerHand {
        /// Whose hand; `None` for the sender's own.
        #[serde(skip_serializing_if = "Option::is_none")]
        participant: Option<&'a str>,
    },
    /// The remote videos the page shows and their sizes; the others get no video.
    View {
        /// Every tile shown.
        tiles: &'a [ViewTile],
    },
    /// A chat message to everyone admitted.
    Chat {
        /// 1..=1000 characters.
        text: &'a str,
    },
    /// Keeps a socket that waits in the join queue heard (the server answers `pong`): one
    /// silent for 6 s loses its place.
    Ping,
    /// Leave the room; the server closes the socket.
    Leave {
        /// The page is unloading and may come back within the server's unload grace.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        may_return: bool,
    },
}

/// The host role, as `role` says it.
pub const HOST: &str = "host";
/// The participant role.
pub const PARTICIPANT: &str = "participant";

/// A participant as the server describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Participant {
    /// Unique within the room while it lives.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// [`HOST`] or [`PARTICIPANT`].
    #[serde(default)]
    pub role: String,
    /// Microphone on (as the server holds it: off means not forwarded).
    #[serde(default)]
    pub audio: bool,
    /// Camera on.
    #[serde(default)]
    pub video: bool,
    /// Screen share on.
    #[serde(default)]
    pub screen: bool,
    /// The hand's place key while raised (the queue is the raised hands sorted by it).
    #[serde(default)]
    pub hand: Option<u64>,
    /// How well its connections carry media: `good`, `poor` or `lost`; `None` from a server
    /// that does not rate them. Text, not an enum, so a rating added later parses too.
    #[serde(default)]
    pub quality: Option<String>,
    /// Its socket is gone and the server waits for it to resume.
    #[serde(default)]
    pub reconnecting: bool,
}

/// One entry of a host's waiting list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Waiting {
    /// The waiting participant's id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// The room as `joined` and `lobby` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RoomInfo {
    /// Room id.
    pub id: String,
    /// Title given at creation, if any.
    #[serde(default)]
    pub title: Option<String>,
    /// Class or meeting.
    #[serde(default)]
    pub kind: RoomKind,
}

/// The room's settings, changed only by hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Settings {
    /// New participants wait in the lobby.
    #[serde(default)]
    pub lobby: bool,
    /// Nobody new may join.
    #[serde(default)]
    pub locked: bool,
    /// Participants may chat.
    #[serde(default)]
    pub chat: bool,
    /// Participants may turn their microphone on.
    #[serde(default)]
    pub unmute: bool,
    /// Participants may turn their camera on.
    #[serde(default)]
    pub video: bool,
    /// Participants may share their screen.
    #[serde(default)]
    pub screen: bool,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChatMessage {
    /// Grows within the room.
    pub id: u64,
    /// The sender's participant id.
    pub from: String,
    /// The sender's name.
    #[serde(default)]
    pub name: String,
    /// The text.
    pub text: String,
    /// Server time, milliseconds since the Unix epoch.
    #[serde(default)]
    pub at: u64,
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

/// One remote stream: whose, and which source (`bandwidth.paused`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StreamRef {
    /// The publishing participant's id.
    pub participant: String,
    /// `camera` or `screen`.
    pub source: Source,
}

/// One entry of `encodings.encodings`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EncodingActive {
    /// The encoding's rid; empty for a track of one encoding.
    #[serde(default)]
    pub rid: String,
    /// Whether to send it.
    pub active: bool,
}

/// Messages the server sends.
#[allow(
    clippy::large_enum_variant,
    reason = "a message lives only from its parse to `signal::Incoming`, which boxes it"
)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The participant waits for a host to admit it.
    Lobby {
        /// The room.
        room: RoomInfo,
        /// To rejoin with.
        #[serde(default)]
        session: Option<String>,
    },
    /// Admitted: the answer to `join`, or the end of the lobby.
    Joined {
        /// Protocol version.
        v: u32,
        /// This participant, as the server holds it.
        you: Participant,
        /// The room.
        room: RoomInfo,
        /// To rejoin with.
        #[serde(default)]
        session: Option<String>,
        /// This participant's resume token (never logged).
        #[serde(default)]
        resume: Option<String>,
        /// How long the server keeps the seat for a resume, seconds.
        #[serde(default)]
        resume_grace_secs: Option<u64>,
        /// This `joined` answers a `resume`: same participant, same media connections.
        #[serde(default)]
        resumed: bool,
        /// The room's settings.
        #[serde(default)]
        settings: Settings,
        /// Everyone else admitted.
        #[serde(default)]
        participants: Vec<Participant>,
        /// The chat so far.
        #[serde(default)]
        chat: Vec<ChatMessage>,
        /// Hosts only: the participant link's secret.
        #[serde(default)]
        participant_secret: Option<String>,
        /// Hosts only: the lobby.
        #[serde(default)]
        waiting: Vec<Waiting>,
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
    /// The room's settings changed.
    SettingsUpdated {
        /// All of them, as they are now.
        settings: Settings,
    },
    /// A host (or a settings change) switched one of this participant's sources off.
    Moderated {
        /// `mute`, `stop_video` or `stop_screen`.
        action: String,
        /// The host's id; `None` for a settings change.
        #[serde(default)]
        by: Option<String>,
    },
    /// This participant was made host.
    HostInfo {
        /// The participant link's secret.
        participant_secret: String,
        /// The lobby.
        #[serde(default)]
        waiting: Vec<Waiting>,
    },
    /// To hosts: the lobby changed.
    LobbyUpdated {
        /// Who waits, by id, in order of arrival.
        #[serde(default)]
        waiting: Vec<String>,
        /// Who arrived since the previous update, with their names.
        #[serde(default)]
        arrived: Vec<Waiting>,
    },
    /// To hosts: the participant link was renewed.
    LinkRenewed {
        /// The new secret.
        participant_secret: String,
    },
    /// A chat message (the sender gets its own back).
    Chat {
        /// The message.
        message: ChatMessage,
    },
    /// Who is talking.
    Speakers {
        /// Talking now, loudest first.
        #[serde(default)]
        speaking: Vec<String>,
        /// The last one who spoke long enough; `None` before anyone spoke.
        #[serde(default)]
        dominant: Option<String>,
    },
    /// The room is over; the server closes the socket next.
    RoomEnded {
        /// `ended_by_host`.
        #[serde(default)]
        reason: String,
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
        /// The server started a new subscribe connection: answer on a new one.
        #[serde(default)]
        reset: bool,
    },
    /// What the server's bandwidth allocator holds back from this participant, when that
    /// changes: videos its page shows but gets none of, and whether its own link is the limit.
    Bandwidth {
        /// The paused videos.
        #[serde(default)]
        paused: Vec<StreamRef>,
        /// Its own link holds it back.
        #[serde(default)]
        limited: bool,
    },
    /// To a publisher: which encodings of `source` anybody takes; the page switches the others
    /// off.
    Encodings {
        /// The track.
        source: Source,
        /// Each encoding by rid (empty for a track of one encoding), and whether it is wanted.
        #[serde(default)]
        encodings: Vec<EncodingActive>,
    },
    /// To a publisher: send the camera's lowest encoding at no more than this many bit/s
    /// (`None`: at its own rate again); a subscriber cannot take it whole.
    CameraBitrate {
        #[serde(default)]
        max_bitrate: Option<u64>,
    },
    /// The join waits in the server's queue (sent at once, then at least every 2 s).
    Queued {
        /// 1 is the next to be let in.
        position: usize,
        /// Everyone in the queue.
        waiting: usize,
        /// The server's estimate of the wait, seconds; absent when the queue has not moved.
        #[serde(default)]
        wait_secs: Option<u64>,
    },
    /// Something went wrong.
    Error {
        /// Machine-readable code.
        code: String,
        /// For people.
        #[serde(default)]
        message: String,
        /// With `server_busy` for a full queue: ask again after about this long, seconds.
        #[serde(default)]
        retry_after_secs: Option<u64>,
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
            session: None,
        };
        let value = serde_json::to_value(&msg).expect("serializes");
        let want =
            json!({"type": "join", "v": 1, "room": "r8f3k2c9q4", "secret": "5c0b", "name": "Anna"});
        assert_eq!(value, want);
        let msg = ClientMsg::Join {
            v: PROTOCOL_VERSION,
            room: "r1",
            secret: "5c0b",
            name: "Anna",
            session: Some("77ab"),
        };
        let value = serde_json::to_value(&msg).expect("serializes");
        assert_eq!(value["session"], "77ab");
    }

    #[test]
    fn participant_actions_serialize_as_documented() {
        let cases = [
            (
                ClientMsg::MediaState {
                    audio: true,
                    video: false,
                    screen: false,
                },
                json!({"type": "media_state", "audio": true, "video": false, "screen": false}),
            ),
            (ClientMsg::RaiseHand, json!({"type": "raise_hand"})),
            (
                ClientMsg::LowerHand { participant: None },
                json!({"type": "lower_hand"}),
            ),
            (
                ClientMsg::LowerHand {
                    participant: Some("p4"),
                },
                json!({"type": "lower_hand", "participant": "p4"}),
            ),
            (
                ClientMsg::Chat { text: "Hallo" },
                json!({"type": "chat", "text": "Hallo"}),
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);
        }
    }

    #[test]
    fn publish_and_candidate_serialize_as_documented() {
        let msg = ClientMsg::Publish {
            sdp: "v=0".into(),
            tracks: vec![PublishTrack {
                mid: "1".into(),
                source: Source::Camera,
                layers: Vec::new(),
            }],
        };
        let want =
            json!({"type": "publish", "sdp": "v=0", "tracks": [{"mid": "1", "source": "camera"}]});
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);
        let layer = |rid: &str, width, height| PublishLayer {
            rid: rid.into(),
            width,
            height,
        };
        let msg = ClientMsg::Publish {
            sdp: "v=0".into(),
            tracks: vec![PublishTrack {
                mid: "1".into(),
                source: Source::Camera,
                layers: vec![layer("q", 320, 180), layer("f", 1280, 720)],
            }],
        };
        let want = json!({"type": "publish", "sdp": "v=0", "tracks": [{"mid": "1", "source": "camera",
            "layers": [{"rid": "q", "width": 320, "height": 180}, {"rid": "f", "width": 1280, "height": 720}]}]});
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);
        let tiles = [ViewTile {
            participant: "p0".into(),
            source: Source::Camera,
            width: 1280,
            height: 720,
        }];
        let want = json!({"type": "view", "tiles": [{"participant": "p0", "source": "camera",
            "width": 1280, "height": 720}]});
        let msg = ClientMsg::View { tiles: &tiles };
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);

        let msg = ClientMsg::Candidate {
            pc: Pc::Subscribe,
            candidate: String::new(),
        };
        let want = json!({"type": "candidate", "pc": "subscribe", "candidate": ""});
        assert_eq!(serde_json::to_value(&msg).expect("serializes"), want);
        let leave = |may_return| ClientMsg::Leave { may_return };
        let value = |msg| serde_json::to_value(msg).expect("serializes");
        assert_eq!(value(leave(false)), json!({"type": "leave"}));
        assert_eq!(
            value(leave(true)),
            json!({"type": "leave", "may_return": true})
        );
    }

    #[test]
    fn joined_parses_as_documented_with_extra_fields() {
        let text = r#"{"type": "joined", "v": 1, "extra": 3,
            "you": {"id": "p1", "name": "Anna", "role": "participant", "audio": false, "video": true, "screen": false, "hand": null},
            "room": {"id": "r8f3k2c9q4", "title": "7b Mathe", "kind": "class"},
            "session": "77ab",
            "settings": {"lobby": true, "locked": false, "chat": true, "unmute": true, "video": true, "screen": false},
            "participants": [{"id": "p0", "name": "Frau Weber", "role": "host", "audio": true, "video": false, "screen": false, "hand": 17}],
            "chat": [{"id": 1, "from": "p0", "name": "Frau Weber", "text": "Guten Morgen!", "at": 1795846862000}]}"#;
        let ServerMsg::Joined {
            you,
            room,
            session,
            settings,
            participants,
            chat,
            participant_secret,
            ..
        } = serde_json::from_str(text).expect("parses")
        else {
            panic!("not joined");
        };
        assert_eq!((you.id.as_str(), you.role.as_str()), ("p1", PARTICIPANT));
        assert!(!you.audio && you.video && you.hand.is_none());
        assert_eq!(room.kind, RoomKind::Class);
        assert_eq!(session.as_deref(), Some("77ab"));
        assert!(settings.lobby && settings.unmute && !settings.screen);
        assert_eq!(participants[0].role, HOST);
        assert_eq!(participants[0].hand, Some(17));
        assert_eq!(chat[0].text, "Guten Morgen!");
        assert_eq!(participant_secret, None);
    }

    #[test]
    fn issue_4_server_messages_parse_as_documented() {
        let parse = |text: &str| serde_json::from_str::<ServerMsg>(text).expect(text);
        let lobby = parse(
            r#"{"type": "lobby", "room": {"id": "r8", "title": "7b", "kind": "class"}, "session": "77ab"}"#,
        );
        assert!(matches!(lobby, ServerMsg::Lobby { session: Some(s), .. } if s == "77ab"));
        let speakers = parse(r#"{"type": "speakers", "speaking": ["p3"], "dominant": "p3"}"#);
        let want = ServerMsg::Speakers {
            speaking: vec!["p3".into()],
            dominant: Some("p3".into()),
        };
        assert_eq!(speakers, want);
        let silent = parse(r#"{"type": "speakers", "speaking": [], "dominant": null}"#);
        assert!(matches!(silent, ServerMsg::Speakers { dominant: None, .. }));
        let moderated = parse(r#"{"type": "moderated", "action": "mute", "by": null}"#);
        assert!(matches!(moderated, ServerMsg::Moderated { by: None, .. }));
        let chat = parse(
            r#"{"type": "chat", "message": {"id": 2, "from": "p1", "name": "Anna", "text": "Hallo", "at": 1}}"#,
        );
        assert!(matches!(chat, ServerMsg::Chat { message } if message.id == 2));
        let waiting = parse(
            r#"{"type": "lobby_updated", "waiting": ["p7"], "arrived": [{"id": "p7", "name": "Ben"}]}"#,
        );
        assert!(matches!(
            waiting,
            ServerMsg::LobbyUpdated { waiting, arrived } if waiting[0] == "p7" && arrived[0].name == "Ben"
        ));
        for text in [
            r#"{"type": "settings_updated", "settings": {"lobby": true, "locked": true, "chat": false, "unmute": true, "video": true, "screen": false}}"#,
            r#"{"type": "host_info", "participant_secret": "9e1d", "waiting": []}"#,
            r#"{"type": "link_renewed", "participant_secret": "0f4a"}"#,
            r#"{"type": "room_ended", "reason": "ended_by_host"}"#,
            r#"{"type": "camera_bitrate", "max_bitrate": 91304}"#,
        ] {
            assert_ne!(parse(text), ServerMsg::Unknown, "{text}");
        }
    }

    #[test]
    fn queued_and_a_busy_server_parse() {
        let parse = |text: &str| serde_json::from_str::<ServerMsg>(text).expect(text);
        let queued =
            parse(r#"{"type": "queued", "position": 12, "waiting": 140, "wait_secs": 25}"#);
        let want = ServerMsg::Queued {
            position: 12,
            waiting: 140,
            wait_secs: Some(25),
        };
        assert_eq!(queued, want);
        let unknown_wait = parse(r#"{"type": "queued", "position": 1, "waiting": 1}"#);
        assert!(matches!(
            unknown_wait,
            ServerMsg::Queued {
                wait_secs: None,
                ..
            }
        ));
        let busy = parse(
            r#"{"type": "error", "code": "server_busy", "message": "m", "re": "join", "retry_after_secs": 10}"#,
        );
        assert!(matches!(
            busy,
            ServerMsg::Error {
                retry_after_secs: Some(10),
                ..
            }
        ));
        let ping = serde_json::to_value(ClientMsg::Ping).expect("serializes");
        assert_eq!(ping, serde_json::json!({"type": "ping"}));
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

    #[test]
    fn issue_8_client_messages_serialize_as_documented() {
        let resume = ClientMsg::Resume {
            v: PROTOCOL_VERSION,
            room: "r8f3k2c9q4",
            token: "4f0e",
            fresh: false,
        };
        let want = json!({"type": "resume", "v": 1, "room": "r8f3k2c9q4", "token": "4f0e", "fresh": false});
        assert_eq!(serde_json::to_value(&resume).expect("serializes"), want);
        let failed = ClientMsg::SubscribeFailed {
            reason: "m-lines".into(),
        };
        let want = json!({"type": "subscribe_failed", "reason": "m-lines"});
        assert_eq!(serde_json::to_value(&failed).expect("serializes"), want);
        let restart = ClientMsg::IceRestart { pc: Pc::Subscribe };
        let want = json!({"type": "ice_restart", "pc": "subscribe"});
        assert_eq!(serde_json::to_value(&restart).expect("serializes"), want);
    }

    #[test]
    fn issue_8_server_messages_parse_as_documented() {
        let text = r#"{"type": "joined", "v": 1,
            "you": {"id": "p1", "name": "Anna", "role": "participant", "audio": false, "video": true, "screen": false, "hand": null,
                    "quality": "good", "reconnecting": false},
            "room": {"id": "r8f3k2c9q4", "title": "7b Mathe", "kind": "class"},
            "session": "77ab", "resume": "4f0e", "resume_grace_secs": 30, "resumed": true,
            "participants": [{"id": "p0", "name": "Frau Weber", "role": "host", "audio": true, "video": true, "screen": false,
                              "hand": null, "quality": "poor", "reconnecting": true}]}"#;
        let ServerMsg::Joined {
            you,
            resume,
            resume_grace_secs,
            resumed,
            participants,
            ..
        } = serde_json::from_str(text).expect("parses")
        else {
            panic!("not joined");
        };
        assert_eq!(you.quality.as_deref(), Some("good"));
        assert_eq!(
            (resume.as_deref(), resume_grace_secs, resumed),
            (Some("4f0e"), Some(30), true)
        );
        assert!(participants[0].reconnecting);
        assert_eq!(participants[0].quality.as_deref(), Some("poor"));

        let text = r#"{"type": "subscribe_offer", "sdp": "v=0", "reset": true, "tracks": []}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        assert!(matches!(msg, ServerMsg::SubscribeOffer { reset: true, .. }));
        let text = r#"{"type": "error", "code": "resume_failed", "message": "too late"}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        assert!(matches!(msg, ServerMsg::Error { code, .. } if code == "resume_failed"));
        // A later quality rating is text like the others.
        let text =
            r#"{"type": "participant_updated", "participant": {"id": "p2", "quality": "superb"}}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        assert!(matches!(msg, ServerMsg::ParticipantUpdated { .. }));
        let text = r#"{"type": "admit_failed", "reason": "room_full"}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        assert_eq!(msg, ServerMsg::Unknown);
    }

    #[test]
    fn issue_11_server_messages_parse_as_documented() {
        let text = r#"{"type": "bandwidth", "paused": [{"participant": "p5", "source": "camera"}], "limited": true}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        let paused = vec![StreamRef {
            participant: "p5".into(),
            source: Source::Camera,
        }];
        assert_eq!(
            msg,
            ServerMsg::Bandwidth {
                paused,
                limited: true
            }
        );
        let text = r#"{"type": "encodings", "source": "camera",
            "encodings": [{"rid": "q", "active": true}, {"rid": "h", "active": true}, {"rid": "f", "active": false}]}"#;
        let ServerMsg::Encodings { source, encodings } =
            serde_json::from_str(text).expect("parses")
        else {
            panic!("not encodings");
        };
        assert_eq!(source, Source::Camera);
        let active: Vec<(&str, bool)> = encodings
            .iter()
            .map(|e| (e.rid.as_str(), e.active))
            .collect();
        assert_eq!(active, [("q", true), ("h", true), ("f", false)]);
        let text = r#"{"type": "encodings", "source": "camera", "encodings": [{"rid": "", "active": false}]}"#;
        let msg: ServerMsg = serde_json::from_str(text).expect("parses");
        assert!(
            matches!(msg, ServerMsg::Encodings { encodings, .. } if encodings[0].rid.is_empty())
        );
    }
}
