//! The Janus messages a bot sends and receives, built and parsed without I/O.
//!
//! Written from the Janus 1.1.2 documentation of the core API ("janus" requests: `create`,
//! `attach`, `message`, `trickle`, `keepalive`, `destroy`) and of the VideoRoom plugin (the
//! `body` of a `message`, and the `plugindata.data` of its answers). Unknown fields are ignored.

use serde::Deserialize;
use serde_json::{Value, json};

/// The plugin every bot attaches to.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";

/// Builds the JSON text of each request. Transactions are the caller's.
pub mod build {
    use super::*;

    /// `create`: a new session.
    pub fn create_session(tx: &str) -> String {
        json!({"janus": "create", "transaction": tx}).to_string()
    }

    /// `attach`: a VideoRoom handle on `session`.
    pub fn attach(tx: &str, session: u64) -> String {
        json!({"janus": "attach", "session_id": session, "plugin": VIDEOROOM, "transaction": tx})
            .to_string()
    }

    /// `message`: a plugin request `body`, with an SDP if given (`jsep`: type and sdp).
    pub fn message(
        tx: &str,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<(&str, &str)>,
    ) -> String {
        message_value(tx, session, handle, body, jsep).to_string()
    }

    fn message_value(
        tx: &str,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<(&str, &str)>,
    ) -> Value {
        let mut msg = json!({
            "janus": "message", "session_id": session, "handle_id": handle,
            "transaction": tx, "body": body,
        });
        if let Some((kind, sdp)) = jsep {
            msg["jsep"] = json!({"type": kind, "sdp": sdp});
        }
        msg
    }

    /// VideoRoom `publish` with the offer. A simulcast offer lists its rids smallest first
    /// (`q;h;f`, as the web client's), and Janus assumes largest first unless the jsep says
    /// `rid_order: "lmh"` (janus.c, 1.1.2); then substream 0 is the smallest layer.
    pub fn publish(tx: &str, session: u64, handle: u64, offer: &str, simulcast: bool) -> String {
        let mut msg = message_value(tx, session, handle, publish_body(), Some(("offer", offer)));
        if simulcast {
            msg["jsep"]["rid_order"] = json!("lmh");
        }
        msg.to_string()
    }

    /// `trickle`: one local candidate (`candidate:…`), or end of candidates when `None`.
    pub fn trickle(tx: &str, session: u64, handle: u64, candidate: Option<&str>) -> String {
        let candidate = match candidate {
            // Every m-line of a bundled connection shares the transport; the first one is enough.
            Some(c) => json!({"candidate": c, "sdpMid": "0", "sdpMLineIndex": 0}),
            None => json!({"completed": true}),
        };
        json!({
            "janus": "trickle", "session_id": session, "handle_id": handle,
            "transaction": tx, "candidate": candidate,
        })
        .to_string()
    }

    /// `keepalive`: keeps `session` from timing out.
    pub fn keepalive(tx: &str, session: u64) -> String {
        json!({"janus": "keepalive", "session_id": session, "transaction": tx}).to_string()
    }

    /// `destroy`: ends `session` and detaches its handles.
    pub fn destroy(tx: &str, session: u64) -> String {
        json!({"janus": "destroy", "session_id": session, "transaction": tx}).to_string()
    }

    /// VideoRoom `create`: a room for a class. `publishers` is the room's cap on publishers.
    pub fn create_room_body(title: Option<&str>, publishers: u32) -> Value {
        let mut body = json!({
            "request": "create", "publishers": publishers,
            "videocodec": "vp8", "audiocodec": "opus",
            // Students who only watch join as publishers that never publish; without this the
            // others would never hear of them.
            "notify_joining": true,
            "record": false, "permanent": false,
        });
        if let Some(title) = title {
            body["description"] = json!(title);
        }
        body
    }

    /// VideoRoom `join` as a publisher.
    pub fn join_publisher_body(room: u64, display: &str) -> Value {
        json!({"request": "join", "ptype": "publisher", "room": room, "display": display})
    }

    /// VideoRoom `publish`, sent with the offer.
    pub fn publish_body() -> Value {
        json!({"request": "publish"})
    }

    /// VideoRoom `join` as a (multistream) subscriber of all streams of `feeds`.
    pub fn join_subscriber_body(room: u64, feeds: &[u64], private_id: Option<u64>) -> Value {
        let mut body = json!({
            "request": "join", "ptype": "subscriber", "room": room, "streams": streams(feeds),
        });
        if let Some(id) = private_id {
            body["private_id"] = json!(id);
        }
        body
    }

    /// VideoRoom `update` of a subscriber: add `subscribe`, drop `unsubscribe`.
    pub fn update_body(subscribe: &[u64], unsubscribe: &[u64]) -> Value {
        let mut body = json!({"request": "update"});
        if !subscribe.is_empty() {
            body["subscribe"] = streams(subscribe);
        }
        if !unsubscribe.is_empty() {
            body["unsubscribe"] = streams(unsubscribe);
        }
        body
    }

    /// VideoRoom `configure` of a subscriber: per m-line (`mid`, the subscription's), relay
    /// it or not (`send`) and, for a simulcast camera, which `substream` (0 the smallest).
    pub fn configure_streams_body(streams: &[(String, Option<u8>)]) -> Value {
        let streams: Vec<Value> = streams
            .iter()
            .map(|(mid, substream)| match substream {
                Some(s) => json!({"mid": mid, "send": true, "substream": s}),
                None => json!({"mid": mid, "send": false}),
            })
            .collect();
        json!({"request": "configure", "streams": streams})
    }

    /// VideoRoom `start`, sent with a subscriber's answer.
    pub fn start_body() -> Value {
        json!({"request": "start"})
    }

    /// VideoRoom `leave`.
    pub fn leave_body() -> Value {
        json!({"request": "leave"})
    }

    fn streams(feeds: &[u64]) -> Value {
        feeds.iter().map(|f| json!({"feed": f})).collect()
    }
}

/// Any message from Janus: the envelope of the core API, with the plugin's data inside.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JanusMsg {
    /// `success`, `error`, `ack`, `event`, `webrtcup`, `hangup`, `timeout`, …
    pub janus: String,
    #[serde(default)]
    pub transaction: Option<String>,
    /// The handle an event comes from.
    #[serde(default)]
    pub sender: Option<u64>,
    /// The new session's or handle's id, in a `success` to `create` or `attach`.
    #[serde(default)]
    pub data: Option<IdData>,
    /// Core API errors.
    #[serde(default)]
    pub error: Option<CoreError>,
    #[serde(default)]
    pub plugindata: Option<PluginData>,
    #[serde(default)]
    pub jsep: Option<Jsep>,
    /// Why, in a `hangup`.
    #[serde(default)]
    pub reason: Option<String>,
}

impl JanusMsg {
    /// Parses one text frame.
    pub fn parse(text: &str) -> Result<JanusMsg, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The VideoRoom data, if this message carries any.
    pub fn room_data(&self) -> Option<&RoomData> {
        self.plugindata.as_ref().map(|p| &p.data)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdData {
    pub id: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CoreError {
    pub code: i64,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PluginData {
    pub data: RoomData,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jsep {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// `plugindata.data` of the VideoRoom: one struct for all its answers and events, since they
/// differ only in which fields are there.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoomData {
    /// `created`, `joined`, `event`, `attached`, `updated`, `talking`, `destroyed`, …
    #[serde(default)]
    pub videoroom: String,
    #[serde(default)]
    pub room: Option<u64>,
    /// Our publisher id, in `joined`.
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub private_id: Option<u64>,
    /// Publishers that are publishing (in `joined`, and in an `event` when new ones start).
    #[serde(default)]
    pub publishers: Vec<Peer>,
    /// Those in the room who do not publish (in `joined`, with `notify_joining`).
    #[serde(default)]
    pub attendees: Vec<Peer>,
    /// Someone joined (with `notify_joining`).
    #[serde(default)]
    pub joining: Option<Peer>,
    /// A feed stopped publishing: its id, or `"ok"` for our own.
    #[serde(default)]
    pub unpublished: Option<Value>,
    /// A participant left: its id, or `"ok"` for ourselves.
    #[serde(default)]
    pub leaving: Option<Value>,
    /// A subscriber's streams (in `attached` and `updated`).
    #[serde(default)]
    pub streams: Vec<SubStream>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
}

impl RoomData {
    /// The id in `unpublished` or `leaving`, unless it is `"ok"` (about ourselves).
    pub fn feed_id(value: &Option<Value>) -> Option<u64> {
        value.as_ref().and_then(Value::as_u64)
    }
}

/// A participant as the VideoRoom lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Peer {
    pub id: u64,
    #[serde(default)]
    pub display: Option<String>,
}

/// One m-line of a subscriber's offer, and whose stream it carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubStream {
    pub mid: String,
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The publisher; absent on a freed m-line.
    #[serde(default)]
    pub feed_id: Option<u64>,
    /// False on an m-line whose feed went away.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        serde_json::from_str(text).expect("valid json")
    }

    #[test]
    fn core_requests_are_as_documented() {
        assert_eq!(
            value(&build::create_session("1")),
            json!({"janus": "create", "transaction": "1"})
        );
        assert_eq!(
            value(&build::attach("2", 7)),
            json!({"janus": "attach", "session_id": 7, "plugin": VIDEOROOM, "transaction": "2"})
        );
        assert_eq!(
            value(&build::keepalive("3", 7)),
            json!({"janus": "keepalive", "session_id": 7, "transaction": "3"})
        );
        let trickle = value(&build::trickle(
            "4",
            7,
            9,
            Some("candidate:1 1 udp 1 1.2.3.4 5 typ host"),
        ));
        assert_eq!(trickle["handle_id"], 9);
        assert_eq!(trickle["candidate"]["sdpMLineIndex"], 0);
        let done = value(&build::trickle("5", 7, 9, None));
        assert_eq!(done["candidate"], json!({"completed": true}));
    }

    #[test]
    fn messages_carry_body_and_jsep() {
        let text = build::message("6", 7, 9, build::publish_body(), Some(("offer", "v=0")));
        let msg = value(&text);
        assert_eq!(msg["janus"], "message");
        assert_eq!(msg["body"], json!({"request": "publish"}));
        assert_eq!(msg["jsep"], json!({"type": "offer", "sdp": "v=0"}));
        let plain = value(&build::message("7", 7, 9, build::leave_body(), None));
        assert!(plain.get("jsep").is_none());
        let simulcast = value(&build::publish("8", 7, 9, "v=0", true));
        assert_eq!(simulcast["body"], json!({"request": "publish"}));
        assert_eq!(
            simulcast["jsep"],
            json!({"type": "offer", "sdp": "v=0", "rid_order": "lmh"})
        );
        let single = value(&build::publish("9", 7, 9, "v=0", false));
        assert_eq!(single["jsep"], json!({"type": "offer", "sdp": "v=0"}));
    }

    #[test]
    fn videoroom_bodies() {
        let create = build::create_room_body(Some("7b"), 100);
        assert_eq!(create["publishers"], 100);
        assert_eq!(create["videocodec"], "vp8");
        assert_eq!(create["description"], "7b");
        assert!(
            build::create_room_body(None, 1)
                .get("description")
                .is_none()
        );
        let join = build::join_subscriber_body(5, &[1, 2], Some(3));
        assert_eq!(join["streams"], json!([{"feed": 1}, {"feed": 2}]));
        assert_eq!(join["private_id"], 3);
        let update = build::update_body(&[4], &[]);
        assert_eq!(
            update,
            json!({"request": "update", "subscribe": [{"feed": 4}]})
        );
        let update = build::update_body(&[], &[2]);
        assert_eq!(update["unsubscribe"], json!([{"feed": 2}]));
        let configure = build::configure_streams_body(&[("1".into(), Some(0)), ("3".into(), None)]);
        assert_eq!(
            configure,
            json!({"request": "configure", "streams": [
                {"mid": "1", "send": true, "substream": 0}, {"mid": "3", "send": false}]})
        );
    }

    #[test]
    fn parses_joined() {
        let text = r#"{"janus": "event", "session_id": 1, "transaction": "3", "sender": 9,
            "plugindata": {"plugin": "janus.plugin.videoroom", "data": {
                "videoroom": "joined", "room": 5, "description": "x", "id": 11, "private_id": 12,
                "publishers": [{"id": 10, "display": "teacher", "streams": [
                    {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus"}]}],
                "attendees": [{"id": 13, "display": "s"}]}}}"#;
        let msg = JanusMsg::parse(text).expect("parses");
        assert_eq!(msg.sender, Some(9));
        let data = msg.room_data().expect("plugin data");
        assert_eq!((data.videoroom.as_str(), data.id), ("joined", Some(11)));
        assert_eq!(data.publishers[0].display.as_deref(), Some("teacher"));
        assert_eq!(data.attendees[0].id, 13);
    }

    #[test]
    fn parses_success_error_and_leaving() {
        let msg =
            JanusMsg::parse(r#"{"janus": "success", "transaction": "1", "data": {"id": 42}}"#)
                .expect("parses");
        assert_eq!(msg.data.map(|d| d.id), Some(42));
        let msg = JanusMsg::parse(
            r#"{"janus": "error", "transaction": "2", "error": {"code": 458, "reason": "No such session"}}"#,
        )
        .expect("parses");
        assert_eq!(msg.error.map(|e| e.code), Some(458));
        let text = r#"{"janus": "event", "sender": 9, "plugindata": {"plugin": "p",
            "data": {"videoroom": "event", "room": 5, "leaving": 10}}}"#;
        let msg = JanusMsg::parse(text).expect("parses");
        let data = msg.room_data().expect("data");
        assert_eq!(RoomData::feed_id(&data.leaving), Some(10));
        let ok = Some(json!("ok"));
        assert_eq!(RoomData::feed_id(&ok), None);
    }

    #[test]
    fn parses_an_attached_offer() {
        let text = r#"{"janus": "event", "sender": 8, "transaction": "t",
            "plugindata": {"plugin": "janus.plugin.videoroom", "data": {
                "videoroom": "attached", "room": 5, "streams": [
                    {"type": "audio", "active": true, "mindex": 0, "mid": "0", "feed_id": 10, "feed_mid": "0"},
                    {"type": "video", "active": false, "mindex": 1, "mid": "1"}]}},
            "jsep": {"type": "offer", "sdp": "v=0"}}"#;
        let msg = JanusMsg::parse(text).expect("parses");
        assert_eq!(msg.jsep.as_ref().map(|j| j.kind.as_str()), Some("offer"));
        let streams = &msg.room_data().expect("data").streams;
        assert_eq!(streams[0].feed_id, Some(10));
        assert!(!streams[1].active);
        assert!(JanusMsg::parse("not json").is_err());
    }
}
