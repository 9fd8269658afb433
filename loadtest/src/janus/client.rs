//! A bot's side of the VideoRoom plugin, sans I/O: text frames in through
//! [`Client::handle_text`], the bot's actions through `publish`, `subscribe_answer` and `leave`;
//! text frames out through [`Client::poll_transmit`], normalized events through
//! [`Client::poll_event`]. The caller drains both after every input.
//!
//! One session, two handles: the publisher handle joins the room (every bot does, so it hears
//! of others; bots that only watch never publish on it), and a multistream subscriber handle is
//! attached when the first feed appears. Feeds that start publishing are added with `update`,
//! at most one `join`/`update` in flight at a time; Janus itself renegotiates when a feed goes.
//! Janus's publisher ids are the participant ids, as text. What the bot's page shows
//! ([`Client::view`]) becomes a `configure` of the subscriber's video m-lines: the substream
//! a tile of that size calls for, or `send: false` for a camera not shown.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::HOST_MARK;
use super::msg::{JanusMsg, Peer, RoomData, SubStream, build};
use crate::protocol::{HOST, Participant, SubscribeTrack};
use crate::signaling::SignalEvent;

/// What a transaction was for, so its answer can be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    CreateSession,
    AttachPublisher,
    Join,
    AttachSubscriber,
    /// A subscriber `join` or `update` asking for these feeds.
    Subscribe(Vec<u64>),
    /// Anything whose answer needs no routing (publish, start, trickle, keepalive, leave).
    Other,
}

/// The subscriber handle's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    None,
    Attaching,
    /// Attached as `handle`; `busy` while a `join`/`update` waits for its offer or error.
    Ready {
        handle: u64,
        joined: bool,
        busy: bool,
    },
}

/// The state of one bot's Janus session.
#[derive(Debug)]
pub struct Client {
    room: u64,
    /// The bot's name.
    name: String,
    /// The name it joins with: [`HOST_MARK`] added for a host.
    display: String,
    next_tx: u64,
    pending: Vec<(String, Request)>,
    session: Option<u64>,
    publisher: Option<u64>,
    me: Option<u64>,
    private_id: Option<u64>,
    sub: Sub,
    /// Feeds that publish now (except ours): what the subscriber should have.
    feeds: BTreeSet<u64>,
    /// Feeds asked of the subscriber handle and not known to be gone.
    asked: BTreeSet<u64>,
    /// The subscription's m-lines as Janus last listed them.
    sub_streams: Vec<SubStream>,
    /// What the page shows of each feed's camera: the substream, or `None` for not at all.
    view: BTreeMap<u64, Option<u8>>,
    /// What each video m-line (mid, feed) was last configured to.
    configured: BTreeMap<(String, u64), Option<u8>>,
    out: VecDeque<String>,
    events: VecDeque<SignalEvent>,
}

impl Client {
    /// A client that will join `room` as `name` (marked as a `host`, if it is one); its first
    /// frame (session `create`) is already queued.
    pub fn new(room: u64, name: &str, host: bool) -> Client {
        let mark = if host { HOST_MARK } else { "" };
        let mut client = Client {
            room,
            name: name.to_owned(),
            display: format!("{name}{mark}"),
            next_tx: 0,
            pending: Vec::new(),
            session: None,
            publisher: None,
            me: None,
            private_id: None,
            sub: Sub::None,
            feeds: BTreeSet::new(),
            asked: BTreeSet::new(),
            sub_streams: Vec::new(),
            view: BTreeMap::new(),
            configured: BTreeMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        };
        let tx = client.tx(Request::CreateSession);
        client.out.push_back(build::create_session(&tx));
        client
    }

    // Outputs.

    /// The next text frame to send.
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.out.pop_front()
    }

    /// The next normalized event.
    pub fn poll_event(&mut self) -> Option<SignalEvent> {
        self.events.pop_front()
    }

    // Actions of the bot.

    /// Publishes with `offer` (with simulcast layers, if `simulcast`), then trickles
    /// `candidate` and end of candidates.
    pub fn publish(&mut self, offer: &str, simulcast: bool, candidate: &str) {
        let (Some(session), Some(handle)) = (self.session, self.publisher) else {
            return self.problem("publish before joined");
        };
        let tx = self.tx(Request::Other);
        let msg = build::publish(&tx, session, handle, offer, simulcast);
        self.out.push_back(msg);
        self.trickle(session, handle, candidate);
    }

    /// What the page shows now: per feed, the substream of its camera, or `None` for not
    /// shown. Feeds left out stay as they were.
    pub fn view(&mut self, feeds: &[(u64, Option<u8>)]) {
        self.view.extend(feeds.iter().copied());
        self.sync_view();
    }

    /// Answers the subscriber's latest offer with `start`; trickles `candidate` if given.
    pub fn subscribe_answer(&mut self, answer: &str, candidate: Option<&str>) {
        let (Some(session), Sub::Ready { handle, .. }) = (self.session, self.sub) else {
            return self.problem("subscribe answer without a subscriber");
        };
        let tx = self.tx(Request::Other);
        let body = build::start_body();
        let msg = build::message(&tx, session, handle, body, Some(("answer", answer)));
        self.out.push_back(msg);
        if let Some(candidate) = candidate {
            self.trickle(session, handle, candidate);
        }
        self.set_busy(false);
        self.sync_subscription();
    }

    /// `leave` on the publisher handle, then `destroy` the session.
    pub fn leave(&mut self) {
        let Some(session) = self.session else { return };
        if let Some(handle) = self.publisher {
            let tx = self.tx(Request::Other);
            let msg = build::message(&tx, session, handle, build::leave_body(), None);
            self.out.push_back(msg);
        }
        let tx = self.tx(Request::Other);
        self.out.push_back(build::destroy(&tx, session));
    }

    /// A `keepalive` for the session, if there is one.
    pub fn keepalive(&mut self) {
        if let Some(session) = self.session {
            let tx = self.tx(Request::Other);
            self.out.push_back(build::keepalive(&tx, session));
        }
    }

    // Input from Janus.

    /// Handles one text frame from Janus.
    pub fn handle_text(&mut self, text: &str) {
        match JanusMsg::parse(text) {
            Ok(msg) => self.handle_msg(msg),
            Err(e) => self.push(SignalEvent::Problem(format!("garbage: {e}: {text}"))),
        }
    }

    fn handle_msg(&mut self, msg: JanusMsg) {
        let request = msg
            .transaction
            .as_deref()
            .and_then(|tx| self.take_tx(tx, &msg));
        match msg.janus.as_str() {
            "success" | "event" => self.handle_answer(request, &msg),
            "error" => {
                let (code, reason) = msg.error.map(|e| (e.code, e.reason)).unwrap_or_default();
                self.handle_error(request, code, reason);
            }
            "timeout" => self.push(SignalEvent::Closed(Some((0, "session timeout".into())))),
            "hangup" => {
                let why = msg.reason.unwrap_or_default();
                self.problem(&format!("hangup on handle {:?}: {why}", msg.sender));
            }
            // ack, webrtcup, media, slowlink, detached, trickle (Janus half-trickles: its
            // candidates are in its SDP).
            _ => {}
        }
    }

    /// The request a transaction was for. An `ack` keeps it pending: the real answer follows.
    fn take_tx(&mut self, tx: &str, msg: &JanusMsg) -> Option<Request> {
        let i = self.pending.iter().position(|(t, _)| t == tx)?;
        if msg.janus == "ack" {
            return None;
        }
        Some(self.pending.swap_remove(i).1)
    }

    fn handle_answer(&mut self, request: Option<Request>, msg: &JanusMsg) {
        let id = msg.data.as_ref().map(|d| d.id);
        match (request, id) {
            (Some(Request::CreateSession), Some(id)) => self.handle_session(id),
            (Some(Request::AttachPublisher), Some(id)) => self.handle_publisher(id),
            (Some(Request::AttachSubscriber), Some(id)) => self.handle_subscriber(id),
            (request, _) => {
                let Some(data) = msg.room_data() else { return };
                if let Some(code) = data.error_code {
                    let reason = data.error.clone().unwrap_or_default();
                    return self.handle_error(request, code, reason);
                }
                let from_sub =
                    matches!(self.sub, Sub::Ready { handle, .. } if msg.sender == Some(handle));
                if from_sub {
                    self.handle_sub_data(data, msg);
                } else {
                    self.handle_pub_data(data, msg);
                }
            }
        }
    }

    fn handle_session(&mut self, id: u64) {
        self.session = Some(id);
        let tx = self.tx(Request::AttachPublisher);
        self.out.push_back(build::attach(&tx, id));
    }

    fn handle_publisher(&mut self, handle: u64) {
        let session = self
            .session
            .expect("attach answered, so the session exists");
        self.publisher = Some(handle);
        let tx = self.tx(Request::Join);
        let body = build::join_publisher_body(self.room, &self.display);
        self.out
            .push_back(build::message(&tx, session, handle, body, None));
    }

    fn handle_subscriber(&mut self, handle: u64) {
        self.sub = Sub::Ready {
            handle,
            joined: false,
            busy: false,
        };
        self.sync_subscription();
    }

    fn handle_pub_data(&mut self, data: &RoomData, msg: &JanusMsg) {
        if data.videoroom == "joined" {
            return self.handle_joined(data);
        }
        if data.videoroom == "destroyed" {
            return self.push(SignalEvent::Closed(Some((0, "room destroyed".into()))));
        }
        if let Some(jsep) = msg.jsep.as_ref().filter(|j| j.kind == "answer") {
            self.push(SignalEvent::PublishAnswer {
                sdp: jsep.sdp.clone(),
            });
        }
        if let Some(peer) = &data.joining {
            self.push_participant(peer);
        }
        for peer in &data.publishers {
            self.push_participant(peer);
            self.feeds.insert(peer.id);
        }
        if let Some(id) = RoomData::feed_id(&data.unpublished) {
            self.feeds.remove(&id);
            self.asked.remove(&id);
        }
        if let Some(id) = RoomData::feed_id(&data.leaving) {
            self.feeds.remove(&id);
            self.asked.remove(&id);
            self.push(SignalEvent::Left { id: id.to_string() });
        }
        self.sync_subscription();
    }

    fn handle_joined(&mut self, data: &RoomData) {
        self.me = data.id;
        self.private_id = data.private_id;
        let participants = data
            .publishers
            .iter()
            .chain(&data.attendees)
            .map(participant)
            .collect();
        self.feeds.extend(data.publishers.iter().map(|p| p.id));
        let id = data.id.map(|id| id.to_string()).unwrap_or_default();
        let you = Participant {
            id,
            name: self.name.clone(),
            ..Participant::default()
        };
        self.push(SignalEvent::Joined {
            you,
            participants,
            session: None,
            resume: None,
            resumed: false,
        });
        self.sync_subscription();
    }

    fn handle_sub_data(&mut self, data: &RoomData, msg: &JanusMsg) {
        if let Sub::Ready { joined, .. } = &mut self.sub {
            *joined |= data.videoroom == "attached";
        }
        if !data.streams.is_empty() {
            self.sub_streams = data.streams.clone();
            self.sync_view();
        }
        let Some(jsep) = msg.jsep.as_ref().filter(|j| j.kind == "offer") else {
            // An `updated` that changed nothing, `started`, `switched`: nothing to answer.
            if data.videoroom == "updated" {
                self.set_busy(false);
                self.sync_subscription();
            }
            return;
        };
        self.push(SignalEvent::SubscribeOffer {
            sdp: jsep.sdp.clone(),
            tracks: subscribe_tracks(data),
            // Janus offers a new subscription on its own handle, never a reset of one.
            reset: false,
        });
    }

    fn handle_error(&mut self, request: Option<Request>, code: i64, reason: String) {
        match request {
            Some(Request::CreateSession | Request::AttachPublisher | Request::Join) => {
                self.push(SignalEvent::Refused {
                    code: code.to_string(),
                    message: reason,
                });
            }
            Some(Request::Subscribe(feeds)) => {
                // Most likely a feed that left before the request arrived. Giving the feeds up
                // (rather than asking again) cannot loop; a feed given up wrongly shows in the
                // report as media missing from it.
                self.problem(&format!("janus error {code}: {reason}"));
                for f in feeds {
                    self.asked.remove(&f);
                    self.feeds.remove(&f);
                }
                self.set_busy(false);
                self.sync_subscription();
            }
            _ => self.problem(&format!("janus error {code}: {reason}")),
        }
    }

    /// Brings the subscriber handle towards `feeds`: attach it, join it, or update it; one
    /// request at a time.
    fn sync_subscription(&mut self) {
        let Some(session) = self.session else { return };
        if self.me.is_none() || self.feeds.is_empty() && self.asked.is_empty() {
            return;
        }
        let (handle, joined) = match self.sub {
            Sub::None => {
                self.sub = Sub::Attaching;
                let tx = self.tx(Request::AttachSubscriber);
                return self.out.push_back(build::attach(&tx, session));
            }
            Sub::Attaching | Sub::Ready { busy: true, .. } => return,
            Sub::Ready { handle, joined, .. } => (handle, joined),
        };
        let add: Vec<u64> = self.feeds.difference(&self.asked).copied().collect();
        let drop: Vec<u64> = self.asked.difference(&self.feeds).copied().collect();
        if add.is_empty() && (drop.is_empty() || !joined) {
            return;
        }
        let body = if joined {
            build::update_body(&add, &drop)
        } else {
            build::join_subscriber_body(self.room, &add, self.private_id)
        };
        for f in &drop {
            self.asked.remove(f);
        }
        self.asked.extend(add.iter().copied());
        let tx = self.tx(Request::Subscribe(add));
        self.out
            .push_back(build::message(&tx, session, handle, body, None));
        self.set_busy(true);
    }

    /// Configures the video m-lines whose feed the page now shows otherwise than they were
    /// last configured; one `configure` for all of them.
    fn sync_view(&mut self) {
        let (Some(session), Sub::Ready { handle, joined, .. }) = (self.session, self.sub) else {
            return;
        };
        if !joined {
            return;
        }
        let mut changes = Vec::new();
        for s in self
            .sub_streams
            .iter()
            .filter(|s| s.active && s.kind == "video")
        {
            let Some(feed) = s.feed_id else { continue };
            let Some(&want) = self.view.get(&feed) else {
                continue;
            };
            let key = (s.mid.clone(), feed);
            if self.configured.get(&key) != Some(&want) {
                self.configured.insert(key, want);
                changes.push((s.mid.clone(), want));
            }
        }
        if changes.is_empty() {
            return;
        }
        let tx = self.tx(Request::Other);
        let body = build::configure_streams_body(&changes);
        self.out
            .push_back(build::message(&tx, session, handle, body, None));
    }

    fn set_busy(&mut self, value: bool) {
        if let Sub::Ready { busy, .. } = &mut self.sub {
            *busy = value;
        }
    }

    fn trickle(&mut self, session: u64, handle: u64, candidate: &str) {
        let tx = self.tx(Request::Other);
        self.out
            .push_back(build::trickle(&tx, session, handle, Some(candidate)));
        let tx = self.tx(Request::Other);
        self.out
            .push_back(build::trickle(&tx, session, handle, None));
    }

    fn push_participant(&mut self, peer: &Peer) {
        if Some(peer.id) == self.me {
            return;
        }
        self.push(SignalEvent::Participant(participant(peer)));
    }

    fn problem(&mut self, text: &str) {
        self.push(SignalEvent::Problem(text.to_owned()));
    }

    fn push(&mut self, event: SignalEvent) {
        self.events.push_back(event);
    }

    /// A new transaction id, remembered with what it is for unless it needs no routing.
    fn tx(&mut self, request: Request) -> String {
        self.next_tx += 1;
        let tx = self.next_tx.to_string();
        // Keepalives, trickles and the like are answered too; only routed ones are remembered,
        // so the list stays as short as the requests in flight.
        if request != Request::Other {
            self.pending.push((tx.clone(), request));
        }
        tx
    }
}

/// The active audio and video m-lines of a subscriber offer, as the bot's track map.
pub fn subscribe_tracks(data: &RoomData) -> Vec<SubscribeTrack> {
    data.streams
        .iter()
        .filter(|s| s.active && (s.kind == "audio" || s.kind == "video"))
        .filter_map(|s| {
            Some(SubscribeTrack {
                mid: s.mid.clone(),
                participant: s.feed_id?.to_string(),
                kind: s.kind.clone(),
                source: None,
            })
        })
        .collect()
}

/// The id of the room Janus created, from the answer to a VideoRoom `create`.
pub fn created_room(msg: &JanusMsg) -> Result<u64, String> {
    if let Some(e) = &msg.error {
        return Err(format!("janus error {}: {}", e.code, e.reason));
    }
    let data = msg
        .room_data()
        .ok_or("create answered without plugin data")?;
    if let Some(code) = data.error_code {
        let reason = data.error.clone().unwrap_or_default();
        return Err(format!("videoroom error {code}: {reason}"));
    }
    match (data.videoroom.as_str(), data.room) {
        ("created", Some(room)) => Ok(room),
        _ => Err(format!("unexpected answer to create: {:?}", data.videoroom)),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

/// A Janus peer as the bots' participant: an id, a name and, from its display name, whether
/// it is a host; no media flags.
fn participant(peer: &Peer) -> Participant {
    let display = peer.display.as_deref().unwrap_or_default();
    let (name, role) = match display.strip_suffix(HOST_MARK) {
        Some(name) => (name, HOST),
        None => (display, ""),
    };
    Participant {
        id: peer.id.to_string(),
        name: name.to_owned(),
        role: role.to_owned(),
        ..Participant::default()
    }
}
