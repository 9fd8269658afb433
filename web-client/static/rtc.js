// The two WebRTC connections of one participant (docs/protocol.md, "Every participant
// has two WebRTC peer connections"):
//
// - publish: created here, we always offer. Our microphone, camera and screen share go
//   up to the SFU on `sendonly` transceivers. Changing what we send (adding or removing
//   the screen) is a new `publish` on a new connection, which replaces the old one
//   (docs/protocol.md, `publish`); the old connection is closed once the new answer is
//   applied, so media keeps flowing meanwhile. Publishes run one after another: an
//   answer always belongs to the latest offer.
// - subscribe: created when the first `subscribe_offer` arrives, the server always
//   offers. Each offer lists which participant and source every active m-line carries;
//   after applying one we re-map all receivers (reconcile), so a renegotiation that
//   adds, stops or reassigns m-lines needs no special case.
//
// This module knows nothing about the page: it reports remote media through
// `onremotetracks(map)` where map is participant id -> [{track, kind, source}], always
// the complete current picture.

// How long a publish waits for its answer before the next one may go out anyway.
const PUBLISH_ANSWER_TIMEOUT_MS = 15000;

export class RtcSession {
  /**
   * @param send   function(msg) that sends a protocol message
   * @param iceServers from `joined.ice_servers` if the server sent any
   */
  constructor(send, iceServers = []) {
    this.send = send;
    this.config = { iceServers, bundlePolicy: 'max-bundle' };
    this.publishPc = null;
    this.subscribePc = null;
    this.subscribeTracks = [];
    // Subscribe offers are applied one after another; each waits for the previous.
    this.subscribeChain = Promise.resolve();
    // Publishes too: each waits until the previous one has its answer.
    this.publishChain = Promise.resolve();
    this.answerWaiter = null;
    this.closed = false;
    this.onremotetracks = () => {};
    this.onfailure = () => {};
    this.onstatechange = () => {};
  }

  // ---- publish connection ----

  /**
   * Offers `sources` ([{track, source}]) to the SFU on a new publish connection that
   * replaces the current one. With nothing to send, just closes the current one.
   */
  publish(sources) {
    this.publishChain = this.publishChain
      .then(() => this.publishNow(sources))
      .catch((err) => this.onfailure('publish', err));
    return this.publishChain;
  }

  async publishNow(sources) {
    if (this.closed) return;
    const old = this.publishPc;
    if (sources.length === 0) {
      if (old) old.close();
      this.publishPc = null;
      return;
    }
    const pc = new RTCPeerConnection(this.config);
    this.publishPc = pc;
    // Candidates found before `publish` went out wait, so the server never sees a
    // candidate for a connection it does not know yet.
    const pending = [];
    let sent = false;
    pc.onicecandidate = (event) => {
      if (sent && this.publishPc === pc) this.sendCandidate('publish', event.candidate);
      else if (!sent) pending.push(event.candidate);
    };
    pc.onconnectionstatechange = () => this.handleStateChange('publish', pc);
    pc.oniceconnectionstatechange = () => this.onstatechange('publish', `ice ${pc.iceConnectionState}`);
    const stream = new MediaStream(sources.map((s) => s.track));
    const tracks = sources.map(({ track, source }) => ({
      source, transceiver: pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] }),
    }));
    await pc.setLocalDescription(await pc.createOffer());
    const answered = this.waitForAnswer();
    this.send({
      type: 'publish',
      sdp: pc.localDescription.sdp,
      tracks: tracks.map(({ source, transceiver }) => ({ mid: transceiver.mid, source })),
    });
    sent = true;
    for (const c of pending) this.sendCandidate('publish', c);
    const answer = await answered;
    if (answer && this.publishPc === pc) await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    if (old) old.close();
  }

  /** Resolves with the next `publish_answer`, or null after a timeout. */
  waitForAnswer() {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.answerWaiter = null; resolve(null); }, PUBLISH_ANSWER_TIMEOUT_MS);
      this.answerWaiter = (msg) => { clearTimeout(timer); this.answerWaiter = null; resolve(msg); };
    });
  }

  /** A `publish_answer`: it belongs to the publish that is waiting for it. */
  handlePublishAnswer(msg) {
    if (this.answerWaiter) this.answerWaiter(msg);
    return this.publishChain;
  }

  /** The server refused the latest publish (an `error` answered it): stop waiting. */
  handlePublishRefused() {
    if (this.answerWaiter) this.answerWaiter(null);
  }

  // ---- subscribe connection ----

  /** Queues a `subscribe_offer`; offers are answered strictly in order. */
  handleSubscribeOffer(msg) {
    this.subscribeChain = this.subscribeChain
      .then(() => this.answerSubscribeOffer(msg))
      .catch((err) => this.onfailure('subscribe', err));
    return this.subscribeChain;
  }

  async answerSubscribeOffer(msg) {
    const pc = this.subscribePc || this.createSubscribePc();
    this.subscribeTracks = Array.isArray(msg.tracks) ? msg.tracks : [];
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.send({ type: 'subscribe_answer', sdp: pc.localDescription.sdp });
    this.reconcile();
  }

  createSubscribePc() {
    const pc = new RTCPeerConnection(this.config);
    this.subscribePc = pc;
    pc.onicecandidate = (event) => this.sendCandidate('subscribe', event.candidate);
    pc.onconnectionstatechange = () => this.handleStateChange('subscribe', pc);
    pc.oniceconnectionstatechange = () => this.onstatechange('subscribe', `ice ${pc.iceConnectionState}`);
    // ontrack fires inside setRemoteDescription, before the answer exists; the full
    // re-map after the answer covers it, this one only makes new media show up sooner.
    pc.ontrack = () => this.reconcile();
    return pc;
  }

  /** Recomputes participant -> tracks from the transceivers and the latest offer. */
  reconcile() {
    const owner = this.midOwners();
    const byParticipant = new Map();
    for (const tr of this.subscribePc ? this.subscribePc.getTransceivers() : []) {
      const info = tr.mid !== null ? owner.get(tr.mid) : undefined;
      if (!info || tr.currentDirection === 'stopped' || tr.stopped) continue;
      if (!byParticipant.has(info.participant)) byParticipant.set(info.participant, []);
      const { track } = tr.receiver;
      const source = info.source || (track.kind === 'audio' ? 'microphone' : 'camera');
      byParticipant.get(info.participant).push({ track, kind: track.kind, source });
    }
    this.onremotetracks(byParticipant);
  }

  // ---- both ----

  sendCandidate(pc, candidate) {
    // A null candidate means gathering finished; the protocol's form of that is "".
    this.send({ type: 'candidate', pc, candidate: candidate ? candidate.candidate : '' });
  }

  handleStateChange(which, pc) {
    this.onstatechange(which, pc.connectionState);
    if (pc.connectionState === 'failed') this.onfailure(which, new Error(`${which} connection failed`));
  }

  /** mid -> {participant, source} for the subscribe connection, from the latest offer. */
  midOwners() {
    return new Map(this.subscribeTracks.map((tr) => [String(tr.mid), tr]));
  }

  /**
   * Per remote participant: {videoFramesDecoded, audioPacketsReceived,
   * screenFramesDecoded}, summed over their inbound-rtp streams on the subscribe
   * connection (camera and screen counted apart).
   */
  async inboundStats() {
    const result = {};
    if (!this.subscribePc) return result;
    const owners = this.midOwners();
    const midOfTrack = new Map(
      this.subscribePc.getTransceivers().map((tr) => [tr.receiver.track.id, tr.mid]),
    );
    const report = await this.subscribePc.getStats();
    for (const s of report.values()) {
      if (s.type !== 'inbound-rtp') continue;
      const mid = s.mid ?? midOfTrack.get(s.trackIdentifier);
      const owner = owners.get(String(mid));
      if (!owner) continue;
      const entry = (result[owner.participant] ??= {
        videoFramesDecoded: 0, audioPacketsReceived: 0, screenFramesDecoded: 0,
      });
      if (s.kind === 'video' && owner.source === 'screen') entry.screenFramesDecoded += s.framesDecoded || 0;
      else if (s.kind === 'video') entry.videoFramesDecoded += s.framesDecoded || 0;
      if (s.kind === 'audio') entry.audioPacketsReceived += s.packetsReceived || 0;
    }
    return result;
  }

  close() {
    this.closed = true;
    if (this.answerWaiter) this.answerWaiter(null);
    for (const pc of [this.publishPc, this.subscribePc]) if (pc) pc.close();
    this.onremotetracks = () => {};
    this.onfailure = () => {};
    this.onstatechange = () => {};
  }
}
