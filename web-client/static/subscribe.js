// The subscribe connection: everyone else's media coming down from the SFU
// (docs/protocol.md, `subscribe_offer`). The server always offers; we answer.
//
// - Created by the first `subscribe_offer`; offers are applied strictly in order.
// - Each offer lists which participant and source every active m-line carries. An m-line
//   is reused for another participant's stream once its owner has gone, so media is
//   mapped to participants by `mid` from the latest offer only (`tracks`), never by msid;
//   after every offer rtc.js re-maps all receivers.
// - An offer that does not apply is rolled back and reported with `subscribe_failed`;
//   the server then starts over with an offer marked `reset`, which we answer on a new
//   connection after closing this one.
// - An ICE restart is asked for with `ice_restart`; the answer is an ordinary offer with
//   new ICE credentials and the same m-lines.

import { IceDriver } from './icewatch.js';

// protocol.md, `subscribe_failed`: the reason is for the server's log, at most 200 characters.
const REASON_LIMIT = 200;

export class SubscribeConnection {
  /**
   * @param session {config, send(msg), expect(kind), onstate(text), onfailure(err)}
   * @param onchange called whenever the m-lines or their owners may have changed
   */
  constructor(session, onchange) {
    this.session = session;
    this.onchange = onchange;
    this.pc = null;
    this.ice = null;
    // The latest offer's `tracks`: [{mid, participant, kind, source}].
    this.tracks = [];
    this.chain = Promise.resolve();
    this.closed = false;
  }

  /** Queues a `subscribe_offer`; offers are answered strictly in order. */
  handleOffer(msg) {
    this.chain = this.chain.then(() => (this.closed ? null : this.answer(msg)))
      .catch((err) => this.session.onfailure(err));
    return this.chain;
  }

  async answer(msg) {
    // A new offer: our word on the one before has reached the server.
    this.sent = null;
    if (msg.reset && this.pc) this.dropPc();
    const pc = this.pc || this.createPc();
    const previous = this.tracks;
    this.tracks = Array.isArray(msg.tracks) ? msg.tracks : [];
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (err) {
      this.tracks = previous;
      if (pc.signalingState === 'have-remote-offer') {
        await pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      const reason = String((err && err.message) || err).slice(0, REASON_LIMIT);
      console.warn('aula: a subscribe offer did not apply:', reason);
      this.sent = { type: 'subscribe_failed', reason };
      this.session.send(this.sent);
      this.onchange();
      return;
    }
    this.sent = { type: 'subscribe_answer', sdp: pc.localDescription.sdp };
    this.session.send(this.sent);
    if (this.ice) this.ice.handleNegotiated();
    this.onchange();
  }

  createPc() {
    const pc = new RTCPeerConnection(this.session.config);
    this.pc = pc;
    this.ice = new IceDriver(pc, () => this.restartIce(), (state) => this.session.onstate(`ice ${state}`));
    pc.onicecandidate = (event) => {
      if (this.pc !== pc) return;
      const candidate = event.candidate ? event.candidate.candidate : '';
      this.session.send({ type: 'candidate', pc: 'subscribe', candidate });
    };
    pc.onconnectionstatechange = () => this.session.onstate(pc.connectionState);
    // ontrack fires inside setRemoteDescription, before the answer exists; the full
    // re-map after the answer covers it, this one only makes new media show up sooner.
    pc.ontrack = () => this.onchange();
    return pc;
  }

  dropPc() {
    this.ice.stop();
    this.pc.close();
    this.pc = null;
    this.ice = null;
    this.tracks = [];
    this.onchange();
  }

  /** The latest `subscribe_answer` or `subscribe_failed` sent (rtc.js, droppedRequest). */
  lastSent(type) {
    return this.sent && this.sent.type === type ? this.sent : null;
  }

  /**
   * `msg` again, if it is still our latest word on the latest offer: a newer offer since
   * is answered on its own. An answer the server has already changes nothing.
   */
  resend(type, msg) {
    if (this.closed || this.sent !== msg) return;
    this.session.send(msg);
  }

  /** Asks the server for an offer with new ICE credentials (the IceDriver decides when). */
  restartIce() {
    this.session.send({ type: 'ice_restart', pc: 'subscribe' });
    this.session.expect('ice_restart');
  }

  handleSignaling(up) {
    if (this.ice) this.ice.handleSignaling(up);
  }

  handleOnline() {
    if (this.ice) this.ice.handleOnline();
  }

  /** The server refused our `ice_restart` (rate_limited): the watch tries again later. */
  handleRestartRefused() {
    if (this.ice) this.ice.handleNegotiated();
  }

  /** mid -> {participant, kind, source}, from the latest offer. */
  owners() {
    return new Map(this.tracks.map((tr) => [String(tr.mid), tr]));
  }

  close() {
    this.closed = true;
    if (this.ice) this.ice.stop();
    if (this.pc) this.pc.close();
  }
}
