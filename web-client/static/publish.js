// The publish connection: our microphone, camera and screen share going up to the SFU
// (docs/protocol.md, `publish`). We always offer; the server always answers.
//
// One RTCPeerConnection for the whole stay, renegotiated, never replaced while it works:
// - its transceivers are never removed, so m-lines never move (JSEP; the server refuses an
//   offer that drops or reorders them). Each transceiver is a slot with the source it
//   carries now or last carried.
// - turning the screen share off makes its slot `inactive`; turning it on again reuses an
//   inactive video slot (`replaceTrack` + `sendonly`), and adds one only if none is free.
// - a new track for a source that is on (another camera) is `replaceTrack` alone: no
//   offer at all.
// - the camera goes out as simulcast layers, the microphone and screen as one encoding
//   (simulcast.js). A transceiver's encodings are fixed when it is added, so a slot is
//   reused only by a source with the same encodings (`layered`); the offer's `tracks`
//   carries each simulcast m-line's `layers` as the sender has them.
// - the server switches off encodings nobody takes (`encodings`); we set `active` on the
//   sender that carries that source on the connection the server answered last. The server
//   keeps that state per up track, and a track is new (every encoding on) whenever an
//   m-line starts sending a source: a new connection, a new slot, a slot that was inactive
//   or carried another source. Such a slot starts with every encoding on again, so a
//   screen share's slot switched off for nobody watching does not stay off for the next
//   share. What the server said holds across renegotiations and resumed sockets (set
//   again after each answer, should a browser reset it).
// - an ICE restart is an offer made with `iceRestart`, same m-lines, same directions. We
//   apply it (setLocalDescription) only when its answer is here: until then the browser
//   goes on checking the old path with the old credentials, so a path that comes back by
//   itself (a Wi-Fi blip) carries media at once instead of waiting for the restart's
//   answer and new candidates. Seen in an 8 s outage with the offer applied at once: the
//   subscribe connection was back on its old path 1 s after the link, the publish
//   connection, checking with credentials the server did not know yet, only 2.6 s later.
// - an offer the server refuses with `bad_sdp` is rolled back, and then, if it was a
//   renegotiation, we give up on this connection and offer a new one (another DTLS
//   fingerprint), which the server takes as a replacement with subscribers on the same
//   streams; the old one is closed only once the new one is answered.
//
// Negotiations run one after another (`chain`): an answer always belongs to the latest
// offer. An offer waits for its answer however long the socket is away: after a resume
// it is sent again (sendPending), after a failed resume the whole session is closed.

import { IceDriver } from './icewatch.js';
import { layersOf, sendEncodings, setActive, setLowestMaxBitrate, setMaxBitrate } from './simulcast.js';

const KIND = { microphone: 'audio', camera: 'video', screen: 'video' };

/** Whether `source` goes out as simulcast layers. */
function layered(source) {
  return Boolean(sendEncodings(source));
}

export class PublishConnection {
  /**
   * @param session {config, send(msg), expect(kind), onstate(text), onfailure(err)}
   */
  constructor(session) {
    this.session = session;
    this.pc = null;
    this.ice = null;
    // [{transceiver, kind, layered, source, active}] in m-line order; `source` is the last
    // one it carried, `layered` whether it was added with simulcast encodings, `active` the
    // server's latest `encodings` for it (rid -> on; null: all on, as a new track starts).
    this.slots = [];
    this.sources = [];
    this.chain = Promise.resolve();
    // The offer sent and not yet answered: {pc, sdp, tracks, iceRestart}.
    this.pending = null;
    // The latest answered offer's {pc, tracks}: what the server's `encodings` refer to. A
    // message that comes before the answer to an offer on a new connection is about the old.
    this.answered = null;
    // Parameter changes (getParameters, then setParameters) one after another.
    this.params = Promise.resolve();
    this.screenMaxBitrate = null;
    this.waiter = null;
    // Connections replaced by a newer one, closed once that one is answered.
    this.retired = [];
    this.closed = false;
  }

  // ---- what the Call asks for ----

  /** Sends `sources` ([{track, source}]) from now on; renegotiates only if m-lines change. */
  update(sources) {
    this.sources = sources;
    return this.enqueue(() => this.apply());
  }

  /** Restarts ICE on the current connection (the IceDriver decides when). */
  restartIce() {
    return this.enqueue(async () => {
      try {
        // An ICE restart of a connection that was never answered has nothing to restart.
        if (this.pc && this.pc.currentRemoteDescription) await this.negotiate({ iceRestart: true });
      } finally {
        if (this.ice) this.ice.handleNegotiated();
      }
    });
  }

  enqueue(step) {
    this.chain = this.chain.then(() => (this.closed ? null : step()))
      .catch((err) => this.session.onfailure(err));
    return this.chain;
  }

  // ---- the server's side ----

  handleAnswer(msg) {
    if (!this.waiter) return;
    this.answered = { pc: this.pending.pc, tracks: this.pending.tracks };
    this.waiter({ answer: msg });
  }

  /**
   * `encodings` (protocol.md): which of `source`'s encodings anybody takes, [{rid, active}].
   * Ignored if that source's m-line no longer carries it, or the connection it is about has
   * been replaced: the server's track there is new, and starts with every encoding on.
   */
  handleEncodings(source, encodings) {
    const answered = this.answered;
    if (!answered || answered.pc !== this.pc || !Array.isArray(encodings)) return;
    const track = answered.tracks.find((tr) => tr.source === source);
    const slot = track && this.slots.find((s) => s.transceiver.mid === track.mid);
    if (!slot || slot.source !== source || slot.transceiver.direction === 'inactive') return;
    const valid = encodings.filter((e) => e && typeof e.active === 'boolean');
    slot.active = new Map(valid.map((e) => [typeof e.rid === 'string' ? e.rid : '', e.active]));
    this.setActive(slot);
  }

  /**
   * `screen_bitrate` (protocol.md): send the screen share at no more than `maxBitrate` bit/s
   * (null: as the browser likes). A share started anew starts uncapped, as the server's
   * track for it does.
   */
  handleScreenBitrate(maxBitrate) {
    this.screenMaxBitrate = Number.isFinite(maxBitrate) && maxBitrate > 0 ? maxBitrate : null;
    const slot = this.slots.find((s) => s.source === 'screen' && s.transceiver.direction !== 'inactive');
    if (slot) this.setMaxBitrate(slot);
  }

  /**
   * `camera_bitrate` (protocol.md): send the camera's lowest encoding at no more than
   * `maxBitrate` bit/s (null: at its own cap again). A camera on a new transceiver starts at
   * its own caps, as the server's track for it does.
   */
  handleCameraBitrate(maxBitrate) {
    const slot = this.slots.find((s) => s.source === 'camera' && s.transceiver.direction !== 'inactive');
    if (!slot) return;
    const { sender } = slot.transceiver;
    this.params = this.params
      .then(() => (this.closed ? false : setLowestMaxBitrate(sender, maxBitrate)))
      .catch((err) => console.warn('aula: could not cap the camera', err && err.message));
  }

  /** A slot that starts sending `source` anew: no cap of the server's on it. */
  uncap(slot, source) {
    if (source === 'screen') {
      this.screenMaxBitrate = null;
      this.setMaxBitrate(slot);
    } else if (source === 'camera') {
      const { sender } = slot.transceiver;
      this.params = this.params
        .then(() => (this.closed ? false : setLowestMaxBitrate(sender, null)))
        .catch((err) => console.warn('aula: could not lift the camera cap', err && err.message));
    }
  }

  setMaxBitrate(slot) {
    const { sender } = slot.transceiver;
    this.params = this.params
      .then(() => (this.closed ? false : setMaxBitrate(sender, this.screenMaxBitrate)))
      .catch((err) => console.warn('aula: could not cap the screen share', err && err.message));
    return this.params;
  }

  /** An `error` answered our latest `publish`. */
  handleRefused(code) {
    if (this.waiter) this.waiter({ refused: code });
  }

  get waiting() {
    return Boolean(this.waiter);
  }

  /** Signaling went away or came back (a resumed session). */
  handleSignaling(up) {
    // protocol.md, `resume`: the client sends again a `publish` that had no answer.
    if (up && this.pending) this.sendPending();
    if (this.ice) this.ice.handleSignaling(up, { restarting: Boolean(up && this.pending && this.pending.iceRestart) });
  }

  handleOnline() {
    if (this.ice) this.ice.handleOnline();
  }

  // ---- negotiation ----

  /** Brings the slots in line with `this.sources`; offers if an m-line must change. */
  async apply() {
    if (!this.pc) {
      if (this.sources.length === 0) return;
      this.createPc();
    }
    const used = new Set();
    for (const { track, source } of this.sources) {
      const free = (s) => !used.has(s) && s.kind === KIND[source] && s.layered === layered(source);
      const slot = this.slots.find((s) => free(s) && s.source === source)
        || this.slots.find((s) => free(s) && s.transceiver.direction === 'inactive')
        || this.addSlot(track, source);
      used.add(slot);
      // Sending a source anew: the server starts a new track, all encodings on and
      // uncapped; so does the page (a reused m-line keeps its sender's parameters).
      if (slot.source !== source || slot.transceiver.currentDirection !== 'sendonly') {
        slot.active = null;
        this.setActive(slot);
        this.uncap(slot, source);
      }
      slot.source = source;
      if (slot.transceiver.sender.track !== track) await slot.transceiver.sender.replaceTrack(track);
      slot.transceiver.direction = 'sendonly';
    }
    for (const slot of this.slots.filter((s) => !used.has(s) && s.transceiver.direction !== 'inactive')) {
      await slot.transceiver.sender.replaceTrack(null);
      slot.transceiver.direction = 'inactive';
    }
    const changed = this.slots.some((s) => s.transceiver.currentDirection !== s.transceiver.direction);
    if (changed) await this.negotiate({ iceRestart: false });
  }

  addSlot(track, source) {
    const init = { direction: 'sendonly', streams: [this.stream] };
    const encodings = sendEncodings(source);
    let transceiver;
    try {
      transceiver = this.pc.addTransceiver(track, encodings ? { ...init, sendEncodings: encodings } : init);
    } catch (err) {
      // A browser that refuses these encodings sends the source as one (protocol.md: a
      // track without `layers` is one layer).
      console.info('aula: no simulcast for', source, err && err.message);
      transceiver = this.pc.addTransceiver(track, init);
    }
    const slot = { transceiver, kind: KIND[source], layered: layered(source), source, active: null };
    this.slots.push(slot);
    return slot;
  }

  createPc() {
    const pc = new RTCPeerConnection(this.session.config);
    this.pc = pc;
    this.slots = [];
    this.stream = new MediaStream();
    if (this.ice) this.ice.stop();
    this.ice = new IceDriver(pc, () => this.restartIce(), (state) => this.session.onstate(`ice ${state}`));
    pc.onicecandidate = (event) => {
      if (this.pc !== pc) return;
      // A null candidate means gathering finished; the protocol's form of that is "".
      const candidate = event.candidate ? event.candidate.candidate : '';
      this.session.send({ type: 'candidate', pc: 'publish', candidate });
    };
    pc.onconnectionstatechange = () => this.session.onstate(pc.connectionState);
    return pc;
  }

  /** mid -> source of every m-line, as `publish` lists them, with a simulcast one's layers. */
  trackList() {
    return this.slots
      .filter((s) => s.transceiver.mid !== null)
      .map((s) => {
        const { mid, sender } = s.transceiver;
        const layers = s.layered ? layersOf(sender, sender.track) : null;
        return layers ? { mid, source: s.source, layers } : { mid, source: s.source };
      });
  }

  /**
   * One offer and its answer (or refusal) on the current connection. An ICE restart's
   * offer is applied only with its answer (see the top of this file); it changes no
   * m-line, so its mids are known before.
   */
  async negotiate({ iceRestart }) {
    const { pc } = this;
    const offer = await pc.createOffer({ iceRestart });
    if (!iceRestart) await pc.setLocalDescription(offer);
    this.pending = {
      pc, sdp: iceRestart ? offer.sdp : pc.localDescription.sdp, tracks: this.trackList(), iceRestart,
    };
    const result = await new Promise((resolve) => {
      this.waiter = resolve;
      this.sendPending();
    });
    this.waiter = null;
    this.pending = null;
    if (result.closed || this.pc !== pc) return;
    if (result.answer) {
      try {
        if (iceRestart) await pc.setLocalDescription(offer);
        await pc.setRemoteDescription({ type: 'answer', sdp: result.answer.sdp });
        this.retireOld();
        for (const slot of this.slots.filter((s) => s.active)) this.setActive(slot);
        return;
      } catch (err) {
        console.warn('aula: the publish answer did not apply', err && err.message);
        result.refused = 'bad_sdp';
      }
    }
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
    // The server kept the connection as it was. A renegotiation it cannot take is tried
    // on a new connection; a first offer it cannot take would fail the same way again.
    if (result.refused === 'bad_sdp' && pc.currentRemoteDescription) await this.replace();
    else if (result.refused === 'bad_sdp') throw new Error('the server refused the publish offer');
  }

  /**
   * Sets `slot`'s encodings on or off as `slot.active` says when its turn comes (a later
   * `encodings` overrides an earlier one still waiting; nothing changes if all agree).
   */
  setActive(slot) {
    const { sender } = slot.transceiver;
    this.params = this.params
      .then(() => (this.closed ? false : setActive(sender, slot.active)))
      .catch((err) => console.warn('aula: could not switch encodings on or off', err && err.message));
    return this.params;
  }

  sendPending() {
    const { sdp, tracks } = this.pending;
    this.session.send({ type: 'publish', sdp, tracks });
    this.session.expect('publish');
  }

  /** Offers the current sources on a new connection; the old one goes once it is answered. */
  async replace() {
    console.info('aula: publishing on a new connection');
    if (this.pc) this.retired.push(this.pc);
    this.pc = null;
    await this.apply();
  }

  retireOld() {
    for (const old of this.retired) old.close();
    this.retired = [];
  }

  close() {
    this.closed = true;
    if (this.waiter) this.waiter({ closed: true });
    if (this.ice) this.ice.stop();
    for (const pc of [this.pc, ...this.retired]) if (pc) pc.close();
    this.retired = [];
  }
}
