// One stay in a room: from pressing "Join" to leaving (or being thrown out).
//
// A Call owns the WebSocket (Signaling), the two peer connections (RtcSession), the
// camera, microphone and screen (LocalMedia) and the tiles (TileGrid), and keeps what
// the server told us about the room: `you`, `room`, `settings`, `members` (everyone
// else admitted, id -> participant object), `waiting` (the lobby, hosts only), `chat`
// and `speakers`. It is used once; rejoining makes a new Call.
//
// The page listens with call.on(event, fn). Events and their argument:
//   lobby(msg)          we wait in the lobby
//   joined(msg)         we are in; show the call screen
//   refused({code, message})  the server refused the join but kept the socket open
//                       (bad_name, bad_message); the page may call join(name) again
//   ended({kind, code, message, reason})  kind: 'left' | 'error' | 'lost' | 'ended'
//   media(state)        what we send changed: {audio, video, screen}
//   members()           someone joined, left, or changed (role, media, hand)
//   self(you)           the server changed our own participant object (role, hand)
//   settings(settings)  the room's settings changed
//   waiting({waiting, arrived})  the lobby changed (hosts); `arrived`: new ids
//   link(secret)        the participant secret (on joined, host_info, link_renewed)
//   chat(message)       a chat message arrived (history comes with `joined`)
//   speakers({speaking, dominant})
//   moderated({action, by})   a host (or a settings change) switched something off
//   refusal({code, message, request, key})  the server answered a request with an
//                       error that keeps the socket open; `request` is the type of the
//                       request it answers, `key` the i18n key to show
//   notice(key)         a non-fatal problem worth telling the user (i18n key)

import { Signaling, PROTOCOL_VERSION } from './signaling.js';
import { RtcSession } from './rtc.js';
import { LocalMedia } from './media.js';
import { rememberSession, sessionFor } from './store.js';

// Errors after which the server closes the socket (protocol.md, "error" table).
const CLOSING_ERRORS = new Set([
  'too_large', 'unsupported_version', 'unknown_room', 'bad_secret', 'room_full', 'server_busy',
  'room_locked', 'denied', 'removed',
]);
// Errors that answer a `publish` offer.
const PUBLISH_ERRORS = new Set(['too_many_tracks', 'bad_sdp']);
const LOG_LIMIT = 300;
const CHAT_LIMIT = 500;
const MEDIA_SETTING = { audio: 'unmute', video: 'video', screen: 'screen' };

export class Call {
  constructor({ roomId, secret, name, grid }) {
    Object.assign(this, { roomId, secret, name, grid });
    this.signaling = new Signaling();
    this.media = new LocalMedia();
    this.rtc = null;
    this.you = null;
    this.room = null;
    this.settings = {};
    this.members = new Map();
    this.waiting = [];
    this.chat = [];
    this.speakers = { speaking: [], dominant: null };
    this.participantSecret = null;
    this.ended = false;
    // True after a refused join, until join() sends a corrected one on the same socket.
    this.refused = false;
    // The latest request a `forbidden` could answer (the server answers in order).
    this.lastRequest = null;
    this.remoteTracks = new Map();
    this.log = [];
    this.listeners = new Map();
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
  async start() {
    this.mediaReady = this.media.acquire();
    this.signaling.onmessage = (msg) => this.handleMessage(msg);
    this.signaling.onclose = (info) => this.handleClose(info);
    try {
      await this.signaling.open();
    } catch {
      this.end({ kind: 'error', code: 'connect' });
      return;
    }
    this.join(this.name);
  }

  /** Sends `join`: first from start(), then again with a corrected name after a refusal. */
  join(name) {
    this.name = name;
    this.refused = false;
    const msg = { type: 'join', v: PROTOCOL_VERSION, room: this.roomId, secret: this.secret, name };
    const session = sessionFor(this.roomId);
    if (session) msg.session = session;
    this.send(msg);
  }

  send(msg) {
    this.record('out', msg);
    if (msg.type !== 'candidate' && msg.type !== 'subscribe_answer') this.lastRequest = msg;
    this.signaling.send(msg);
  }

  /** Keeps a short history of message types (never SDP, secrets or chat text). */
  record(dir, msg) {
    const entry = { at: Math.round(performance.now()), dir, type: msg.type };
    if (msg.type === 'error') Object.assign(entry, { code: msg.code, message: msg.message });
    if (msg.type === 'participant_left') entry.id = msg.id;
    if (msg.participant && msg.participant.id) entry.id = msg.participant.id;
    if (typeof msg.participant === 'string') entry.participant = msg.participant;
    if (msg.type === 'subscribe_offer' || msg.type === 'publish') entry.tracks = msg.tracks;
    if (msg.type === 'moderated') Object.assign(entry, { action: msg.action, by: msg.by });
    if (msg.type === 'media_state') Object.assign(entry, { audio: msg.audio, video: msg.video, screen: msg.screen });
    this.log.push(entry);
    if (this.log.length > LOG_LIMIT) this.log.shift();
  }

  handleMessage(msg) {
    this.record('in', msg);
    if (this.ended) return;
    const handler = {
      lobby: () => this.handleLobby(msg),
      joined: () => this.handleJoined(msg),
      participant_joined: () => this.handleParticipant(msg.participant),
      participant_updated: () => this.handleParticipant(msg.participant),
      participant_left: () => this.handleLeft(msg.id),
      settings_updated: () => this.handleSettings(msg.settings),
      moderated: () => this.handleModerated(msg),
      host_info: () => this.handleHostInfo(msg),
      lobby_updated: () => this.handleWaiting(msg.waiting),
      link_renewed: () => this.handleLink(msg.participant_secret),
      chat: () => this.handleChat(msg.message),
      speakers: () => this.handleSpeakers(msg),
      room_ended: () => this.end({ kind: 'ended', reason: msg.reason }),
      publish_answer: () => this.rtc && this.rtc.handlePublishAnswer(msg),
      subscribe_offer: () => this.rtc && this.rtc.handleSubscribeOffer(msg),
      error: () => this.handleError(msg),
    }[msg.type];
    if (handler) handler();
  }

  handleLobby(msg) {
    rememberSession(this.roomId, msg.session);
    this.room = msg.room || null;
    this.emit('lobby', msg);
  }

  async handleJoined(msg) {
    rememberSession(this.roomId, msg.session);
    this.you = msg.you;
    this.room = msg.room || null;
    this.settings = msg.settings || {};
    this.chat = Array.isArray(msg.chat) ? msg.chat.slice(-CHAT_LIMIT) : [];
    this.rtc = new RtcSession((m) => this.send(m), Array.isArray(msg.ice_servers) ? msg.ice_servers : []);
    this.rtc.onremotetracks = (map) => this.handleRemoteTracks(map);
    this.rtc.onfailure = (which, err) => this.handleRtcFailure(which, err);
    this.rtc.onstatechange = (which, state) => this.record('pc', { type: `${which} ${state}` });
    for (const p of msg.participants || []) this.upsertMember(p);
    this.emit('joined', msg);
    this.emit('members');
    if (this.isHost) this.handleHostInfo(msg);
    await this.mediaReady;
    if (this.ended) return;
    // The microphone and camera start as the server holds them (a student joins a class muted).
    this.media.setEnabled('audio', this.you.audio);
    this.media.setEnabled('video', this.you.video);
    this.grid.showSelf(this.you.name, this.media.stream, this.media.state());
    this.grid.setSelfState(this.you);
    this.emit('media', this.media.state());
    const missing = this.media.missing();
    if (missing) this.emit('notice', `notice.${missing}`);
    this.sendMediaStateIfChanged();
    this.rtc.publish(this.media.tracks());
  }

  upsertMember(p) {
    this.members.set(p.id, p);
    this.grid.upsert(p);
  }

  handleParticipant(p) {
    if (!p || !p.id) return;
    if (this.you && p.id === this.you.id) {
      const wasHost = this.isHost;
      this.you = { ...this.you, ...p };
      this.grid.setSelfState(this.you);
      if (wasHost && !this.isHost) {
        this.waiting = [];
        this.participantSecret = null;
        this.emit('link', null);
        this.emit('waiting', { waiting: [], arrived: [] });
      }
      this.emit('self', this.you);
      return;
    }
    this.upsertMember(p);
    // Media for a participant can arrive before the message that announces them.
    this.grid.setTracks(this.remoteTracks);
    this.emit('members');
  }

  handleLeft(id) {
    this.members.delete(id);
    this.grid.remove(id);
    this.emit('members');
  }

  handleSettings(settings) {
    this.settings = settings || {};
    this.emit('settings', this.settings);
  }

  handleHostInfo(msg) {
    this.handleLink(msg.participant_secret);
    this.handleWaiting(msg.waiting || []);
  }

  handleWaiting(waiting) {
    const before = new Set(this.waiting.map((w) => w.id));
    this.waiting = Array.isArray(waiting) ? waiting : [];
    const arrived = this.waiting.filter((w) => !before.has(w.id)).map((w) => w.id);
    this.emit('waiting', { waiting: this.waiting, arrived });
  }

  handleLink(secret) {
    if (typeof secret !== 'string') return;
    this.participantSecret = secret;
    this.emit('link', secret);
  }

  handleChat(message) {
    if (!message) return;
    this.chat.push(message);
    if (this.chat.length > CHAT_LIMIT) this.chat.shift();
    this.emit('chat', message);
  }

  handleSpeakers(msg) {
    this.speakers = {
      speaking: Array.isArray(msg.speaking) ? msg.speaking : [],
      dominant: msg.dominant ?? null,
    };
    this.grid.setSpeaking(this.speakers.speaking, this.you && this.you.id);
    this.emit('speakers', this.speakers);
  }

  /** The server has already stopped forwarding; we turn the source off to match. */
  handleModerated(msg) {
    if (msg.action === 'mute') this.setLocal('audio', false);
    if (msg.action === 'stop_video') this.setLocal('video', false);
    if (msg.action === 'stop_screen') this.stopScreen({ tell: false });
    this.emit('moderated', { action: msg.action, by: msg.by ?? null });
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
    console.warn('aula: server error', msg.code, msg.message);
    // Closing errors: the close event that follows ends the call with this error.
    if (CLOSING_ERRORS.has(msg.code)) return;
    if (!this.you && !this.room) {
      // Before `joined` or `lobby` only `join` has been sent, so this refuses it
      // (bad_name; the form checks names first, so it is rare). The socket stays open.
      this.refused = true;
      this.emit('refused', { code: msg.code, message: msg.message });
      return;
    }
    const request = this.lastRequest || {};
    if (PUBLISH_ERRORS.has(msg.code) || (msg.code === 'forbidden' && request.type === 'publish')) {
      if (this.rtc) this.rtc.handlePublishRefused();
    }
    let key = `error.${msg.code}`;
    if (msg.code === 'forbidden' && request.type === 'media_state') key = `error.forbidden.${this.revertRefused(request)}`;
    if (msg.code === 'forbidden' && request.type === 'publish') {
      this.stopScreen({ tell: false });
      key = 'error.forbidden.screen';
    }
    if (msg.code === 'forbidden' && request.type === 'chat') key = 'error.forbidden.chat';
    this.emit('refusal', { code: msg.code, message: msg.message, request: request.type || null, key });
  }

  /**
   * A `media_state` was refused: what it tried to turn on (and the server does not
   * hold on) goes back off. Returns the kind that was refused, for the notice.
   */
  revertRefused(request) {
    const refused = ['screen', 'video', 'audio'].filter((kind) => request[kind] && !this.you[kind]);
    for (const kind of refused) {
      if (kind === 'screen') this.stopScreen({ tell: false });
      else this.setLocal(kind, false);
    }
    return refused[0] || 'audio';
  }

  handleClose(info) {
    if (this.ended) return;
    if (!info.opened) {
      this.end({ kind: 'error', code: 'connect' });
    } else if (info.error && (CLOSING_ERRORS.has(info.error.code) || info.code >= 4000)) {
      this.end({ kind: 'error', code: info.error.code, message: info.error.message });
    } else {
      this.end({ kind: 'lost' });
    }
  }

  // ---- user actions ----

  /** Microphone ('audio') or camera ('video') on/off; refused locally if not allowed. */
  toggle(kind) {
    const on = !this.media.state()[kind];
    if (on && !this.mayUse(kind)) {
      this.emit('notice', `error.forbidden.${kind}`);
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

  /** Starts sharing the screen: a new publish with a third track, then media_state. */
  async startScreen() {
    if (this.media.screenTrack || !this.rtc) return;
    if (!this.mayUse('screen')) {
      this.emit('notice', 'error.forbidden.screen');
      return;
    }
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

  /** Stops sharing: re-publishes without the screen; `tell` sends media_state. */
  stopScreen({ tell }) {
    if (!this.media.stopScreen()) return;
    this.grid.showSelfScreen(null);
    this.emit('media', this.media.state());
    if (tell) this.send({ type: 'media_state', ...this.media.state() });
    if (this.rtc && !this.ended) this.rtc.publish(this.media.tracks());
  }

  sendMediaStateIfChanged() {
    const state = this.media.state();
    if (state.audio !== this.you.audio || state.video !== this.you.video) {
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
    this.send({ type, ...fields });
  }

  /** Leaves on purpose (button or closing the tab). */
  leave() {
    if (this.ended) return;
    this.record('out', { type: 'leave' });
    this.signaling.leave();
    this.end({ kind: 'left' });
  }

  end(info) {
    if (this.ended) return;
    this.ended = true;
    if (this.rtc) this.rtc.close();
    this.signaling.close();
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
