// The room page, /room/{id}#k=SECRET: the same page for teachers and students (the
// server decides the role from the secret). Three screens: the join form, the call,
// and an end screen ("You left", "Connection lost", or an error). Before the join form
// the page asks GET /api/rooms/{id} for the title; a room that has ended goes straight
// to the end screen, so nobody types a name for nothing.
//
// The secret is read from the URL fragment, so it is never sent in an HTTP request.
//
// window.aula exposes read-only hooks for the browser tests and for debugging from
// the console: the peer connections, the tiles, inbound stats, timings and a log of
// message types.

import { applyI18n, errorText, t } from './i18n.js';
import { lastName, rememberName } from './store.js';
import { TileGrid } from './tiles.js';
import { Call } from './call.js';
import { icon } from './icons.js';

const $ = (id) => document.getElementById(id);
const roomId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const secret = new URLSearchParams(location.hash.slice(1)).get('k') || '';
const grid = new TileGrid($('tiles'));
// Errors after which trying the same link again can help.
const RETRYABLE = new Set(['server_busy', 'room_full', 'connect']);
// How long the room check may take before the join form shows anyway (the join then
// gives the definitive answer).
const ROOM_CHECK_TIMEOUT_MS = 5000;

let call = null;
let joinClickedAt = null;

function show(screen) {
  for (const id of ['screen-prejoin', 'screen-call', 'screen-ended']) $(id).hidden = id !== screen;
}

/** The name rules of protocol.md: trimmed, 1..=40 characters, no control characters. */
function validName(raw) {
  const name = raw.trim();
  const length = Array.from(name).length;
  return length >= 1 && length <= 40 && !/\p{Cc}/u.test(name) ? name : null;
}

// ---- join form ----

function showJoinError(text) {
  $('join-error').textContent = text;
  $('join-error').hidden = !text;
}

function setJoining(busy) {
  $('join-button').disabled = busy;
  $('join-button').textContent = t(busy ? 'prejoin.joining' : 'prejoin.join');
}

function handleJoinSubmit(event) {
  event.preventDefault();
  const name = validName($('name-input').value);
  if (!name) {
    showJoinError(t('prejoin.nameInvalid'));
    return;
  }
  rememberName(name);
  join(name);
}

function join(name) {
  joinClickedAt = performance.now();
  showJoinError('');
  setJoining(true);
  // After a refused join the socket is still open: the corrected join goes on it.
  if (call && call.refused && !call.ended) {
    call.join(name);
    return;
  }
  call = new Call({ roomId, secret, name, grid });
  call.onjoined = handleJoined;
  call.onrefused = handleRefused;
  call.onended = handleEnded;
  call.onmedia = handleMedia;
  call.onnotice = showNotice;
  call.start();
}

// ---- in the call ----

/** The server refused the name (rare: the form checks first); back to the form. */
function handleRefused(err) {
  setJoining(false);
  show('screen-prejoin');
  showJoinError(errorText(err.code, err.message));
  $('name-input').focus();
}

function handleJoined(msg) {
  setJoining(false);
  showTitle((msg.room && msg.room.title) || '');
  showInvite(msg.student_secret);
  // Until the camera and microphone answer, the buttons wait.
  updateControls({ audio: true, video: true });
  $('toggle-mic').disabled = true;
  $('toggle-cam').disabled = true;
  show('screen-call');
}

function showTitle(title) {
  $('room-title').textContent = title;
  document.title = title ? `${title} — ${t('app.name')}` : t('room.pageTitle');
}

/** Teachers (only they get `student_secret` in `joined`) see the student link. */
function showInvite(studentSecret) {
  $('invite').hidden = !studentSecret;
  if (!studentSecret) return;
  const path = `/room/${encodeURIComponent(roomId)}`;
  $('student-link').value = `${location.origin}${path}#k=${encodeURIComponent(studentSecret)}`;
}

async function copyLink() {
  const input = $('student-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // No async clipboard (plain http on a LAN address): the old way still works.
    input.select();
    document.execCommand('copy');
  }
  setButton($('copy-link'), 'copy', t('invite.copied'), true);
  setTimeout(() => setButton($('copy-link'), 'copy', t('invite.copy'), true), 2000);
}

function setButton(button, iconName, label, withText = false) {
  button.replaceChildren(icon(iconName));
  if (withText) button.append(Object.assign(document.createElement('span'), { textContent: label }));
  button.setAttribute('aria-label', label);
  button.title = label;
}

/** Mic and camera buttons follow the track state; missing devices disable them. */
function updateControls(state) {
  const mic = $('toggle-mic');
  const cam = $('toggle-cam');
  setButton(mic, state.audio ? 'mic' : 'micOff', t(state.audio ? 'controls.micOff' : 'controls.micOn'));
  setButton(cam, state.video ? 'cam' : 'camOff', t(state.video ? 'controls.camOff' : 'controls.camOn'));
  mic.setAttribute('aria-pressed', String(state.audio));
  cam.setAttribute('aria-pressed', String(state.video));
}

function handleMedia(state) {
  updateControls(state);
  $('toggle-mic').disabled = !call.media.audioTrack;
  $('toggle-cam').disabled = !call.media.videoTrack;
}

function toggle(kind) {
  if (call && !call.ended) updateControls(call.toggle(kind));
}

function showNotice(key) {
  const text = key.startsWith('error.') ? errorText(key.slice(6)) : t(key);
  const box = document.createElement('div');
  box.className = 'notice';
  box.setAttribute('role', 'status');
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'link';
  close.textContent = t('notice.dismiss');
  close.onclick = () => box.remove();
  box.append(Object.assign(document.createElement('span'), { textContent: text }), close);
  $('notices').append(box);
}

function showSoundPrompt() {
  if ($('enable-sound')) return;
  const button = document.createElement('button');
  button.id = 'enable-sound';
  button.type = 'button';
  button.className = 'notice sound';
  button.append(icon('speaker'), document.createTextNode(t('tile.enableSound')));
  button.onclick = () => {
    grid.enableSound();
    button.remove();
  };
  $('notices').append(button);
}

// ---- end screens ----

function handleEnded(info) {
  setJoining(false);
  $('notices').replaceChildren();
  const texts = {
    left: [t('left.heading'), '', t('left.rejoin'), true],
    lost: [t('lost.heading'), t('lost.text'), t('left.rejoin'), true],
    error: [t('fatal.heading'), errorText(info.code, info.message), t('fatal.tryAgain'), RETRYABLE.has(info.code)],
  }[info.kind];
  showEnded(...texts);
}

function showEnded(heading, text, buttonText, canRetry) {
  $('ended-heading').textContent = heading;
  $('ended-text').textContent = text;
  $('ended-text').hidden = !text;
  $('rejoin-button').textContent = buttonText;
  $('rejoin-button').hidden = !canRetry;
  show('screen-ended');
}

function rejoin() {
  const name = validName($('name-input').value) || lastName();
  if (name) join(name);
  else show('screen-prejoin');
}

// ---- before the join form ----

/**
 * Asks GET /api/rooms/{id} whether the room is open. Resolves to {title} when it is,
 * or when the answer is unknown (network trouble, a proxy's own error page): then the
 * join decides. Resolves to null only for the server's own "unknown_room".
 */
async function checkRoom() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ROOM_CHECK_TIMEOUT_MS);
  try {
    const url = `/api/rooms/${encodeURIComponent(roomId)}`;
    const res = await fetch(url, { cache: 'no-store', signal: abort.signal });
    const body = await res.json();
    if (res.status === 404 && body.code === 'unknown_room') return null;
    return { title: res.ok && typeof body.title === 'string' ? body.title : '' };
  } catch (err) {
    console.warn('aula: room check failed, showing the join form anyway', err);
    return { title: '' };
  } finally {
    clearTimeout(timer);
  }
}

async function showJoinForm() {
  const room = await checkRoom();
  if (!room) {
    showEnded(t('fatal.heading'), errorText('unknown_room'), '', false);
    return;
  }
  showTitle(room.title);
  show('screen-prejoin');
  $('name-input').focus();
}

// ---- page setup ----

function exposeTestHooks() {
  window.aula = {
    get publishPc() { return call ? call.publishPc : null; },
    get subscribePc() { return call ? call.subscribePc : null; },
    get you() { return call ? call.you : null; },
    participants: () => grid.describe(),
    stats: () => (call ? call.stats() : Promise.resolve({})),
    timing: () => ({ joinClickedAt, firstRemoteFrameAt: grid.firstRemoteFrameAt }),
    log: () => (call ? call.log.slice() : []),
  };
}

function setup() {
  applyI18n();
  exposeTestHooks();
  $('name-input').value = lastName();
  $('join-form').addEventListener('submit', handleJoinSubmit);
  $('leave-button').addEventListener('click', () => call && call.leave());
  $('toggle-mic').addEventListener('click', () => toggle('audio'));
  $('toggle-cam').addEventListener('click', () => toggle('video'));
  $('copy-link').addEventListener('click', copyLink);
  $('rejoin-button').addEventListener('click', rejoin);
  setButton($('leave-button'), 'leave', t('controls.leave'), true);
  setButton($('copy-link'), 'copy', t('invite.copy'), true);
  grid.onneedsound = showSoundPrompt;
  grid.oncount = (n) => {
    $('people-count').textContent = t('people.count', { n });
    $('people-count').hidden = n === 0;
  };
  // Closing the tab: say goodbye so the others see us go at once, not on a timeout.
  window.addEventListener('pagehide', () => call && call.leave());
  if (!roomId || !secret) showEnded(t('fatal.heading'), errorText('no_secret'), '', false);
  else showJoinForm();
}

setup();
