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

const KIND = { microphone: 'audio', camera: 'video', screen: 'video' };

export class PublishConnection {
  /**
   * @param session {config, send(msg), expect(kind), onstate(text), onfailure(err)}
   */
  constructor(session) {
    this.session = session;
    this.pc = null;
    this.ice = null;
    // [{transceiver, kind, source}] in m-line order; `source` is the last one it carried.
    this.slots = [];
    this.sources = [];
    this.chain = Promise.resolve();
    // The offer sent and not yet answered: {sdp, tracks}.
    this.pending = null;
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
    if (this.waiter) this.waiter({ answer: msg });
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
      const free = (s) => !used.has(s) && s.kind === KIND[source];
      const slot = this.slots.find((s) => free(s) && s.source === source)
        || this.slots.find((s) => free(s) && s.transceiver.direction === 'inactive')
        || this.addSlot(track, source);
      used.add(slot);
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
    const transceiver = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.stream] });
    const slot = { transceiver, kind: KIND[source], source };
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

  /** mid -> source of every m-line, as `publish` lists them. */
  trackList() {
    return this.slots
      .filter((s) => s.transceiver.mid !== null)
      .map((s) => ({ mid: s.transceiver.mid, source: s.source }));
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
    this.pending = { sdp: iceRestart ? offer.sdp : pc.localDescription.sdp, tracks: this.trackList(), iceRestart };
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
