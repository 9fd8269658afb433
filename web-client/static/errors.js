// What the page does with an `error` from the server (docs/protocol.md, the error table).
//
// An error says which request it answers in `re` (the request's type). An error without
// one answers nothing we sent, or comes from an older server: then the latest request that
// can draw that error is the best guess (`call.lastRequest`: every message sent but
// candidates and subscribe answers; `call.lastSent`: every message but candidates). Where a
// guess is wrong the cost is bounded: a publish that looks unanswered makes the socket
// count as stalled (reconnect.js), and the resume sends it again.

// Errors after which the server closes the socket (protocol.md, "error" table).
// `room_full` closes only as the answer to a join; a host's admit into a full room is
// answered with it too, and the socket stays.
export const CLOSING_ERRORS = new Set([
  'too_large', 'unsupported_version', 'unknown_room', 'bad_secret', 'room_full', 'server_busy',
  'room_locked', 'denied', 'removed',
]);
// Requests a media worker's full queue can drop with `server_busy` (the socket stays).
const BUSY_DROPPED = new Set(['publish', 'subscribe_answer', 'subscribe_failed', 'candidate', 'view', 'ice_restart']);
// Errors that can answer a `publish` offer.
const PUBLISH_ERRORS = new Set(['too_many_tracks', 'bad_sdp', 'forbidden', 'rate_limited']);

/**
 * Routes `msg` (an `error`): a failed resume, a refused join, an answer to one of the
 * peer connections' requests, or a refusal the page shows (`refusal` event).
 */
export function handleError(call, msg) {
  console.warn('aula: server error', msg.code, msg.message);
  const last = call.lastRequest || {};
  // The request this answers: the latest of its type we sent (for its fields), by `re`.
  const request = msg.re ? (last.type === msg.re ? last : { type: msg.re }) : last;
  if (request.type === 'join' || request.type === 'resume') call.link.settle('hello');
  if (msg.code === 'resume_failed') {
    call.handleResumeFailed();
    return;
  }
  // A host's admit into a full room: the socket stays (protocol.md, host actions).
  if (msg.code === 'room_full' && (request.type === 'admit' || request.type === 'admit_all')) {
    const who = call.waiting.find((w) => w.id === request.participant);
    const key = who ? 'admit.full' : 'admit.fullAll';
    call.emit('refusal', { code: msg.code, message: msg.message, request: request.type, key, name: who && who.name });
    return;
  }
  if (msg.code === 'server_busy' && BUSY_DROPPED.has(msg.re)) {
    call.handleBusy(msg.re);
    return;
  }
  // Closing errors: the close event that follows ends the call with this error.
  if (CLOSING_ERRORS.has(msg.code)) return;
  if (call.phase === 'connecting') {
    // Before `joined` or `lobby` only `join` has been sent, so this refuses it
    // (bad_name; the form checks names first, so it is rare). The socket stays open.
    call.refused = true;
    call.emit('refused', { code: msg.code, message: msg.message });
    return;
  }
  // Frames beyond the socket's message budget (protocol.md, "Message budget") are the one
  // rate_limited without `re`: it answers no request of ours, so guess none (a publish
  // taken for refused would be torn down); say it, as for a chat message.
  if (msg.code === 'rate_limited' && !msg.re) {
    call.emit('refusal', { code: msg.code, message: msg.message, request: null, key: 'error.rate_limited' });
    return;
  }
  if (handleMediaError(call, msg.code, request, msg.re)) return;
  // Our `view` came too fast (rate_limited): the server keeps the one before; nothing to
  // show, the page's next view goes a little later.
  if (msg.re === 'view') {
    call.view.handleRefused();
    return;
  }
  let key = `error.${msg.code}`;
  if (msg.code === 'forbidden' && request.type === 'media_state') key = `error.forbidden.${revertRefused(call, request)}`;
  if (msg.code === 'forbidden' && request.type === 'chat') key = 'error.forbidden.chat';
  call.emit('refusal', { code: msg.code, message: msg.message, request: request.type || null, key });
}

/**
 * Errors that answer the peer connections' requests: a `publish` (its offer is rolled
 * back), an `ice_restart` (the watch tries again later) or a `subscribe_answer` (a reset
 * offer follows). Returns true if `code` was one of them.
 */
function handleMediaError(call, code, request, re) {
  if (!call.rtc) return false;
  const sent = re || (call.lastSent || {}).type;
  if (code === 'rate_limited' && request.type === 'ice_restart') {
    call.link.settle('ice_restart');
    call.rtc.handleRestartRefused();
    return true;
  }
  if ((code === 'bad_sdp' || code === 'unexpected_answer') && sent === 'subscribe_answer') return true;
  const forPublish = request.type === 'publish'
    || (!re && call.rtc.publishWaiting && ['bad_sdp', 'too_many_tracks'].includes(code));
  if (!forPublish || !PUBLISH_ERRORS.has(code)) return false;
  call.link.settle('publish');
  call.rtc.handlePublishRefused(code);
  if (code === 'forbidden') {
    call.stopScreen({ tell: false });
    call.emit('refusal', { code, request: 'publish', key: 'error.forbidden.screen' });
  }
  if (code === 'too_many_tracks') call.emit('refusal', { code, request: 'publish', key: 'error.too_many_tracks' });
  return true;
}

/**
 * A `media_state` was refused: what it tried to turn on (and the server does not
 * hold on) goes back off. Returns the kind that was refused, for the notice.
 */
function revertRefused(call, request) {
  const refused = ['screen', 'video', 'audio'].filter((kind) => request[kind] && !call.you[kind]);
  for (const kind of refused) {
    if (kind === 'screen') call.stopScreen({ tell: false });
    else call.setLocal(kind, false);
  }
  return refused[0] || 'audio';
}
