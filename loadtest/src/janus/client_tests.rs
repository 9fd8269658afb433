//! The Janus client state machine driven by hand-written Janus frames: no socket, no Janus.

use serde_json::{Value, json};

use super::*;

fn value(text: &str) -> Value {
    serde_json::from_str(text).expect("client frames are json")
}

/// All frames the client wants to send, as JSON.
fn sent(c: &mut Client) -> Vec<Value> {
    std::iter::from_fn(|| c.poll_transmit())
        .map(|t| value(&t))
        .collect()
}

fn events(c: &mut Client) -> Vec<SignalEvent> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn tx(frame: &Value) -> String {
    frame["transaction"]
        .as_str()
        .expect("has a transaction")
        .to_owned()
}

fn event(tx: Option<&str>, sender: u64, data: Value, jsep: Option<Value>) -> String {
    let mut msg = json!({"janus": "event", "session_id": 1, "sender": sender,
        "plugindata": {"plugin": "janus.plugin.videoroom", "data": data}});
    if let Some(tx) = tx {
        msg["transaction"] = json!(tx);
    }
    if let Some(jsep) = jsep {
        msg["jsep"] = jsep;
    }
    msg.to_string()
}

const SESSION: u64 = 1;
const PUB: u64 = 2;
const SUB: u64 = 3;

/// A client that has created its session, attached, and sent `join`; returns the join frame.
fn attached(room: u64) -> (Client, Value) {
    let mut c = Client::new(room, "Anna", false);
    let create = sent(&mut c);
    assert_eq!(create[0]["janus"], "create");
    let ok = json!({"janus": "success", "transaction": tx(&create[0]), "data": {"id": SESSION}});
    c.handle_text(&ok.to_string());
    let attach = sent(&mut c);
    assert_eq!(attach[0]["janus"], "attach");
    assert_eq!(attach[0]["session_id"], SESSION);
    let ok = json!({"janus": "success", "transaction": tx(&attach[0]), "data": {"id": PUB}});
    c.handle_text(&ok.to_string());
    let join = sent(&mut c).remove(0);
    assert_eq!(join["body"]["ptype"], "publisher");
    assert_eq!(join["body"]["room"], room);
    assert_eq!(join["body"]["display"], "Anna");
    (c, join)
}

/// Joined a room where feed 10 publishes and 13 only watches; the subscriber is attaching.
fn joined() -> Client {
    let (mut c, join) = attached(5);
    let ack = json!({"janus": "ack", "session_id": SESSION, "transaction": tx(&join)});
    c.handle_text(&ack.to_string());
    let data = json!({"videoroom": "joined", "room": 5, "id": 11, "private_id": 99,
        "publishers": [{"id": 10, "display": "teacher"}], "attendees": [{"id": 13, "display": "s"}]});
    c.handle_text(&event(Some(&tx(&join)), PUB, data, None));
    let named = |id: &str, name: &str| Participant {
        id: id.into(),
        name: name.into(),
        ..Participant::default()
    };
    let want = SignalEvent::Joined {
        you: named("11", "Anna"),
        participants: vec![named("10", "teacher"), named("13", "s")],
        session: None,
        resume: None,
        resumed: false,
    };
    assert_eq!(events(&mut c), vec![want]);
    c
}

/// The subscriber attached and joined for feed 10; returns the join frame.
fn subscribing(c: &mut Client) -> Value {
    let attach = sent(c).remove(0);
    assert_eq!(attach["janus"], "attach");
    let ok = json!({"janus": "success", "transaction": tx(&attach), "data": {"id": SUB}});
    c.handle_text(&ok.to_string());
    let join = sent(c).remove(0);
    assert_eq!(join["handle_id"], SUB);
    assert_eq!(join["body"]["ptype"], "subscriber");
    assert_eq!(join["body"]["streams"], json!([{"feed": 10}]));
    assert_eq!(join["body"]["private_id"], 99);
    join
}

fn offer(videoroom: &str, streams: Value) -> (Value, Option<Value>) {
    let data = json!({"videoroom": videoroom, "room": 5, "streams": streams});
    (data, Some(json!({"type": "offer", "sdp": "v=0 offer"})))
}

#[test]
fn joins_and_subscribes_to_existing_feeds() {
    let mut c = joined();
    let join = subscribing(&mut c);
    let streams = json!([
        {"type": "audio", "mid": "0", "feed_id": 10, "active": true},
        {"type": "video", "mid": "1", "feed_id": 10, "active": true},
        {"type": "data", "mid": "2", "active": true}]);
    let (data, jsep) = offer("attached", streams);
    c.handle_text(&event(Some(&tx(&join)), SUB, data, jsep));
    let [SignalEvent::SubscribeOffer { sdp, tracks, .. }] = &events(&mut c)[..] else {
        panic!("one offer");
    };
    assert_eq!(sdp, "v=0 offer");
    assert_eq!(tracks.len(), 2);
    assert_eq!(
        (tracks[1].mid.as_str(), tracks[1].kind.as_str()),
        ("1", "video")
    );
    assert_eq!(tracks[1].participant, "10");

    c.subscribe_answer("v=0 answer", Some("candidate:x"));
    let frames = sent(&mut c);
    assert_eq!(frames[0]["body"]["request"], "start");
    assert_eq!(frames[0]["jsep"]["type"], "answer");
    assert_eq!(frames[1]["candidate"]["candidate"], "candidate:x");
    assert_eq!(frames[2]["candidate"]["completed"], true);
    assert_eq!(frames.len(), 3);
}

#[test]
fn publishes_and_gets_the_answer() {
    let mut c = joined();
    let _ = sent(&mut c);
    c.publish("v=0 pub", false, "candidate:p");
    let frames = sent(&mut c);
    assert_eq!(frames[0]["handle_id"], PUB);
    assert_eq!(frames[0]["body"]["request"], "publish");
    assert_eq!(frames[0]["jsep"]["sdp"], "v=0 pub");
    assert_eq!(frames[1]["janus"], "trickle");
    let data = json!({"videoroom": "event", "room": 5, "configured": "ok"});
    let jsep = json!({"type": "answer", "sdp": "v=0 ans"});
    c.handle_text(&event(Some(&tx(&frames[0])), PUB, data, Some(jsep)));
    let want = SignalEvent::PublishAnswer {
        sdp: "v=0 ans".into(),
    };
    assert_eq!(events(&mut c), vec![want]);
}

#[test]
fn the_view_configures_each_camera_once() {
    let mut c = joined();
    let join = subscribing(&mut c);
    // Asked before the subscription exists: kept until its m-lines are known.
    c.view(&[(10, Some(0)), (12, None)]);
    assert!(sent(&mut c).is_empty());
    let streams = json!([
        {"type": "audio", "mid": "0", "feed_id": 10, "active": true},
        {"type": "video", "mid": "1", "feed_id": 10, "active": true},
        {"type": "video", "mid": "3", "feed_id": 12, "active": true}]);
    let (data, jsep) = offer("attached", streams);
    c.handle_text(&event(Some(&tx(&join)), SUB, data, jsep));
    let frames = sent(&mut c);
    assert_eq!(frames[0]["handle_id"], SUB);
    assert_eq!(
        frames[0]["body"],
        json!({"request": "configure", "streams": [
            {"mid": "1", "send": true, "substream": 0}, {"mid": "3", "send": false}]})
    );
    c.view(&[(10, Some(0)), (12, None)]);
    assert!(sent(&mut c).is_empty(), "nothing changed");
    c.view(&[(12, Some(2))]);
    let frames = sent(&mut c);
    let want = json!([{"mid": "3", "send": true, "substream": 2}]);
    assert_eq!(frames[0]["body"]["streams"], want);
}

#[test]
fn hosts_are_marked_in_their_display_name() {
    let mut c = Client::new(5, "Frau Weber", true);
    let create = sent(&mut c);
    let ok = json!({"janus": "success", "transaction": tx(&create[0]), "data": {"id": SESSION}});
    c.handle_text(&ok.to_string());
    let attach = sent(&mut c);
    let ok = json!({"janus": "success", "transaction": tx(&attach[0]), "data": {"id": PUB}});
    c.handle_text(&ok.to_string());
    let join = sent(&mut c).remove(0);
    assert_eq!(join["body"]["display"], "Frau Weber (host)");
    let data = json!({"videoroom": "joined", "room": 5, "id": 11, "private_id": 99,
        "publishers": [{"id": 10, "display": "Herr Braun (host)"}, {"id": 12, "display": "Anna"}]});
    c.handle_text(&event(Some(&tx(&join)), PUB, data, None));
    let [
        SignalEvent::Joined {
            you, participants, ..
        },
    ] = &events(&mut c)[..]
    else {
        panic!("joined");
    };
    assert_eq!(you.name, "Frau Weber");
    assert_eq!(
        (participants[0].name.as_str(), participants[0].role.as_str()),
        ("Herr Braun", HOST)
    );
    assert_eq!(
        (participants[1].name.as_str(), participants[1].role.as_str()),
        ("Anna", "")
    );
}

#[test]
fn a_simulcast_offer_says_its_rid_order() {
    let mut c = joined();
    let _ = sent(&mut c);
    c.publish("v=0 pub", true, "candidate:p");
    let frames = sent(&mut c);
    assert_eq!(frames[0]["jsep"]["rid_order"], "lmh");
}

#[test]
fn new_feeds_wait_for_the_answer_then_update() {
    let mut c = joined();
    let join = subscribing(&mut c);
    // A new publisher while the subscriber join is in flight: noted, not yet asked for.
    let data = json!({"videoroom": "event", "room": 5, "publishers": [{"id": 12, "display": "b"}]});
    c.handle_text(&event(None, PUB, data, None));
    let want = SignalEvent::Participant(Participant {
        id: "12".into(),
        name: "b".into(),
        ..Participant::default()
    });
    assert_eq!(events(&mut c), vec![want]);
    assert!(sent(&mut c).is_empty(), "one request in flight at a time");

    let streams = json!([{"type": "audio", "mid": "0", "feed_id": 10}]);
    let (data, jsep) = offer("attached", streams);
    c.handle_text(&event(Some(&tx(&join)), SUB, data, jsep));
    let _ = events(&mut c);
    c.subscribe_answer("v=0 a", None);
    let frames = sent(&mut c);
    assert_eq!(frames[0]["body"]["request"], "start");
    assert_eq!(frames[1]["body"]["request"], "update");
    assert_eq!(frames[1]["body"]["subscribe"], json!([{"feed": 12}]));
    assert_eq!(frames.len(), 2);
}

#[test]
fn leaving_feeds_are_reported_and_forgotten() {
    let mut c = joined();
    let _ = subscribing(&mut c);
    let data = json!({"videoroom": "event", "room": 5, "unpublished": 10});
    c.handle_text(&event(None, PUB, data, None));
    let data = json!({"videoroom": "event", "room": 5, "leaving": 10});
    c.handle_text(&event(None, PUB, data, None));
    assert_eq!(events(&mut c), vec![SignalEvent::Left { id: "10".into() }]);
    // Our own leave comes back as "ok", which is not a participant.
    let data = json!({"videoroom": "event", "room": 5, "leaving": "ok"});
    c.handle_text(&event(None, PUB, data, None));
    assert!(events(&mut c).is_empty());
}

#[test]
fn a_failed_subscription_gives_the_feed_up() {
    let mut c = joined();
    let join = subscribing(&mut c);
    let data = json!({"videoroom": "event", "error_code": 428, "error": "No such feed (10)"});
    c.handle_text(&event(Some(&tx(&join)), SUB, data, None));
    let [SignalEvent::Problem(text)] = &events(&mut c)[..] else {
        panic!("one problem");
    };
    assert!(text.contains("428"), "{text}");
    assert!(
        sent(&mut c).is_empty(),
        "does not ask again for a feed that failed"
    );
}

#[test]
fn a_refused_join_is_refused() {
    let (mut c, join) = attached(5);
    let data = json!({"videoroom": "event", "error_code": 426, "error": "No such room (5)"});
    c.handle_text(&event(Some(&tx(&join)), PUB, data, None));
    let want = SignalEvent::Refused {
        code: "426".into(),
        message: "No such room (5)".into(),
    };
    assert_eq!(events(&mut c), vec![want]);
}

#[test]
fn keepalive_leave_and_garbage() {
    let mut c = joined();
    let _ = sent(&mut c);
    c.keepalive();
    c.leave();
    let frames = sent(&mut c);
    let kinds: Vec<&str> = frames.iter().filter_map(|f| f["janus"].as_str()).collect();
    assert_eq!(kinds, ["keepalive", "message", "destroy"]);
    assert_eq!(frames[1]["body"]["request"], "leave");
    c.handle_text("{not json");
    assert!(matches!(&events(&mut c)[..], [SignalEvent::Problem(_)]));
    c.handle_text(r#"{"janus": "timeout", "session_id": 1}"#);
    assert!(matches!(&events(&mut c)[..], [SignalEvent::Closed(_)]));
}

#[test]
fn created_room_reads_the_id_or_the_error() {
    let ok = r#"{"janus": "success", "transaction": "3", "sender": 2, "plugindata": {
        "plugin": "janus.plugin.videoroom", "data": {"videoroom": "created", "room": 1234}}}"#;
    let msg = JanusMsg::parse(ok).expect("parses");
    assert_eq!(created_room(&msg), Ok(1234));
    let err = r#"{"janus": "success", "plugindata": {"plugin": "p",
        "data": {"videoroom": "event", "error_code": 486, "error": "Room exists"}}}"#;
    let msg = JanusMsg::parse(err).expect("parses");
    assert!(created_room(&msg).is_err());
}
