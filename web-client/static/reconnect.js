// Staying connected to the server when sockets drop (docs/protocol.md, "Staying in a
// lesson when the network does not", 2., and "Reconnect backoff").
//
// A Link holds the current socket (signaling.js) and opens a new one when told to. The
// Call says what goes first on every new socket (`onopen`: `join` or `resume`) and, when
// a socket is gone (`ondown`), whether to try again (retry) or to end (closing errors).
//
// A socket goes in one of two ways, and the next attempts follow one of two schedules:
// - closed: the close event came (the server restarted or dropped us, a proxy timed out,
//   the kernel reset the connection). Attempts follow the protocol's backoff,
//   min(10 s, 0.5 s × 2^n) × random(0.5..1.5), so a school's pages do not all come back
//   in the same millisecond after a server restart.
// - stalled: no close event, but a request the server always answers (join or resume,
//   publish, ice_restart, and the ping the Call sends when media looks stuck) went
//   unanswered for REPLY_TIMEOUT_MS. The server answers those
//   in milliseconds, so the network path is broken, not the server. Such a socket can look
//   open for many minutes (TCP retransmits for about 15), and when the path comes back,
//   TCP's retransmission backoff can hold our bytes back for many seconds more: measured
//   on a veth pair, data sent during a 40 s outage arrived 17 s after the link came back.
//   So we leave the stalled socket and try a new one every STALLED_RETRY_MS (±25 %).
//   While the path is down those attempts never reach the server; once it is back, the
//   first one gets through and the page is back within about that interval. If the server
//   then closes an attempt (it is reachable, but restarting), the backoff takes over.
//
// The browser's `online` event and the Rejoin button try at once (retryNow); `online` on
// a socket that looks fine replaces it all the same (renew), since a network change
// leaves a TCP connection to time out slowly instead of failing.

import { Signaling } from './signaling.js';

/** The protocol's backoff: base and cap (docs/protocol.md, "Reconnect backoff"). */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10000;
/**
 * Between attempts after a stall. The bar is "back within 5 s of the network":
 * 2 s (at most 2.5 with jitter) plus a connect, a resume and an ICE restart (about 1 s on
 * a LAN) stays inside it.
 */
export const STALLED_RETRY_MS = 2000;
/**
 * How long a request that is always answered may go unanswered before the socket counts
 * as stalled. The server answers in milliseconds; 5 s leaves room for a busy server and a
 * slow phone without leaving a class frozen for long.
 */
export const REPLY_TIMEOUT_MS = 5000;
/**
 * How long a new attempt may take to open. Into a network that drops packets, a connect
 * hangs in the kernel's SYN retries (1, 3, 7, 15 s…), so a SYN retry after the path is
 * back could come many seconds late: a new attempt is sooner.
 */
export const CONNECT_TIMEOUT_MS = 4000;
/**
 * The very first socket of a Call may take longer (a slow school network at the start of
 * a lesson): if it fails, the page says the server cannot be reached, and a user who
 * just clicked Join should not see that for a connect that was merely slow.
 */
export const FIRST_CONNECT_TIMEOUT_MS = 15000;

/** Delay before attempt `attempt` (0, 1, …) after a closed socket. */
export function backoffDelay(attempt, random = Math.random) {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt) * (0.5 + random());
}

/** Delay before the next attempt after a stall. */
export function stalledDelay(random = Math.random) {
  return STALLED_RETRY_MS * (0.75 + random() / 2);
}

/**
 * The schedule for the next attempt, from the current one and how the socket went
 * ({stalled, opened}): a stall starts the stalled schedule; attempts that never open keep
 * it; anything the server itself closed goes to the backoff.
 */
export function nextSchedule(schedule, down) {
  if (down.stalled) return 'stalled';
  if (schedule === 'stalled' && !down.opened) return 'stalled';
  return 'backoff';
}

export class Link {
  constructor({ random = Math.random } = {}) {
    this.random = random;
    this.socket = null;
    this.attempt = 0;
    this.schedule = 'backoff';
    this.timer = null;
    // Requests waiting for their answer: kind -> timer.
    this.waits = new Map();
    this.closed = false;
    this.onopen = () => {};
    this.onmessage = () => {};
    this.ondown = () => {};
  }

  get isOpen() {
    return Boolean(this.socket && this.socket.isOpen);
  }

  /** Opens a new socket now (the first, or the next attempt). */
  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    const first = this.socket === null;
    const socket = new Signaling();
    this.socket = socket;
    socket.onmessage = (msg) => this.onmessage(msg);
    socket.onclose = (info) => this.handleDown(socket, info);
    socket.open(first ? FIRST_CONNECT_TIMEOUT_MS : CONNECT_TIMEOUT_MS).then(() => {
      if (this.socket === socket && !this.closed) this.onopen();
    }, () => {});
  }

  handleDown(socket, info) {
    if (socket !== this.socket || this.closed) return;
    this.clearWaits();
    this.ondown(info);
  }

  send(msg) {
    if (this.socket) this.socket.send(msg);
  }

  // ---- telling a stalled socket ----

  /** `kind` was sent and the server always answers it: start its clock. */
  expect(kind) {
    if (this.waits.has(kind) || !this.isOpen) return;
    this.waits.set(kind, setTimeout(() => this.handleStall(kind), REPLY_TIMEOUT_MS));
  }

  /** The answer to `kind` arrived. */
  settle(kind) {
    clearTimeout(this.waits.get(kind));
    this.waits.delete(kind);
  }

  /**
   * An `error` arrived. The server answers in order, so it answers either a waiting
   * request or one sent after them, which it could only read after them: either way the
   * socket carries our requests.
   */
  settleAll() {
    this.clearWaits();
  }

  clearWaits() {
    for (const timer of this.waits.values()) clearTimeout(timer);
    this.waits.clear();
  }

  handleStall(kind) {
    this.waits.delete(kind);
    const { socket } = this;
    if (!socket || this.closed) return;
    console.info(`aula: no answer to ${kind} within ${REPLY_TIMEOUT_MS} ms; trying a new connection`);
    socket.detach();
    this.handleDown(socket, {
      code: 1006, reason: 'stalled', error: null, left: false, opened: true, stalled: true,
    });
  }

  /**
   * The network changed under us (`online`): the socket's TCP connection may hang on an
   * address or a path that is gone, and nothing would say so for minutes. Leave it for a
   * new one at once (`ondown` with `renew`); the Call resumes on that.
   */
  renew() {
    const { socket } = this;
    if (!this.isOpen || this.closed) return;
    socket.detach();
    this.handleDown(socket, {
      code: 1006, reason: 'network changed', error: null, left: false, opened: true, renew: true,
    });
  }

  // ---- attempts ----

  /** The socket is gone and the Call stays: schedules the next attempt; returns its delay. */
  retry(down) {
    this.schedule = nextSchedule(this.schedule, down);
    const delay = this.schedule === 'stalled' ? stalledDelay(this.random) : backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
    return delay;
  }

  /** The next attempt in `delay` ms, as the server asked (a full join queue); returns it. */
  retryIn(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
    return delay;
  }

  /** Tries at once if an attempt is only waiting for its time (`online`, the Rejoin button). */
  retryNow() {
    if (this.timer !== null) this.connect();
  }

  /** The server took us (`joined` or `lobby`): the next trouble starts a new count. */
  handleConnected() {
    this.attempt = 0;
    this.schedule = 'backoff';
  }

  /** Leaves on purpose (`mayReturn`: the page is unloading) and stops trying. */
  leave({ mayReturn = false } = {}) {
    this.stop();
    if (this.socket) this.socket.leave({ mayReturn });
  }

  /** Closes without a goodbye and stops trying. */
  close() {
    this.stop();
    if (this.socket) this.socket.detach();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = null;
    this.clearWaits();
  }
}
