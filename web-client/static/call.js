// One stay in a class: from pressing "Join" to leaving (or being thrown out).
//
// A Call owns the WebSocket (Signaling), the two peer connections (RtcSession), the
// camera and microphone (LocalMedia) and the tiles (TileGrid), and turns server
// messages into changes of those. It is used once; rejoining makes a new Call.
//
// The page hears from it through these callbacks:
//   onjoined(joinedMsg)        we are in; show the call screen
//   onrefused({code, message}) the server refused the join but kept the socket open
//                              (bad_name, bad_message); the page may call join(name) again
//   onended({kind, code, message})  kind: 'left' | 'error' | 'lost'; show an end screen
//   onmedia(state)             camera/microphone known: {audio, video} (false if missing)
//   onnotice(key)              a non-fatal problem worth telling the user (i18n key)

import { Signaling, PROTOCOL_VERSION } from './signaling.js';
import { RtcSession } from './rtc.js';
import { LocalMedia } from './media.js';

// Errors after which the server closes the socket (protocol.md, "error" table).
const CLOSING_ERRORS = new Set([
  'too_large', 'unsupported_version', 'unknown_room', 'bad_secret', 'room_full', 'server_busy',
]);
const LOG_LIMIT = 300;

export class Call {
  constructor({ roomId, secret, name, grid }) {
    Object.assign(this, { roomId, secret, name, grid });
    this.signaling = new Signaling();
    this.media = new LocalMedia();
    this.rtc = null;
    this.you = null;
    this.ended = false;
    // True after a refused join, until join() sends a corrected one on the same socket.
    this.refused = false;
    this.remoteTracks = new Map();
    this.log = [];
    this.onjoined = () => {};
    this.onrefused = () => {};
    this.onended = () => {};
    this.onmedia = () => {};
    this.onnotice = () => {};
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
    this.send({ type: 'join', v: PROTOCOL_VERSION, room: this.roomId, secret: this.secret, name });
  }

  send(msg) {
    this.record('out', msg);
    this.signaling.send(msg);
  }

  /** Keeps a short history of message types (never SDP or secrets) for diagnostics. */
  record(dir, msg) {
    const entry = { at: Math.round(performance.now()), dir, type: msg.type };
    if (msg.type === 'error') Object.assign(entry, { code: msg.code, message: msg.message });
    if (msg.type === 'participant_left') entry.id = msg.id;
    if (msg.participant && msg.participant.id) entry.id = msg.participant.id;
    if (msg.type === 'subscribe_offer') entry.tracks = msg.tracks;
    this.log.push(entry);
    if (this.log.length > LOG_LIMIT) this.log.shift();
  }

  handleMessage(msg) {
    this.record('in', msg);
    if (this.ended) return;
    const handler = {
      joined: () => this.handleJoined(msg),
      participant_joined: () => this.handleParticipant(msg.participant),
      participant_updated: () => this.handleParticipant(msg.participant),
      participant_left: () => this.grid.remove(msg.id),
      publish_answer: () => this.handlePublishAnswer(msg),
      subscribe_offer: () => this.rtc && this.rtc.handleSubscribeOffer(msg),
      error: () => this.handleError(msg),
    }[msg.type];
    if (handler) handler();
  }

  async handleJoined(msg) {
    this.you = msg.you;
    this.rtc = new RtcSession((m) => this.send(m), Array.isArray(msg.ice_servers) ? msg.ice_servers : []);
    this.rtc.onremotetracks = (map) => this.handleRemoteTracks(map);
    this.rtc.onfailure = (which, err) => this.handleRtcFailure(which, err);
    this.rtc.onstatechange = (which, state) => this.record('pc', { type: `${which} ${state}` });
    for (const p of msg.participants || []) this.grid.upsert(p);
    this.onjoined(msg);
    await this.mediaReady;
    if (this.ended) return;
    this.grid.showSelf(this.you.name, this.media.stream, this.media.state());
    this.onmedia(this.media.state());
    const missing = this.media.missing();
    if (missing) this.onnotice(`notice.${missing}`);
    this.sendMediaStateIfChanged();
    await this.rtc.publish(this.media.tracks()).catch((err) => this.handleRtcFailure('publish', err));
  }

  handleParticipant(p) {
    if (!p || (this.you && p.id === this.you.id)) return;
    this.grid.upsert(p);
    // Media for a participant can arrive before the message that announces them.
    this.grid.setTracks(this.remoteTracks);
  }

  handleRemoteTracks(map) {
    this.remoteTracks = map;
    this.grid.setTracks(map);
  }

  async handlePublishAnswer(msg) {
    await this.rtc.handlePublishAnswer(msg).catch((err) => this.handleRtcFailure('publish', err));
  }

  handleRtcFailure(which, err) {
    console.error(`aula: ${which} connection problem`, err);
    if (!this.ended) this.onnotice('error.media');
  }

  handleError(msg) {
    console.warn('aula: server error', msg.code, msg.message);
    // Closing errors: the close event that follows ends the call with this error.
    if (CLOSING_ERRORS.has(msg.code)) return;
    if (this.you) {
      this.onnotice(`error.${msg.code}`);
    } else {
      // Before `joined` only `join` has been sent, so this refuses it (bad_name; the
      // form checks names first, so it is rare). The socket stays open for another try.
      this.refused = true;
      this.onrefused({ code: msg.code, message: msg.message });
    }
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

  toggle(kind) {
    const state = this.media.toggle(kind);
    this.grid.setSelfMedia(state);
    this.send({ type: 'media_state', ...state });
    return state;
  }

  sendMediaStateIfChanged() {
    const state = this.media.state();
    if (state.audio !== this.you.audio || state.video !== this.you.video) {
      this.send({ type: 'media_state', ...state });
    }
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
    this.onended(info);
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
