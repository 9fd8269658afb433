// One WebSocket to the server, speaking docs/protocol.md (version 1).
//
// One Signaling object per socket; it is never reopened. Staying connected across
// dropped sockets (a new socket, `resume`) is reconnect.js's job, which makes a new
// Signaling for every attempt.
//
// Server messages are delivered to `onmessage(msg)` as parsed objects. `onclose(info)`
// fires once, with {code, reason, error, left, opened}: `error` is the last `error`
// message the server sent before closing, if any, `left` is true after our own leave(),
// and `opened` is false if the socket never opened (server unreachable, or not within
// the timeout given to open()).

export const PROTOCOL_VERSION = 1;

export class Signaling {
  constructor(url = Signaling.defaultUrl()) {
    this.url = url;
    this.ws = null;
    this.lastError = null;
    this.left = false;
    this.opened = false;
    this.closed = false;
    this.onmessage = () => {};
    this.onclose = () => {};
  }

  static defaultUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  /**
   * Opens the socket; resolves once it is open, rejects if it closes first or is not
   * open within `timeoutMs` (a connect into a network that drops packets can hang for
   * minutes in the kernel's SYN retries; the caller would rather try again).
   */
  open(timeoutMs = Infinity) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => {
        ws.onopen = null;
        ws.onclose = null;
        ws.close();
        reject(new Error('websocket did not open in time'));
        this.handleClose({ code: 1006, reason: 'timeout' });
      }, timeoutMs) : null;
      ws.onopen = () => {
        clearTimeout(timer);
        this.opened = true;
        resolve();
      };
      ws.onmessage = (event) => this.handleFrame(event.data);
      ws.onclose = (event) => {
        clearTimeout(timer);
        reject(new Error(`websocket closed before it opened (${event.code})`));
        this.handleClose(event);
      };
    });
  }

  handleFrame(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('aula: ignoring a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'error') this.lastError = msg;
    this.onmessage(msg);
  }

  handleClose(event) {
    if (this.closed) return;
    this.closed = true;
    this.onclose({
      code: event.code, reason: event.reason, error: this.lastError, left: this.left, opened: this.opened,
    });
  }

  get isOpen() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  /** Sends one message; silently dropped if the socket is not open (any more). */
  send(msg) {
    if (this.isOpen) this.ws.send(JSON.stringify(msg));
  }

  /**
   * Says goodbye and closes. `mayReturn`: the page is being unloaded (a reload or a closed
   * tab, it cannot tell which), so the server keeps the seat for a few seconds.
   */
  leave({ mayReturn = false } = {}) {
    if (this.left) return;
    this.left = true;
    this.send(mayReturn ? { type: 'leave', may_return: true } : { type: 'leave' });
    this.close();
  }

  /** Closes without a goodbye; the server then notices the closed socket instead. */
  close() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }

  /** Closes and forgets: no message and no onclose from this socket any more. */
  detach() {
    this.onmessage = () => {};
    this.onclose = () => {};
    this.closed = true;
    if (this.ws) {
      this.ws.onmessage = null;
      this.ws.onclose = null;
    }
    this.close();
  }
}
