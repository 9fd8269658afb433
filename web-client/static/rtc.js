// The two WebRTC connections of one participant (docs/protocol.md, "Every participant
// has two WebRTC peer connections"): publish.js (ours, up to the SFU; we offer) and
// subscribe.js (everyone else's, down from the SFU; the server offers). Both live as long
// as the participant does, through renegotiations, ICE restarts and resumed sockets
// (icewatch.js decides when a connection restarts ICE); a rejoin as a new participant
// closes this session and starts a new one.
//
// This module knows nothing about the page: it reports remote media through
// `onremotetracks(map)` where map is participant id -> [{track, kind, source}], always
// the complete current picture, recomputed from the transceivers and the latest offer's
// `tracks` whenever either changes.

import { PublishConnection } from './publish.js';
import { SubscribeConnection } from './subscribe.js';

export class RtcSession {
  /**
   * @param send   function(msg) that sends a protocol message
   * @param expect function(kind): `kind` was sent and is always answered (reconnect.js
   *               watches for the answer to tell a stalled socket)
   * @param iceServers from `joined.ice_servers` if the server sent any
   */
  constructor({ send, expect = () => {}, iceServers = [] }) {
    this.onremotetracks = () => {};
    this.onfailure = () => {};
    this.onstatechange = () => {};
    const session = (which) => ({
      config: { iceServers, bundlePolicy: 'max-bundle' },
      send,
      expect,
      onstate: (state) => this.onstatechange(which, state),
      onfailure: (err) => this.onfailure(which, err),
    });
    this.publisher = new PublishConnection(session('publish'));
    this.subscriber = new SubscribeConnection(session('subscribe'), () => this.reconcile());
    this.closed = false;
  }

  // ---- publish ----

  /** Sends `sources` ([{track, source}], in m-line order) from now on. */
  publish(sources) {
    return this.publisher.update(sources);
  }

  handlePublishAnswer(msg) {
    this.publisher.handleAnswer(msg);
  }

  /** An `error` answered our latest `publish` (bad_sdp, too_many_tracks, forbidden, rate_limited). */
  handlePublishRefused(code) {
    this.publisher.handleRefused(code);
  }

  /** `encodings`: switches `source`'s encodings on or off as the server says. */
  handleEncodings(source, encodings) {
    this.publisher.handleEncodings(source, encodings);
  }

  handleScreenBitrate(maxBitrate) {
    this.publisher.handleScreenBitrate(maxBitrate);
  }

  handleCameraBitrate(maxBitrate) {
    this.publisher.handleCameraBitrate(maxBitrate);
  }

  get publishWaiting() {
    return this.publisher.waiting;
  }

  /**
   * What the server dropped as `type` (`publish`, `subscribe_answer`, `subscribe_failed`)
   * for a full media queue (`server_busy`): the latest of that type, to send again with
   * `resendDropped` only if it is still the one to send.
   */
  droppedRequest(type) {
    if (type === 'publish') return this.publisher.pending;
    return this.subscriber.lastSent(type);
  }

  resendDropped(type, request) {
    if (!request) return;
    if (type === 'publish') {
      // Still unanswered: an answer since (or a newer offer) has replaced it.
      if (this.publisher.pending === request) this.publisher.sendPending();
    } else {
      this.subscriber.resend(type, request);
    }
  }

  // ---- subscribe ----

  handleSubscribeOffer(msg) {
    return this.subscriber.handleOffer(msg);
  }

  handleRestartRefused() {
    this.subscriber.handleRestartRefused();
  }

  /** Recomputes participant -> tracks from the transceivers and the latest offer. */
  reconcile() {
    const owner = this.subscriber.owners();
    const byParticipant = new Map();
    const pc = this.subscriber.pc;
    for (const tr of pc ? pc.getTransceivers() : []) {
      const info = tr.mid !== null ? owner.get(tr.mid) : undefined;
      if (!info || tr.currentDirection === 'stopped' || tr.stopped) continue;
      if (!byParticipant.has(info.participant)) byParticipant.set(info.participant, []);
      const { track } = tr.receiver;
      const source = info.source || (track.kind === 'audio' ? 'microphone' : 'camera');
      byParticipant.get(info.participant).push({ track, kind: track.kind, source });
    }
    this.onremotetracks(byParticipant);
  }

  // ---- the network ----

  /** The socket went (false) or a resumed socket is here (true). */
  handleSignaling(up) {
    this.publisher.handleSignaling(up);
    this.subscriber.handleSignaling(up);
  }

  /** The browser reports a network change: both connections restart ICE. */
  handleOnline() {
    this.publisher.handleOnline();
    this.subscriber.handleOnline();
  }

  // ---- for tests and diagnostics ----

  get publishPc() {
    return this.publisher.pc;
  }

  get subscribePc() {
    return this.subscriber.pc;
  }

  /**
   * Per remote participant: {videoFramesDecoded, audioPacketsReceived,
   * screenFramesDecoded, videoCodec, videoFrameWidth, videoFrameHeight}, summed over their
   * inbound-rtp streams on the subscribe connection (camera and screen counted apart);
   * `videoCodec` is the camera's codec as a MIME type ('video/VP8'), null before its first
   * packet; the frame size is the camera's last decoded frame's (which simulcast layer the
   * server sends), 0 before the first.
   *
   * Each receiver's own getStats() (the spec's stats selection algorithm) ties a stream
   * to its m-line in every browser. Mapping the connection's whole report would need
   * `mid` or `trackIdentifier` on inbound-rtp, fields that came late to the stats spec
   * and that not every browser version fills.
   */
  async inboundStats() {
    const result = {};
    const pc = this.subscriber.pc;
    if (!pc) return result;
    const owners = this.subscriber.owners();
    const receiving = pc.getTransceivers().filter((tr) => tr.mid !== null && owners.has(tr.mid));
    const reports = await Promise.all(receiving.map((tr) => tr.receiver.getStats().catch(() => new Map())));
    receiving.forEach((tr, i) => {
      const owner = owners.get(tr.mid);
      const entry = (result[owner.participant] ??= {
        videoFramesDecoded: 0, audioPacketsReceived: 0, screenFramesDecoded: 0, videoCodec: null,
        videoFrameWidth: 0, videoFrameHeight: 0,
      });
      for (const s of reports[i].values()) {
        if (s.type !== 'inbound-rtp') continue;
        if (s.kind === 'video' && owner.source === 'screen') entry.screenFramesDecoded += s.framesDecoded || 0;
        else if (s.kind === 'video') {
          entry.videoFramesDecoded += s.framesDecoded || 0;
          entry.videoFrameWidth = s.frameWidth || entry.videoFrameWidth;
          entry.videoFrameHeight = s.frameHeight || entry.videoFrameHeight;
          const codec = s.codecId ? reports[i].get(s.codecId) : null;
          if (codec && codec.mimeType) entry.videoCodec = codec.mimeType;
        }
        if (s.kind === 'audio') entry.audioPacketsReceived += s.packetsReceived || 0;
      }
    });
    return result;
  }

  close() {
    this.closed = true;
    this.publisher.close();
    this.subscriber.close();
    this.onremotetracks = () => {};
    this.onfailure = () => {};
    this.onstatechange = () => {};
  }
}
