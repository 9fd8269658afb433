// The two WebRTC connections of one participant (docs/protocol.md, "Every participant
// has two WebRTC peer connections"):
//
// - publish: created here, we always offer. Our microphone and camera go up to the SFU
//   on `sendonly` transceivers.
// - subscribe: created when the first `subscribe_offer` arrives, the server always
//   offers. Each offer lists which participant every active m-line carries; after
//   applying one we re-map all receivers (reconcile), so a renegotiation that adds,
//   stops or reassigns m-lines needs no special case.
//
// This module knows nothing about the page: it reports remote media through
// `onremotetracks(map)` where map is participant id -> [MediaStreamTrack], always the
// complete current picture.

const SOURCE_OF_KIND = { audio: 'microphone', video: 'camera' };

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
    // Candidates found before `publish` went out wait here, so the server never sees a
    // candidate for a connection it does not know yet.
    this.publishSent = false;
    this.pendingCandidates = [];
    this.onremotetracks = () => {};
    this.onfailure = () => {};
    this.onstatechange = () => {};
  }

  // ---- publish connection ----

  /** Offers our local tracks to the SFU. Does nothing without tracks. */
  async publish(tracks) {
    if (tracks.length === 0) return;
    const pc = new RTCPeerConnection(this.config);
    this.publishPc = pc;
    pc.onicecandidate = (event) => this.handlePublishCandidate(event.candidate);
    pc.onconnectionstatechange = () => this.handleStateChange('publish', pc);
    pc.oniceconnectionstatechange = () => this.onstatechange('publish', `ice ${pc.iceConnectionState}`);
    const stream = new MediaStream(tracks);
    for (const track of tracks) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ type: 'publish', sdp: pc.localDescription.sdp, tracks: this.publishedTracks(pc) });
    this.publishSent = true;
    for (const c of this.pendingCandidates.splice(0)) this.sendCandidate('publish', c);
  }

  publishedTracks(pc) {
    return pc.getTransceivers().map((tr) => ({
      mid: tr.mid,
      source: SOURCE_OF_KIND[tr.sender.track.kind],
    }));
  }

  handlePublishCandidate(candidate) {
    if (this.publishSent) this.sendCandidate('publish', candidate);
    else this.pendingCandidates.push(candidate);
  }

  async handlePublishAnswer(msg) {
    if (!this.publishPc) return;
    await this.publishPc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
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
      const participant = tr.mid !== null ? owner.get(tr.mid) : undefined;
      if (!participant || tr.currentDirection === 'stopped' || tr.stopped) continue;
      if (!byParticipant.has(participant)) byParticipant.set(participant, []);
      byParticipant.get(participant).push(tr.receiver.track);
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

  /** mid -> participant id for the subscribe connection, from the latest offer. */
  midOwners() {
    return new Map(this.subscribeTracks.map((tr) => [String(tr.mid), tr.participant]));
  }

  /**
   * Per remote participant: {videoFramesDecoded, audioPacketsReceived}, summed over
   * their inbound-rtp streams on the subscribe connection.
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
      const participant = owners.get(String(mid));
      if (!participant) continue;
      const entry = (result[participant] ??= { videoFramesDecoded: 0, audioPacketsReceived: 0 });
      if (s.kind === 'video') entry.videoFramesDecoded += s.framesDecoded || 0;
      if (s.kind === 'audio') entry.audioPacketsReceived += s.packetsReceived || 0;
    }
    return result;
  }

  close() {
    for (const pc of [this.publishPc, this.subscribePc]) if (pc) pc.close();
    this.onremotetracks = () => {};
    this.onfailure = () => {};
    this.onstatechange = () => {};
  }
}
