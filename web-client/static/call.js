// One stay in a room: from pressing "Join" (or reloading the page) to leaving, or being
// thrown out.
//
// A Call owns the connection to the server (a Link of reconnect.js: one WebSocket after
// another), the two peer connections (RtcSession), the camera, microphone and screen
// (LocalMedia), the tiles (TileGrid) and what the server hears of them (ViewReporter: which
// remote videos the page shows, and how large), and keeps what the server told us about
// the room: `you`, `room`, `settings`, `members` (everyone else admitted, id -> participant
// object), `waiting` (the lobby, hosts only), `chat` and `speakers`. It is used once;
// rejoining by hand makes a new Call.
//
// Through network trouble the Call stays (docs/protocol.md, "Staying in a lesson when the
// network does not"). A socket that drops without a closing error, or stalls, is replaced
// by a new one that sends `resume` with the token of the latest `joined` (kept per tab in
// sessionStorage): the server puts us back in our seat and the peer connections stay
// (they restart ICE if they need to). If the seat is gone (`resume_failed`) the Call
// joins again with its session, as a new participant, on new peer connections. A page
// that starts with a token (a reload) resumes with `fresh` at once, no join form; if
// that fails (a slow machine took longer to reload than the server's unload grace) and
// the page unloaded less than a minute ago, it joins again by itself under the same name;
// an older token (a tab restored the next day) ends the Call with kind 'resume_failed'
// and the page shows the join form.
//
// The page listens with call.on(event, fn). Events and their argument:
//   lobby(msg)          we wait in the lobby
//   joined(msg)         we are in as a new participant; show the call screen
//   resumed(msg)        the same seat on a new socket: members, settings and chat are
//                       refreshed from msg, the call screen stays
//   connection(state)   'connected' | 'reconnecting' | 'lost' (reconnecting for longer
//                       than the server keeps our seat; we still try)
//   admitFailed(reason) in the lobby: a host tried to let us in, the room is full
//   refused({code, message})  the server refused the join but kept the socket open
//                       (bad_name, bad_message); the page may call join(name) again
//   ended({kind, code, message, reason})  kind: 'left' | 'error' | 'lost' | 'ended' |
//                       'resume_failed' (a reloaded page's seat is gone)
//   media(state)        what we send changed: {audio, video, screen}
//   members()           someone joined, left, or changed (role, media, hand)
//   hand({participant, raised})  someone else's hand went up or down (or they left with it up)
//   self(you)           the server changed our own participant object (role, hand)
//   settings(settings)  the room's settings changed
//   waiting({waiting, arrived})  the lobby changed (hosts); `arrived`: new ids
//   link(secret)        the participant secret (on joined, host_info, link_renewed)
//   hostLink(secret)    our host link is new (the lead renewed it)
//   chat(message)       a chat message arrived (history comes with `joined`)
//   speakers({speaking, dominant})
//   spotlight(id)       a host put participant `id` on everyone's stage (null: nobody)
//   moderated({action, by})   a host (or a settings change) switched something off
//   refusal({code, message, request, key})  the server answered a request with an
//                       error that keeps the socket open; `request` is the type of the
//                       request it answers, `key` the i18n key to show
//   notice(key)         a non-fatal problem worth telling the user (i18n key)

import { PROTOCOL_VERSION } from './signaling.js';
import { Link } from './reconnect.js';
import { CLOSING_ERRORS, handleError } from './errors.js';
import {
  applyRoomState, handleChat, handleHostInfo, handleHostLink, handleLeft, handleLink, handleParticipant,
  handleLobbyUpdate, handleSettings, handleSpeakers, syncHostInfo,
} from './roster.js';
import { RtcSession } from './rtc.js';
import { LocalMedia } from './media.js';
import { ViewReporter } from './view.js';
import {
  creatorKeyFor, forgetResume, forgetSession, rememberResume, rememberSession, sessionFor, unloadedWithin,
} from './store.js';

// protocol.md, `joined.resume_grace_secs`: its default, for a server that leaves it out.
const DEFAULT_RESUME_GRACE_SECS = 30;

/** The media flags of a participant or a `media_state`, as booleans. */
function flags(state) {
  return { audio: Boolean(state.audio), video: Boolean(state.video), screen: Boolean(state.screen) };
}
// protocol.md, error table: a media request the server dropped for a full queue
// (`server_busy`) goes again after 1 to 1.5 s, doubling while the server stays busy, at
// most every 8 to 12 s; a request not dropped for this long starts at 1 s again.
const BUSY_RETRY_MS = 1000;
const BUSY_RETRY_MAX_MS = 8000;
const BUSY_FORGET_MS = 30_000;
const LOG_LIMIT = 500;
const MEDIA_SETTING = { audio: 'unmute', video: 'video', screen: 'screen' };

// A page that reloaded within this long joins again by itself if its seat is gone (and only
// such a page keeps its tab's session at all: store.js, keepTabStateOnlyOnReload).
export const REJOIN_AFTER_RELOAD_MS = 60_000;

export class Call {
  /**
   * `resumeToken`: this tab's token for the room, if it has one (the page was reloaded);
   * the Call then resumes that seat instead of joining.
   */
  constructor({ roomId, secret, name, grid, resumeToken, media }) {
    Object.assign(this, { roomId, secret, name, grid });
    this.link = new Link();
    // The pre-join check's camera and microphone (devices.js), already running; or ours.
    this.media = media || new LocalMedia();
    this.rtc = null;
    this.you = null;
    this.room = null;
    this.settings = {};
    this.members = new Map();
    this.waiting = [];
    this.chat = [];
    this.speakers = { speaking: [], dominant: null };
    // Whom a host put in the spotlight for everyone (docs/protocol.md, `spotlight`), or null.
    this.spotlight = null;
    this.participantSecret = null;
    // 'connecting' until the server first answers, then 'lobby' or 'joined'.
    this.phase = 'connecting';
    this.ended = false;
    // 'connected' | 'reconnecting' | 'lost': what the page's banner says.
    this.connection = 'connected';
    this.resumeToken = resumeToken || null;
    // The first `resume` of a reloaded page says `fresh`: it has no peer connections left.
    this.fresh = Boolean(resumeToken);
    // A reload (not a tab restored much later): if the seat is gone, join again by itself.
    this.rejoinsAfterReload = this.fresh && unloadedWithin(roomId, REJOIN_AFTER_RELOAD_MS);
    this.resumeGraceSecs = DEFAULT_RESUME_GRACE_SECS;
    this.lostTimer = null;
    // True after a refused join, until join() sends a corrected one on the same socket.
    this.refused = false;
    // The latest request an `error` could answer (the server answers in order), and the
    // latest message sent of any kind but candidates.
    this.lastRequest = null;
    this.lastSent = null;
    this.remoteTracks = new Map();
    // Views go out only while we sit in the room on a socket that carries (never before
    // `joined`: the server would refuse them); a resume sends the current one again.
    this.view = new ViewReporter(grid.container, {
      send: (msg) => this.sendView(msg),
      ready: () => this.phase === 'joined' && this.connection === 'connected' && !this.ended,
    });
    this.log = [];
    this.listeners = new Map();
    this.handleOnline = () => this.onOnline();
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
    return this;
  }

  emit(event, arg) {
    for (const fn of this.listeners.get(event) || []) fn(arg);
  }

  get isHost() {
    return Boolean(this.you && this.you.role === 'host');
  }

  /** Whether we may turn `kind` ('audio', 'video', 'screen') on now. */
  mayUse(kind) {
    return this.isHost || this.settings[MEDIA_SETTING[kind]] !== false;
  }

  /** Opens the socket and asks for camera and microphone at the same time. */
  start() {
    this.mediaReady = this.media.acquire();
    this.link.onopen = () => this.sendHello();
    this.link.onmessage = (msg) => this.handleMessage(msg);
    this.link.ondown = (down) => this.handleDown(down);
    window.addEventListener('online', this.handleOnline);
    this.link.connect();
  }

  /** The first message on every socket: `resume` while we hold a token, else `join`. */
  sendHello() {
    if (this.resumeToken) {
      this.send({
        type: 'resume', v: PROTOCOL_VERSION, room: this.roomId, token: this.resumeToken, fresh: this.fresh,
      });
    } else {
      this.send(this.joinMessage());
    }
    this.link.expect('hello');
  }

  joinMessage() {
    const msg = { type: 'join', v: PROTOCOL_VERSION, room: this.roomId, secret: this.secret, name: this.name };
    const session = sessionFor(this.roomId);
    if (session) msg.session = session;
    // This browser created the room: with the host link, that makes us its lead.
    const creator = creatorKeyFor(this.roomId);
    if (creator) msg.creator = creator;
    return msg;
  }

  /** Sends `join` again with a corrected name after a refusal, on the same socket. */
  join(name) {
    this.name = name;
    this.refused = false;
    this.send(this.joinMessage());
    this.link.expect('hello');
  }

  send(msg) {
    this.record('out', msg);
    if (msg.type === 'media_state' && this.connection === 'connected') this.agree(msg);
    if (msg.type !== 'candidate') this.lastSent = msg;
    if (!['candidate', 'subscribe_answer', 'subscribe_failed'].includes(msg.type)) this.lastRequest = msg;
    this.link.send(msg);
  }

  /**
   * The server dropped a media request of ours (`server_busy` with `re`: a media worker's
   * queue was full, the socket stays). A `publish`, `subscribe_answer` or `subscribe_failed`
   * goes again after 1 to 1.5 s, doubling up to 8 s while the server stays busy, if it is
   * still the one to send (the same connection and request, no resume or new join since:
   * those send it again themselves). A `view` or an `ice_restart` goes when the page would
   * send the next anyway. A dropped candidate needs nothing: the server is ICE-lite and
   * checks no address of ours, it answers the browser's checks.
   */
  handleBusy(re) {
    if (re === 'view') {
      this.view.handleRefused();
      return;
    }
    if (re === 'ice_restart') {
      this.link.settle('ice_restart');
      if (this.rtc) this.rtc.handleRestartRefused();
      return;
    }
    if (!this.rtc || !['publish', 'subscribe_answer', 'subscribe_failed'].includes(re)) return;
    // Answered, so not stalled; the request's clock starts again when it goes again.
    if (re === 'publish') this.link.settle('publish');
    const now = performance.now();
    const tries = this.busyTries || (this.busyTries = new Map());
    const last = tries.get(re);
    const n = last && now - last.at < BUSY_FORGET_MS ? last.n + 1 : 0;
    tries.set(re, { n, at: now });
    const { rtc } = this;
    const what = rtc.droppedRequest(re);
    const joins = this.joins;
    const wait = Math.min(BUSY_RETRY_MS * 2 ** n, BUSY_RETRY_MAX_MS) * (1 + Math.random() / 2);
    setTimeout(() => {
      if (this.ended || this.rtc !== rtc || this.joins !== joins || this.connection !== 'connected') return;
      rtc.resendDropped(re, what);
    }, wait);
  }

  /**
   * A `view`: not a request the error guesses of errors.js should pick (it never draws an
   * error but rate_limited, and says so in `re`), so neither lastRequest nor lastSent.
   */
  sendView(msg) {
    this.record('out', msg);
    this.link.send(msg);
  }

  /**
   * Media looks stuck: is the socket still carrying? A `ping` the server answers at once
   * (docs/protocol.md, "Stalled sockets"); no `pong` within the reply timeout means the
   * socket has stalled too, and reconnect.js moves to a new one.
   */
  probe() {
    if (!this.link.isOpen || this.link.waits.has('pong')) return;
    this.record('out', { type: 'ping' });
    this.link.send({ type: 'ping' });
    this.link.expect('pong');
  }

  /** Keeps a short history of messages (never SDP, secrets, tokens, names or chat text). */
  record(dir, msg) {
    const entry = { at: Math.round(performance.now()), dir, type: msg.type };
    if (msg.type === 'error') Object.assign(entry, { code: msg.code, message: msg.message });
    if (msg.type === 'participant_left') entry.id = msg.id;
    if (msg.participant && msg.participant.id) {
      const p = msg.participant;
      Object.assign(entry, { id: p.id, quality: p.quality, reconnecting: p.reconnecting });
    }
    if (typeof msg.participant === 'string') entry.participant = msg.participant;
    if (msg.type === 'subscribe_offer' || msg.type === 'publish') entry.tracks = msg.tracks;
    if (msg.type === 'subscribe_offer') entry.reset = Boolean(msg.reset);
    if (msg.type === 'joined') {
      Object.assign(entry, { id: msg.you && msg.you.id, resumed: Boolean(msg.resumed) });
      // Everyone's rating as of (re)joining: what a page resuming after an outage learns.
      const others = Array.isArray(msg.participants) ? msg.participants : [];
      entry.quality = Object.fromEntries(others.map((o) => [o.id, o.quality]));
    }
    if (msg.type === 'resume') entry.fresh = msg.fresh;
    if (msg.type === 'leave' && msg.may_return) entry.may_return = true;
    if (msg.type === 'ice_restart') entry.pc = msg.pc;
    if (msg.type === 'admit_failed') entry.reason = msg.reason;
    if (msg.type === 'moderated') Object.assign(entry, { action: msg.action, by: msg.by });
    if (msg.type === 'media_state') Object.assign(entry, { audio: msg.audio, video: msg.video, screen: msg.screen });
    if (msg.type === 'stream_unavailable') Object.assign(entry, { source: msg.source, reason: msg.reason, codec: msg.codec });
    if (msg.type === 'view') entry.tiles = msg.tiles;
    if (msg.type === 'bandwidth') Object.assign(entry, { paused: msg.paused, limited: msg.limited });
    if (msg.type === 'encodings') Object.assign(entry, { source: msg.source, encodings: msg.encodings });
    if (msg.type === 'screen_bitrate' || msg.type === 'camera_bitrate') entry.max_bitrate = msg.max_bitrate;
    this.log.push(entry);
    if (this.log.length > LOG_LIMIT) this.log.shift();
  }

  handleMessage(msg) {
    this.record('in', msg);
    if (this.ended) return;
    const handler = {
      lobby: () => this.handleLobby(msg),
      joined: () => this.handleJoined(msg),
      queued: () => this.handleQueued(msg),
      queue: () => this.emit('serverQueue', Number(msg.waiting) || 0),
      pong: () => this.link.settle('pong'),
      participant_joined: () => handleParticipant(this, msg.participant),
      participant_updated: () => handleParticipant(this, msg.participant),
      participant_left: () => handleLeft(this, msg.id),
      settings_updated: () => handleSettings(this, msg.settings),
      moderated: () => this.handleModerated(msg),
      admit_failed: () => this.emit('admitFailed', msg.reason || 'room_full'),
      host_info: () => handleHostInfo(this, msg),
      lobby_updated: () => handleLobbyUpdate(this, msg),
      link_renewed: () => handleLink(this, msg.participant_secret),
      host_link_renewed: () => handleHostLink(this, msg.host_secret),
      chat: () => handleChat(this, msg.message),
      speakers: () => handleSpeakers(this, msg),
      spotlight: () => this.handleSpotlight(msg.participant),
      room_ended: () => this.end({ kind: 'ended', reason: msg.reason, byUs: Boolean(this.endedByUs) }),
      publish_answer: () => this.handlePublishAnswer(msg),
      subscribe_offer: () => this.handleSubscribeOffer(msg),
      stream_unavailable: () => this.handleStreamUnavailable(msg),
      bandwidth: () => this.handleBandwidth(msg),
      encodings: () => this.rtc && this.rtc.handleEncodings(msg.source, msg.encodings),
      screen_bitrate: () => this.rtc && this.rtc.handleScreenBitrate(msg.max_bitrate),
      camera_bitrate: () => this.rtc && this.rtc.handleCameraBitrate(msg.max_bitrate),
      error: () => this.handleError(msg),
    }[msg.type];
    if (handler) handler();
  }

  /**
   * The server is full for now and our join waits its turn (docs/protocol.md, `queued`):
   * the socket is fine, and `joined` or `lobby` comes by itself when it is our turn.
   */
  handleQueued(msg) {
    this.link.settle('hello');
    this.link.handleConnected();
    // A resume that waits: the call screen stays, with its "Reconnecting…" banner.
    if (this.phase === 'joined') return;
    this.phase = 'queued';
    this.emit('queued', {
      position: Number(msg.position) || null,
      waiting: Number(msg.waiting) || null,
      waitSecs: Number.isFinite(msg.wait_secs) ? msg.wait_secs : null,
    });
  }

  handleLobby(msg) {
    rememberSession(this.roomId, msg.session);
    this.link.settle('hello');
    this.link.handleConnected();
    this.setConnection('connected');
    // Back in the lobby after a rejoin (a host must let us in again): the call is over.
    if (this.phase === 'joined') this.resetRoomState();
    this.phase = 'lobby';
    this.room = msg.room || null;
    this.emit('lobby', msg);
  }

  handleJoined(msg) {
    // Each `joined` (a resume too) sends again what it must itself: see handleBusy.
    this.joins = (this.joins || 0) + 1;
    rememberSession(this.roomId, msg.session);
    this.resumeToken = typeof msg.resume === 'string' && msg.resume ? msg.resume : null;
    rememberResume(this.roomId, this.resumeToken);
    const grace = Number(msg.resume_grace_secs);
    this.resumeGraceSecs = Number.isFinite(grace) && grace > 0 ? grace : DEFAULT_RESUME_GRACE_SECS;
    this.link.settle('hello');
    this.link.handleConnected();
    // The same seat, and this page still has its peer connections: they stay.
    const sameSeat = this.phase === 'joined' && msg.resumed && this.rtc && this.you
      && msg.you && msg.you.id === this.you.id;
    // The same seat, not resumed: the server's media for the room started again
    // (protocol.md, `joined`); new connections, but a screen being shared goes on.
    const restarted = this.phase === 'joined' && !msg.resumed && this.you && msg.you && msg.you.id === this.you.id;
    this.phase = 'joined';
    this.fresh = false;
    this.setConnection('connected');
    if (sameSeat) this.handleResumed(msg);
    else this.enter(msg, { restart: restarted });
  }

  /** In as a new participant (or a reloaded page's seat): state, tiles, then media. */
  async enter(msg, { restart = false } = {}) {
    this.resetRoomState({ keepScreen: restart });
    applyRoomState(this, msg);
    this.agree(this.you);
    const rtc = new RtcSession({
      send: (m) => this.send(m),
      expect: (kind) => this.link.expect(kind),
      iceServers: Array.isArray(msg.ice_servers) ? msg.ice_servers : [],
    });
    this.rtc = rtc;
    rtc.onremotetracks = (map) => this.handleRemoteTracks(map);
    rtc.onfailure = (which, err) => this.handleRtcFailure(which, err);
    rtc.onstatechange = (which, state) => {
      this.record('pc', { type: `${which} ${state}` });
      if (state === 'disconnected' || state === 'failed') this.probe();
    };
    // The devices are usually ready (the pre-join screen asked for them): the offer is then
    // made while the call screen is drawn, which on a busy laptop takes a few hundred ms.
    const early = this.media.acquired;
    if (early) this.startPublishing(rtc);
    this.emit('joined', msg);
    this.emit('members');
    syncHostInfo(this, msg);
    // The call screen shows now: tell the server what of it we see, before any media comes.
    this.view.start();
    await this.mediaReady;
    if (this.ended || this.rtc !== rtc) return;
    if (!early) this.startPublishing(rtc);
    this.grid.showSelf(this.you.name, this.media.stream, this.media.state());
    this.grid.setSelfState(this.you);
    this.emit('media', this.media.state());
    const missing = this.media.missing();
    if (missing) this.emit('notice', `notice.${missing}`);
    this.watchCamera();
  }

  /**
   * The microphone and camera start as the server holds them (a student joins a class
   * muted), and go out on the publish connection.
   */
  startPublishing(rtc) {
    this.media.setEnabled('audio', this.you.audio);
    this.media.setEnabled('video', this.you.video);
    this.sendMediaStateIfChanged();
    rtc.publish(this.media.tracks());
  }

  /**
   * Another camera or microphone (`kind` 'video' or 'audio', device `id`), in the lesson:
   * only the track on its m-line changes (replaceTrack), the others keep decoding.
   */
  async switchDevice(kind, id) {
    if (this.ended) return null;
    const track = await this.media.switchDevice(kind, id);
    if (!track || this.ended) return track;
    this.watchCamera();
    if (this.you) this.grid.showSelf(this.you.name, this.media.stream, this.media.state());
    if (this.rtc && this.you) await this.rtc.publish(this.media.tracks());
    return track;
  }

  /** A device declined before joining, turned on after all (its button): asked for now. */
  async turnOnDevice(kind) {
    const track = await this.media.setUse(kind, true);
    if (this.ended || !this.you) return;
    if (!track) {
      this.emit('notice', kind === 'audio' ? 'notice.noMic' : 'notice.noCamera');
      this.emit('media', this.media.state());
      return;
    }
    this.watchCamera();
    // Remembered for this browser, as the check's choice was: a reload opens it again.
    this.emit('deviceUsed', kind);
    this.setLocal(kind, true);
    this.grid.showSelf(this.you.name, this.media.stream, this.media.state());
    this.send({ type: 'media_state', ...this.media.state() });
    if (this.rtc) await this.rtc.publish(this.media.tracks());
  }

  /**
   * A camera or microphone that ends by itself (unplugged, taken by another app, permission
   * taken back, a headset's battery) is asked for again: each new track of either kind is
   * watched, whether it came with the join, a device switch or a button.
   */
  watchCamera() {
    this.watched = this.watched || new WeakSet();
    for (const kind of ['audio', 'video']) {
      const track = this.media[kind === 'audio' ? 'audioTrack' : 'videoTrack'];
      if (!track || this.watched.has(track)) continue;
      this.watched.add(track);
      track.addEventListener('ended', () => this.restartDevice(kind, track), { once: true });
    }
  }

  async restartCamera() {
    return this.restartDevice('video', this.media.videoTrack);
  }

  /**
   * The device again, on a new track: the publish connection only swaps the track on its
   * m-line (replaceTrack), no offer (docs/protocol.md, `publish`). If it cannot be had, the
   * page says so, its button shows it off (pressing it asks again), and the others are
   * told it is off: no black tile that claims a camera, no button that says "on".
   */
  async restartDevice(kind, ended) {
    if (this.ended || !this.you) return;
    const key = kind === 'audio' ? 'audioTrack' : 'videoTrack';
    // A track replaced meanwhile (another device chosen) is no news.
    if (ended && this.media[key] !== ended) return;
    const track = await this.media.restartDevice(kind);
    if (this.ended) return;
    if (!track) {
      this.media.lose(kind);
      this.emit('notice', kind === 'audio' ? 'notice.micLost' : 'notice.cameraLost');
    } else {
      this.watchCamera();
    }
    this.grid.showSelf(this.you.name, this.media.stream, this.media.state());
    this.grid.setSelfMedia(this.media.state());
    this.emit('media', this.media.state());
    this.sendMediaStateIfChanged();
    if (this.rtc) await this.rtc.publish(this.media.tracks());
  }

  /**
   * The same seat on a new socket (docs/protocol.md, `resume`): members, settings, chat
   * and our own state are taken from `joined` again, the peer connections stay; a
   * publish that had no answer goes out again and broken connections restart ICE.
   */
  handleResumed(msg) {
    // What the server and we last agreed on before we went away.
    const held = this.agreed || flags(this.you);
    applyRoomState(this, msg);
    syncHostInfo(this, msg);
    this.grid.setSelfState(this.you);
    this.grid.setTracks(this.remoteTracks);
    // What changed while we were away, on either side. Off on the server's side since we
    // last agreed (a host's mute we did not hear of, a setting): off here too. On here
    // while the server still holds it off as agreed (a student who unmuted while her Wi-Fi
    // was gone): it stays on, and media_state below tells the server. Off here:
    // media_state tells that too.
    const changedThere = (kind) => held[kind] || !this.mayUse(kind);
    for (const kind of ['audio', 'video']) {
      if (!this.you[kind] && this.media.state()[kind] && changedThere(kind)) this.setLocal(kind, false);
    }
    if (!this.you.screen && this.media.screenTrack && changedThere('screen')) this.stopScreen({ tell: false });
    this.agree(this.you);
    this.sendMediaStateIfChanged();
    this.rtc.handleSignaling(true);
    this.view.resend();
    this.emit('resumed', msg);
    this.emit('settings', this.settings);
    this.emit('self', this.you);
    this.emit('members');
  }

  /** Before joining as a new participant: the old one's connections and tiles go. */
  resetRoomState({ keepScreen = false } = {}) {
    if (this.rtc) this.rtc.close();
    this.rtc = null;
    for (const id of [...this.members.keys()]) handleLeft(this, id);
    this.remoteTracks = new Map();
    // protocol.md, `bandwidth`: a new participant starts with nothing paused, not limited.
    this.grid.setBandwidth({ paused: [], limited: false });
    if (!keepScreen && this.media.stopScreen()) {
      this.grid.showSelfScreen(null);
      this.emit('media', this.media.state());
    }
  }

  /** A host put someone in the spotlight for everyone (or nobody: null). */
  handleSpotlight(participant) {
    const id = typeof participant === 'string' ? participant : null;
    if (id === this.spotlight) return;
    this.spotlight = id;
    this.emit('spotlight', id);
  }

  /** The server has already stopped forwarding; we turn the source off to match. */
  handleModerated(msg) {
    if (msg.action === 'mute') this.setLocal('audio', false);
    if (msg.action === 'stop_video') this.setLocal('video', false);
    if (msg.action === 'stop_screen') this.stopScreen({ tell: false });
    this.emit('moderated', { action: msg.action, by: msg.by ?? null });
  }

  handlePublishAnswer(msg) {
    this.link.settle('publish');
    if (this.rtc) this.rtc.handlePublishAnswer(msg);
  }

  handleSubscribeOffer(msg) {
    this.link.settle('ice_restart');
    if (this.rtc) this.rtc.handleSubscribeOffer(msg);
  }

  /**
   * A stream of someone else's that the server cannot forward to this browser (its codec
   * is one we did not negotiate): the tile says so instead of staying black.
   */
  handleStreamUnavailable(msg) {
    // Sound has one codec everywhere (Opus); only a picture can be missing.
    if (!this.members.has(msg.participant) || !['camera', 'screen'].includes(msg.source)) return;
    this.grid.setUnavailable(msg.participant, msg.source, { reason: msg.reason || 'codec', codec: msg.codec || null });
  }

  /**
   * `bandwidth`: the videos the server holds back from us for want of bandwidth, marked on
   * their tiles, and whether our own link is the limit, marked on our own tile. Each message
   * says all that holds now.
   */
  handleBandwidth(msg) {
    const paused = (Array.isArray(msg.paused) ? msg.paused : [])
      .filter((s) => s && typeof s.participant === 'string' && ['camera', 'screen'].includes(s.source));
    this.grid.setBandwidth({ paused, limited: msg.limited === true });
  }

  handleRemoteTracks(map) {
    this.remoteTracks = map;
    this.grid.setTracks(map);
  }

  handleRtcFailure(which, err) {
    console.error(`aula: ${which} connection problem`, err);
    if (!this.ended) this.emit('notice', 'error.media');
  }

  handleError(msg) {
    handleError(this, msg);
  }

  // ---- the connection to the server ----

  /** A socket is gone: closed by the server or the network, or stalled (reconnect.js). */
  handleDown(down) {
    if (this.ended) return;
    const code = down.error ? down.error.code : null;
    // The join queue is full (`retry_after_secs`): wait about that long, with jitter so a
    // school's pages do not all come back at once, and join again; meanwhile the page says
    // the same as in the queue. Never an error screen for a busy server.
    const retryAfter = code === 'server_busy' && down.error ? Number(down.error.retry_after_secs) : NaN;
    if (retryAfter > 0 && this.phase !== 'joined') {
      this.phase = 'queued';
      this.emit('queued', { position: null, waiting: null, waitSecs: null });
      const delay = this.link.retryIn(retryAfter * 1000 * (0.5 + Math.random()));
      this.record('net', { type: `queue full; retry in ${Math.round(delay)} ms` });
      return;
    }
    // A server going down says `server_busy` to a join; once in, we wait for its successor.
    const retryable = code === 'server_busy' && this.phase !== 'connecting';
    if (!retryable && ((code && CLOSING_ERRORS.has(code)) || down.code >= 4000)) {
      // 4000 without an error: a newer socket (another tab) resumed our seat.
      this.end({ kind: 'error', code: code || 'elsewhere', message: down.error && down.error.message });
      return;
    }
    if (this.phase === 'queued') {
      // Our place in the queue: a new socket with the same join takes it back.
      const delay = this.link.retry(down);
      this.record('net', { type: `queued; retry in ${Math.round(delay)} ms` });
      return;
    }
    if (this.phase === 'connecting') {
      // Nothing to come back to yet: the page shows why and offers to try again.
      this.end(down.opened ? { kind: 'lost' } : { kind: 'error', code: 'connect' });
      return;
    }
    if (this.rtc) this.rtc.handleSignaling(false);
    if (this.connection === 'connected') {
      this.setConnection('reconnecting');
      // After the grace the server has let our seat go: say so, and go on trying (a
      // resume then fails and we join again).
      this.lostTimer = setTimeout(() => this.setConnection('lost'), this.resumeGraceSecs * 1000);
    }
    if (down.renew) {
      this.link.connect();
      return;
    }
    const delay = this.link.retry(down);
    this.record('net', { type: `retry in ${Math.round(delay)} ms${down.stalled ? ' (stalled)' : ''}` });
  }

  /** Our seat cannot be resumed (gone, or the grace has passed). */
  handleResumeFailed() {
    this.resumeToken = null;
    forgetResume(this.roomId);
    if (this.phase === 'connecting' && !(this.name && this.rejoinsAfterReload)) {
      // A tab restored long after: the join form takes over, as for any visit.
      this.end({ kind: 'resume_failed' });
      return;
    }
    // Join again with our session: no lobby, but a new participant on new connections.
    if (this.you) this.name = this.you.name;
    this.send(this.joinMessage());
    this.link.expect('hello');
  }

  setConnection(state) {
    if (state === 'connected') {
      clearTimeout(this.lostTimer);
      this.lostTimer = null;
    }
    if (this.connection === state) return;
    this.connection = state;
    this.record('net', { type: state });
    this.grid.setSelfConnection(state);
    this.emit('connection', state);
  }

  /** The browser says the network is back (or changed). */
  onOnline() {
    if (this.ended) return;
    this.record('net', { type: 'online' });
    // A new socket first, so that the ICE restarts (protocol.md: on a network change) go
    // out on it once the seat is resumed, not on the old socket.
    if (this.connection === 'connected' && this.phase !== 'connecting') this.link.renew();
    else this.link.retryNow();
    if (this.rtc) this.rtc.handleOnline();
  }

  /** The Rejoin button of the banner: try now instead of waiting for the next attempt. */
  reconnectNow() {
    if (!this.ended && this.connection !== 'connected') this.link.retryNow();
  }

  // ---- user actions ----

  /** Microphone ('audio') or camera ('video') on/off; refused locally if not allowed. */
  toggle(kind) {
    const on = !this.media.state()[kind];
    if (on && !this.mayUse(kind)) {
      this.emit('notice', `error.forbidden.${kind}`);
      return this.media.state();
    }
    if (on && this.media.declined(kind) && !this.media[kind === 'audio' ? 'audioTrack' : 'videoTrack']) {
      this.turnOnDevice(kind);
      return this.media.state();
    }
    this.setLocal(kind, on);
    this.send({ type: 'media_state', ...this.media.state() });
    return this.media.state();
  }

  setLocal(kind, on) {
    const state = this.media.setEnabled(kind, on);
    this.grid.setSelfMedia(state);
    this.emit('media', state);
  }

  /** Starts sharing the screen: media_state, then the publish connection renegotiates. */
  async startScreen() {
    if (this.media.screenTrack || !this.rtc) return;
    if (!this.mayUse('screen')) {
      this.emit('notice', 'error.forbidden.screen');
      return;
    }
    if (this.media.choosingScreen) return;
    const track = await this.media.startScreen(() => this.stopScreen({ tell: true }));
    if (!track || this.ended) {
      if (!track) this.emit('notice', 'notice.noScreen');
      return;
    }
    this.grid.showSelfScreen(track);
    this.emit('media', this.media.state());
    this.send({ type: 'media_state', ...this.media.state() });
    this.rtc.publish(this.media.tracks());
  }

  /** Stops sharing: its m-line goes inactive; `tell` sends media_state. */
  stopScreen({ tell }) {
    if (!this.media.stopScreen()) return;
    this.grid.showSelfScreen(null);
    this.emit('media', this.media.state());
    if (tell) this.send({ type: 'media_state', ...this.media.state() });
    if (this.rtc && !this.ended) this.rtc.publish(this.media.tracks());
  }

  /** Tells the server what we send if that differs from what it holds for us. */
  /**
   * The microphone, camera and screen flags that the server and this page last agreed on:
   * what the server said of us (`joined`, our `participant_updated`), or what we asked for
   * later on a live socket. A resume compares the server's flags with these to tell what
   * changed on its side while we were away from what the person changed here.
   */
  agree(state) {
    this.agreed = flags(state);
  }

  sendMediaStateIfChanged() {
    const state = this.media.state();
    if (['audio', 'video', 'screen'].some((kind) => state[kind] !== Boolean(this.you[kind]))) {
      this.send({ type: 'media_state', ...state });
    }
  }

  raiseHand() {
    this.send({ type: 'raise_hand' });
  }

  /** Lowers our own hand, or (hosts) participant `id`'s. */
  lowerHand(id) {
    this.send(id && id !== this.you.id ? { type: 'lower_hand', participant: id } : { type: 'lower_hand' });
  }

  sendChat(text) {
    this.send({ type: 'chat', text });
  }

  /** A host action of protocol.md's table, e.g. act('mute', {participant: 'p3'}). */
  act(type, fields = {}) {
    // Our own "end for everyone": the end screen then says we did it, not "the teacher".
    if (type === 'end_room') this.endedByUs = true;
    this.send({ type, ...fields });
  }

  /**
   * Leaves on purpose (the Leave button): the seat and its resume token are gone, and the
   * session too (the next person at a shared computer must not inherit it).
   */
  leave() {
    if (this.ended) return;
    this.record('out', { type: 'leave' });
    forgetResume(this.roomId);
    forgetSession(this.roomId);
    this.link.leave();
    this.end({ kind: 'left' });
  }

  /**
   * The page is being unloaded (`pagehide`): the tab closes or reloads, and the page
   * cannot tell which. The server keeps the seat for a few seconds (`may_return`), so
   * a reload resumes it; the token stays in sessionStorage for that.
   */
  unload() {
    if (this.ended) return;
    this.record('out', { type: 'leave', may_return: true });
    this.link.leave({ mayReturn: true });
    // Only the goodbye: the browser closes the connections, the camera and the page itself.
    // Tearing them down here, and drawing the end screen, held a reload's next page back by
    // a quarter of a second on an idle laptop and by seconds on a busy one.
    this.ended = true;
    clearTimeout(this.lostTimer);
    window.removeEventListener('online', this.handleOnline);
  }


  end(info) {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.lostTimer);
    window.removeEventListener('online', this.handleOnline);
    // The seat is gone for good: a reload must not try to resume it.
    if (info.kind === 'ended' || (info.kind === 'error' && info.code !== 'connect')) forgetResume(this.roomId);
    if (this.rtc) this.rtc.close();
    this.view.stop();
    this.link.close();
    // Also stops the camera if getUserMedia is still pending when we end.
    Promise.resolve(this.mediaReady).then(() => this.media.stop());
    this.grid.clear();
    this.emit('ended', info);
  }

  // ---- for tests and diagnostics ----

  get publishPc() {
    return this.rtc ? this.rtc.publishPc : null;
  }

  get subscribePc() {
    return this.rtc ? this.rtc.subscribePc : null;
  }

  stats() {
    return this.rtc ? this.rtc.inboundStats() : Promise.resolve({});
  }
}
