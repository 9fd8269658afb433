// When to restart ICE on one peer connection (docs/protocol.md, "Staying in a lesson when
// the network does not", 1.). A policy only: it does no I/O and reads no clock. The
// connection feeds it what happened (handle*), asks when to look again (pollTimeout) and,
// when that time comes, whether to restart now (handleTimeout). IceDriver, at the end of
// this file, drives it with the page's clock and timers for publish.js and subscribe.js;
// the unit tests (tests/ice-restart-policy.test.mjs) drive it with made-up times.
//
// The rules, from the protocol:
// - `failed`: restart at once (but not sooner than RETRY_MS after the previous restart).
// - `disconnected` for DISCONNECTED_GRACE_MS: restart. A shorter blip (a Wi-Fi hiccup)
//   heals by itself: the browser keeps checking the old path and goes back to
//   `connected`, and an ICE restart would only add a renegotiation.
// - the browser reports a network change (`online`): restart at once, even from
//   `connected`, because the old path most likely left with the old network.
// - retry every RETRY_MS while the connection is not back, counted from the last restart
//   (a restart still waiting for its answer is not repeated: if the answer never comes,
//   the socket is stalled and the reconnect in reconnect.js takes over; a burst of
//   restarts would only be rate-limited, 3 in a burst then one per 5 s).
// - only while signaling is up: a restart needs an offer and an answer. When signaling
//   comes back (a resumed session), a connection that is not healthy restarts at once.

/** How long `disconnected` may last before we restart (docs/protocol.md: 3 s). */
export const DISCONNECTED_GRACE_MS = 3000;
/** How often to try again while the connection is not back (docs/protocol.md: 5 s). */
export const RETRY_MS = 5000;

const HEALTHY = new Set(['connected', 'completed']);
// Nothing to repair: not started yet, or closed by us.
const IDLE = new Set(['new', 'closed']);

export class IceWatch {
  constructor() {
    /** The latest RTCPeerConnection.iceConnectionState. */
    this.state = 'new';
    this.signalingUp = true;
    /** When the state became `disconnected` (null while it is not). */
    this.disconnectedSince = null;
    /** The connection failed: restart as soon as the retry spacing allows. */
    this.wanted = false;
    /** Restart at the next chance, without waiting for the retry spacing: the network
     *  changed, or signaling came back after the restart could not be asked for. */
    this.urgent = false;
    /** A restart was asked for and its offer/answer has not finished. */
    this.inFlight = false;
    /** When the latest restart was asked for (null: never). */
    this.lastRestartAt = null;
  }

  get healthy() {
    return HEALTHY.has(this.state);
  }

  // ---- inputs ----

  handleState(state, now) {
    this.state = state;
    if (state !== 'disconnected') this.disconnectedSince = null;
    else if (this.disconnectedSince === null) this.disconnectedSince = now;
    if (state === 'failed') this.wanted = true;
    if (this.healthy || IDLE.has(state)) {
      this.wanted = false;
      this.urgent = false;
    }
  }

  /** The browser says the network changed (`online`). */
  handleOnline() {
    if (!IDLE.has(this.state)) this.urgent = true;
  }

  handleSignaling(up) {
    this.signalingUp = up;
    // Whatever was in flight went with the old socket, or is sent again by its owner.
    this.inFlight = false;
    const broken = this.state === 'failed' || this.state === 'disconnected' || this.lastRestartAt !== null;
    if (up && broken && !this.healthy && !IDLE.has(this.state)) this.urgent = true;
  }

  /** A restart was asked for (handleTimeout said so). */
  handleRestarted(now) {
    this.inFlight = true;
    this.urgent = false;
    this.wanted = false;
    this.lastRestartAt = now;
  }

  /** The restart's offer and answer are both applied (or it was refused). */
  handleNegotiated() {
    this.inFlight = false;
  }

  // ---- outputs ----

  /** When to call handleTimeout next, or null if nothing is due. */
  pollTimeout() {
    if (!this.signalingUp || this.inFlight || IDLE.has(this.state)) return null;
    if (this.urgent) return -Infinity;
    if (this.healthy) return null;
    const due = [];
    if (this.wanted) due.push(-Infinity);
    if (this.disconnectedSince !== null) due.push(this.disconnectedSince + DISCONNECTED_GRACE_MS);
    if (this.lastRestartAt !== null) due.push(this.lastRestartAt + RETRY_MS);
    if (due.length === 0) return null;
    // A restart never follows another sooner than RETRY_MS unless it is urgent.
    const earliest = Math.min(...due);
    return this.lastRestartAt === null ? earliest : Math.max(earliest, this.lastRestartAt + RETRY_MS);
  }

  /** True if the connection should restart ICE now; then call handleRestarted(now). */
  handleTimeout(now) {
    const due = this.pollTimeout();
    return due !== null && due <= now;
  }
}

/**
 * Drives an IceWatch for one RTCPeerConnection with the page's clock and timers: the only
 * part of this file that does anything. `restart()` starts an ICE restart and must call
 * handleNegotiated() when its offer and answer are done (or refused).
 */
export class IceDriver {
  constructor(pc, restart, onstate = () => {}) {
    this.watch = new IceWatch();
    this.restart = restart;
    this.timer = null;
    this.stopped = false;
    pc.addEventListener('iceconnectionstatechange', () => {
      onstate(pc.iceConnectionState);
      this.watch.handleState(pc.iceConnectionState, performance.now());
      this.poke();
    });
  }

  /** `restarting`: signaling is back and a restart's offer went out again with it. */
  handleSignaling(up, { restarting = false } = {}) {
    this.watch.handleSignaling(up);
    if (restarting) this.watch.handleRestarted(performance.now());
    this.poke();
  }

  handleOnline() {
    this.watch.handleOnline();
    this.poke();
  }

  handleNegotiated() {
    this.watch.handleNegotiated();
    this.poke();
  }

  /** Restarts if the watch says so now, and sets the timer for its next look. */
  poke() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const now = performance.now();
    if (this.watch.handleTimeout(now)) {
      this.watch.handleRestarted(now);
      this.restart();
    }
    const due = this.watch.pollTimeout();
    if (due !== null) this.timer = setTimeout(() => this.poke(), Math.max(0, due - now));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
