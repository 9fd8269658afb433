// The WebSocket to the server, speaking docs/protocol.md (version 1).
//
// One Signaling object per join attempt; it is never reopened (after an error that
// closes the socket the protocol says a client must not reconnect on its own, and
// after a network loss the user decides, with the "Rejoin" button).
//
// Server messages are delivered to `onmessage(msg)` as parsed objects. `onclose(info)`
// fires once, with {code, reason, error}: `error` is the last `error` message the
// server sent before closing, if any, `left` is true after our own leave(), and
// `opened` is false if the socket never opened (server unreachable).

export const PROTOCOL_VERSION = 1;

export class Signaling {
  constructor(url = Signaling.defaultUrl()) {
    this.url = url;
    this.ws = null;
    this.lastError = null;
    this.left = false;
    this.opened = false;
    this.onmessage = () => {};
    this.onclose = () => {};
  }

  static defaultUrl() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}/ws`;
  }

  /** Opens the socket; resolves once it is open, rejects if it cannot be opened. */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = () => {
        this.opened = true;
        resolve();
      };
      ws.onmessage = (event) => this.handleFrame(event.data);
      ws.onclose = (event) => {
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

  /** Sends one message; silently dropped if the socket is not open (any more). */
  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Says goodbye and closes. Safe to call more than once and from `pagehide`. */
  leave() {
    if (this.left) return;
    this.left = true;
    this.send({ type: 'leave' });
    this.close();
  }

  /** Closes without a goodbye; the server then notices the closed socket instead. */
  close() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }
}
