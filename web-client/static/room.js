// The room page, /room/{id}#k=SECRET: the same page for hosts and participants (the
// server decides the role from the secret). Five screens: the join form, the lobby,
// "Rejoining…" (a reloaded page taking its seat back), the call, and an end screen ("You
// left", "Connection lost", "The lesson has ended", or an error). Before the join form
// the page asks GET /api/rooms/{id} for the title; a room that has ended goes straight to
// the end screen, so nobody types a name for nothing.
//
// A page whose tab holds a resume token for this room (it was reloaded, or came back
// from a crash of the tab) skips the form and resumes at once (call.js); only if that
// fails does the join form show. While the call's socket is away, a banner over the call
// says "Reconnecting…", and once the server has given up our seat "Connection lost —
// rejoining…" with a Rejoin button; the call screen and its tiles stay meanwhile.
//
// The secret is read from the URL fragment, so it is never sent in an HTTP request, and
// then taken out of the address bar (store.js, linkSecret).
// This file wires the screens and the buttons; the call's parts live in controls.js
// (microphone, camera, screen), lobby.js, hostpanel.js, hands.js, chat.js, layout.js,
// keyboard.js (shortcuts, push to talk, Escape).
//
// window.aula exposes read-only hooks for the browser tests and for debugging from
// the console (see exposeTestHooks).

import { applyI18n, errorText, setRoomKind, t } from './i18n.js';
import {
  keepTabStateOnlyOnReload, lastName, linkSecret, rememberLinkSecret, rememberName, rememberUnload,
  resumeTokenFor,
} from './store.js';
import { TileGrid } from './tiles.js';
import { Call, REJOIN_AFTER_RELOAD_MS } from './call.js';
import { ChatPanel } from './chat.js';
import { DeviceCheck } from './devices.js';
import { Layout } from './layout.js';
import {
  chimeCount, handleServerQueue, handleWaiting, showLobbyScreen, showQueueScreen,
} from './lobby.js';
import { renderPeople } from './hostpanel.js';
import {
  announceHand, handQueue, toggleHand, updateHandButton, updatePeopleBadge,
} from './hands.js';
import { moderatedText, setupControls, updateControls } from './controls.js';
import { playedCount } from './sound.js';
import {
  $, keyText, setButton, showFieldError, showNotice, tidyNotices,
} from './ui.js';
import { setupKeyboard } from './keyboard.js';

const roomId = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
// A closed tab the browser brings back is not a reload: it starts as anyone would.
keepTabStateOnlyOnReload(roomId, REJOIN_AFTER_RELOAD_MS);
// Our link's secret; the lead's changes when she renews the host link.
let secret = linkSecret(roomId);
const grid = new TileGrid($('tiles'));
const layout = new Layout($('tiles'));
const chat = new ChatPanel();
const devices = new DeviceCheck();
// Errors after which trying the same link again can help.
const RETRYABLE = new Set(['server_busy', 'room_full', 'connect', 'room_locked', 'elsewhere']);
// How long the room check may take before the join form shows anyway (the join then
// gives the definitive answer).
const ROOM_CHECK_TIMEOUT_MS = 5000;

let call = null;
let joinClickedAt = null;
let roomKind = 'class';

function show(screen) {
  const screens = ['screen-prejoin', 'screen-lobby', 'screen-resuming', 'screen-call', 'screen-ended'];
  for (const id of screens) $(id).hidden = id !== screen;
}

/**
 * The name rules of protocol.md: trimmed, 1..=40 characters, no control characters, no
 * bidirectional embeddings, overrides or isolates, no line or paragraph separators, no
 * characters that show as nothing (zero-width joiners aside).
 */
function validName(raw) {
  const name = raw.trim();
  const length = Array.from(name).length;
  const forbidden = /[\p{Cc}\u202A-\u202E\u2066-\u2069\u2028\u2029\u00AD\u034F\u115F\u1160\u180E\u200B\u200E\u200F\u2060-\u2064\u3164\uFEFF\uFFA0]/u;
  return length >= 1 && length <= 40 && !forbidden.test(name) ? name : null;
}

/** Class or meeting: the words change ("teacher" or "host"). */
function setKind(kind) {
  roomKind = kind === 'meeting' ? 'meeting' : 'class';
  setRoomKind(roomKind);
  applyI18n();
  grid.roleLabel = (role) => t(`role.${role}`);
}

// ---- join form ----

// Server refusals that are about the name typed (the others are about the join itself).
const NAME_ERRORS = new Set(['bad_name', 'name_taken']);

/** The join form's error; `aboutName` ties it to the name field. */
function showJoinError(text, aboutName = true) {
  showFieldError($('join-error'), text, [$('name-input')], aboutName);
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
  startCall(name);
}

/** A new Call: it joins as `name`, or resumes this tab's seat if the tab has a token. */
function startCall(name) {
  const resumeToken = resumeTokenFor(roomId);
  // A join takes the devices the check started; a reloaded page starts them as chosen in
  // this browser (the devices picked, a camera or microphone left out).
  const media = devices.takeMedia();
  call = new Call({ roomId, secret, name, grid, resumeToken, media });
  call.on('refused', handleRefused)
    .on('lobby', handleLobby)
    .on('queued', handleQueued)
    .on('serverQueue', handleServerQueue)
    .on('joined', handleJoined)
    .on('resumed', handleResumed)
    .on('connection', showConnection)
    .on('admitFailed', () => { $('lobby-full').hidden = false; })
    .on('deviceUsed', (kind) => devices.rememberUse(kind))
    .on('ended', handleEnded)
    .on('media', () => {
      updateControls(call);
      // The check shows the new state where it is on screen (join form, lobby, Settings).
      if (call.phase !== 'joined' || $('settings-dialog').open) devices.show();
    })
    .on('settings', handleSettings)
    .on('self', handleSelf)
    .on('members', refreshPeople)
    .on('hand', ({ participant, raised }) => announceHand(call, participant, raised))
    .on('waiting', (w) => { handleWaiting(call, w, (id) => call.act('admit', { participant: id })); refreshPeople(); })
    .on('link', showInvite)
    .on('hostLink', (s) => {
      secret = s;
      rememberLinkSecret(roomId, s);
      showNotice(t('invite.hostRenewed'), { id: 'host-link-renewed' });
    })
    .on('chat', (m) => chat.handleMessage(m))
    .on('speakers', () => layout.handleSpeakers())
    .on('spotlight', (id) => {
      layout.handleSpotlight(id);
      refreshPeople();
      if (id && call.you && id === call.you.id) showNotice(t('spotlight.you'), { id: 'spotlight-notice' });
    })
    .on('moderated', (m) => showNotice(moderatedText(call, m)))
    .on('refusal', handleRefusal)
    .on('notice', (key) => showNotice(keyText(key)));
  call.start();
}

// ---- lobby and call ----

/** The server refused the name (rare: the form checks first); back to the form. */
function handleRefused(err) {
  setJoining(false);
  show('screen-prejoin');
  showJoinError(errorText(err.code, err.message), NAME_ERRORS.has(err.code));
  $('name-input').focus();
}

/** The server's join queue holds us: the waiting screen, with our place in line. */
function handleQueued(news) {
  setJoining(false);
  $('lobby-full').hidden = true;
  showQueueScreen(news);
  show('screen-lobby');
}

function handleLobby(msg) {
  setJoining(false);
  $('lobby-full').textContent = t('lobby.full');
  $('lobby-full').hidden = true;
  if (msg.room) {
    setKind(msg.room.kind);
    showTitle(msg.room.title || '');
  }
  showLobbyScreen();
  // The camera is on in the waiting room too: the person sees what it shows.
  devices.moveTo($('lobby-devices'));
  const waiting = call;
  waiting.mediaReady.then(() => { if (call === waiting && !call.ended) devices.show(); });
  show('screen-lobby');
}

function handleJoined(msg) {
  setJoining(false);
  setKind(msg.room && msg.room.kind);
  showTitle((msg.room && msg.room.title) || '');
  $('notices').replaceChildren();
  devices.moveTo($('settings-devices'));
  devices.switcher = (kind, id) => call.switchDevice(kind, id);
  devices.attach(call.media);
  chat.attach(call);
  layout.attach(call, roomKind);
  closePanel();
  updateControls(call);
  updateHandButton(call);
  refreshPeople();
  showConnection(call.connection);
  show('screen-call');
}

/** The same seat on a new socket: what changed while we were away, the rest stays. */
function handleResumed(msg) {
  setKind(msg.room && msg.room.kind);
  showTitle((msg.room && msg.room.title) || '');
  chat.catchUp(call);
  handleSelf();
}

/**
 * The banner for our own connection: nothing while connected, "Reconnecting…" while the
 * socket is away, "Connection lost — rejoining…" with a Rejoin button once the server no
 * longer keeps our seat (we still try by ourselves).
 */
function showConnection(state) {
  const banner = $('connection-banner');
  banner.hidden = state === 'connected';
  banner.dataset.state = state;
  $('connection-text').textContent = state === 'lost' ? t('conn.lost') : t('conn.reconnecting');
  $('reconnect-now').hidden = state !== 'lost';
}

function handleSelf() {
  updateHandButton(call);
  updateControls(call);
  chat.updateAllowed();
  refreshPeople();
}

function handleSettings() {
  updateControls(call);
  chat.updateAllowed();
  refreshPeople();
}

function handleRefusal(r) {
  if (r.request === 'chat') chat.handleRefusal(r);
  else if (r.key.startsWith('admit.')) showNotice(t(r.key, { name: r.name }), { id: 'admit-full' });
  else showNotice(keyText(r.key));
}

function refreshPeople() {
  if (!call || !call.you) return;
  renderPeople(call);
  updateHandButton(call);
  updatePeopleBadge(call);
  layout.update();
}

function showTitle(title) {
  $('room-title').textContent = title;
  document.title = title ? `${title} — ${t('app.name')}` : t('room.pageTitle');
}

/** Hosts (only they get the participant secret) see the participant link. */
function showInvite(participantSecret) {
  $('invite').hidden = !participantSecret;
  if (!participantSecret) return;
  const path = `/room/${encodeURIComponent(roomId)}`;
  const url = `${location.origin}${path}#k=${encodeURIComponent(participantSecret)}`;
  const renewed = $('participant-link').value && $('participant-link').value !== url;
  $('participant-link').value = url;
  // The host link is in no address bar (store.js): who holds it may copy it, unseen, to come
  // back from another device or to hand it to a colleague. A host by promotion holds the
  // participant link only.
  $('copy-host-link').hidden = secret === participantSecret;
  $('copy-host-link').textContent = t('invite.copyHost');
  $('invite-label').textContent = t('invite.label');
  $('invite-hint').textContent = t('invite.hint');
  if (renewed) showNotice(t('invite.renewed'), { id: 'link-renewed' });
  let folded = false;
  try { folded = sessionStorage.getItem(INVITE_FOLDED_KEY) === '1'; } catch { /* storage off */ }
  // A new link must be seen: the bar opens for it.
  collapseInvite(folded && !renewed);
}

async function copyLink() {
  const input = $('participant-link');
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // No async clipboard (plain http on a LAN address): the old way still works.
    input.select();
    document.execCommand('copy');
  }
  setButton($('copy-link'), 'copy', t('invite.copied'), true);
  setTimeout(() => {
    setButton($('copy-link'), 'copy', t('invite.copy'), true);
    // Copied once, the link is on its way: the bar folds into an "Invite" button and gives
    // the class its screen back.
    if (!$('invite-body').contains(document.activeElement) || document.activeElement === $('copy-link')) {
      collapseInvite(true);
    }
  }, 2000);
}

const INVITE_FOLDED_KEY = 'aula.inviteFolded';

/** Folds the invite bar into its "Invite" button, or opens it again; kept for the tab. */
function collapseInvite(folded) {
  $('invite-body').hidden = folded;
  $('invite-expand').hidden = !folded;
  $('invite-expand').setAttribute('aria-expanded', String(!folded));
  $('invite').classList.toggle('folded', folded);
  try { sessionStorage.setItem(INVITE_FOLDED_KEY, folded ? '1' : '0'); } catch { /* storage off */ }
  const focused = document.activeElement;
  if (folded && focused && $('invite-body').contains(focused)) $('invite-expand').focus();
  if (!folded && focused === $('invite-expand')) $('copy-link').focus();
  layout.update();
}

async function copyHostLink() {
  const url = `${location.origin}/room/${encodeURIComponent(roomId)}#k=${encodeURIComponent(secret)}`;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    // No async clipboard: through a field nobody sees, removed at once.
    const field = document.createElement('textarea');
    field.value = url;
    field.setAttribute('aria-hidden', 'true');
    field.style.position = 'fixed';
    field.style.opacity = '0';
    document.body.append(field);
    field.select();
    document.execCommand('copy');
    field.remove();
  }
  $('copy-host-link').textContent = t('invite.copied');
  setTimeout(() => { $('copy-host-link').textContent = t('invite.copyHost'); }, 2000);
}

// ---- side panel: People or Chat ----

function openPanel(which) {
  const already = !$('side-panel').hidden && !$(`${which}-panel`).hidden;
  if (already) {
    closePanel();
    return;
  }
  $('side-panel').hidden = false;
  $('people-panel').hidden = which !== 'people';
  $('chat-panel').hidden = which !== 'chat';
  $('side-title').textContent = t(`panel.${which}`);
  $('open-people').setAttribute('aria-pressed', String(which === 'people'));
  $('open-chat').setAttribute('aria-pressed', String(which === 'chat'));
  if (which === 'chat') {
    chat.seen();
    $('chat-input').focus();
  }
  layout.update();
}

function closePanel() {
  $('side-panel').hidden = true;
  $('open-people').setAttribute('aria-pressed', 'false');
  $('open-chat').setAttribute('aria-pressed', 'false');
  layout.update();
}

/**
 * Closed by hand (its Close button, or Escape: keyboard.js): the focus goes back to the
 * button that opened the panel, not to the top of the page with the panel gone.
 */
function dismissPanel() {
  const opener = $('chat-panel').hidden ? $('open-people') : $('open-chat');
  closePanel();
  opener.focus();
}

// ---- end screens ----

function handleEnded(info) {
  setJoining(false);
  devices.detach();
  devices.switcher = (kind, id) => devices.media.switchDevice(kind, id);
  if ($('settings-dialog').open) $('settings-dialog').close();
  if ($('leave-dialog').open) $('leave-dialog').close();
  $('connection-banner').hidden = true;
  if (info.kind === 'resume_failed') {
    // A reloaded page whose seat is gone: the join form, as for any visit.
    showJoinForm();
    return;
  }
  $('notices').replaceChildren();
  $('invite').hidden = true;
  $('participant-link').value = '';
  const texts = {
    left: [t('left.heading'), '', t('left.rejoin'), true],
    lost: [t('lost.heading'), t('lost.text'), t('left.rejoin'), true],
    ended: [t('ended.heading'), t(info.byUs ? 'ended.byYou' : 'ended.byHost'), '', false],
    error: [t(info.code === 'removed' ? 'removed.heading' : 'fatal.heading'), errorText(info.code, info.message),
      t('fatal.tryAgain'), RETRYABLE.has(info.code)],
  }[info.kind];
  showEnded(...texts);
  $('screen-ended').dataset.reason = info.kind === 'error' ? info.code : info.kind;
}

function showEnded(heading, text, buttonText, canRetry) {
  $('ended-heading').textContent = heading;
  $('ended-text').textContent = text;
  $('ended-text').hidden = !text;
  $('rejoin-button').textContent = buttonText;
  $('rejoin-button').hidden = !canRetry;
  // Never a dead end: a teacher starts the next lesson from here, anyone else finds the way.
  const host = Boolean(call && call.isHost);
  $('start-link').textContent = t(host ? 'ended.startNew' : 'ended.toStart');
  show('screen-ended');
}

/**
 * The Leave button: a participant just leaves; a host chooses between leaving (the lesson
 * goes on, with the other hosts or none) and ending it for everyone, in a dialog that is in
 * view on any screen.
 */
function askLeave() {
  if (!call || call.ended) return;
  if (!call.isHost) {
    call.leave();
    return;
  }
  $('leave-dialog').showModal();
  $('leave-only').focus();
}

function rejoin() {
  const name = validName($('name-input').value) || lastName();
  if (name) join(name);
  else show('screen-prejoin');
}

// ---- before the join form ----

/**
 * Asks GET /api/rooms/{id} whether the room is open. Resolves to {title, kind} when
 * it is, or when the answer is unknown (network trouble, a proxy's own error page):
 * then the join decides. Resolves to null only for the server's own "unknown_room".
 */
async function checkRoom() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ROOM_CHECK_TIMEOUT_MS);
  try {
    const url = `/api/rooms/${encodeURIComponent(roomId)}`;
    const res = await fetch(url, { cache: 'no-store', signal: abort.signal });
    const body = await res.json();
    if (res.status === 404 && body.code === 'unknown_room') return null;
    return {
      title: res.ok && typeof body.title === 'string' ? body.title : '',
      kind: res.ok ? body.kind : undefined,
    };
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
    $('screen-ended').dataset.reason = 'unknown_room';
    return;
  }
  setKind(room.kind);
  showTitle(room.title);
  devices.moveTo($('prejoin-devices'));
  show('screen-prejoin');
  $('name-input').focus();
  // The check starts the camera and microphone now: a "no" from the browser is seen (and
  // fixed) before joining, not after.
  devices.open();
}

// ---- page setup ----

function exposeTestHooks() {
  window.aula = {
    get publishPc() { return call ? call.publishPc : null; },
    get subscribePc() { return call ? call.subscribePc : null; },
    get you() { return call ? call.you : null; },
    get settings() { return call ? { ...call.settings } : null; },
    get waiting() { return call ? call.waiting.slice() : []; },
    get chat() { return call ? call.chat.slice() : []; },
    get speakers() { return call ? call.speakers : null; },
    get layout() { return layout.mode; },
    get connection() { return call ? call.connection : null; },
    self: () => grid.describeSelf(),
    participants: () => grid.describe(),
    screens: () => grid.describeScreens(),
    hands: () => (call ? handQueue(call).map((p) => p.id) : []),
    chimes: () => chimeCount(),
    sounds: (kind) => playedCount(kind),
    stats: () => (call ? call.stats() : Promise.resolve({})),
    timing: () => ({ joinClickedAt, firstRemoteFrameAt: grid.firstRemoteFrameAt }),
    log: () => (call ? call.log.slice() : []),
    // Sends a raw message, bypassing the page's own checks: for tests that the server
    // enforces what the page merely hides.
    send: (msg) => call && call.send(msg),
    // As when the camera ends by itself: a new camera track (for the tests, and for
    // trying from the console whether a camera came back).
    restartCamera: () => (call ? call.restartCamera() : Promise.resolve()),
    // The kinds of the page's own live camera and microphone tracks ('audio', 'video').
    localTracks: () => (call ? call.media.tracks().map(({ track }) => track)
      .filter((t) => t.readyState === 'live').map((t) => t.kind) : []),
  };
}

function setup() {
  applyI18n();
  exposeTestHooks();
  $('name-input').value = lastName();
  $('join-form').addEventListener('submit', handleJoinSubmit);
  $('leave-button').addEventListener('click', askLeave);
  setButton($('open-settings'), 'settings', t('devices.open'));
  $('open-settings').addEventListener('click', () => {
    devices.show();
    devices.listDevices();
    $('settings-dialog').showModal();
  });
  $('settings-close').addEventListener('click', () => $('settings-dialog').close());
  $('settings-dialog').addEventListener('close', () => devices.hide());
  devices.sink = (id) => grid.setSink(id);
  if (devices.prefs.speakerId) grid.setSink(devices.prefs.speakerId);
  $('leave-only').addEventListener('click', () => { $('leave-dialog').close(); if (call) call.leave(); });
  $('leave-end').addEventListener('click', () => { $('leave-dialog').close(); if (call) call.act('end_room'); });
  $('leave-cancel').addEventListener('click', () => $('leave-dialog').close());
  $('lobby-leave').addEventListener('click', () => call && call.leave());
  setupControls(() => call);
  $('toggle-hand').addEventListener('click', () => toggleHand(call));
  $('open-people').addEventListener('click', () => openPanel('people'));
  $('open-chat').addEventListener('click', () => openPanel('chat'));
  $('side-close').addEventListener('click', dismissPanel);
  $('copy-link').addEventListener('click', copyLink);
  $('invite-collapse').addEventListener('click', () => collapseInvite(true));
  $('invite-expand').addEventListener('click', () => collapseInvite(false));
  setButton($('invite-expand'), 'people', t('invite.expand'), true);
  $('copy-host-link').addEventListener('click', copyHostLink);
  $('rejoin-button').addEventListener('click', rejoin);
  $('reconnect-now').addEventListener('click', () => call && call.reconnectNow());
  setupKeyboard();
  setButton($('leave-button'), 'leave', t('controls.leave'), true);
  setButton($('copy-link'), 'copy', t('invite.copy'), true);
  setButton($('open-people'), 'people', t('panel.people'));
  setButton($('open-chat'), 'chat', t('panel.chat'));
  new MutationObserver(tidyNotices).observe($('notices'), { childList: true });
  grid.onneedsound = () => showSoundPrompt();
  grid.onchange = () => layout.schedule();
  grid.onhideself = () => layout.setSelfHidden(true);
  grid.onpin = (node) => layout.pin(node);
  grid.oncount = (n) => {
    $('people-count').textContent = t('people.count', { n });
    $('people-count').hidden = n === 0;
  };
  // Closing or reloading the tab: say goodbye, but that we may be back in a moment (a
  // reload); the others see us go a few seconds later if we are not.
  window.addEventListener('pagehide', () => {
    // Whatever the page was doing (in the lobby, turned away, in the lesson): a reload keeps
    // the tab's session only if it comes within a minute of this (store.js).
    rememberUnload(roomId);
    if (call) call.unload();
  });
  // A page the browser kept and brings back (back, then forward) has said goodbye: loading
  // it again resumes the seat, as a reload does.
  window.addEventListener('pageshow', (event) => { if (event.persisted && call && call.ended) window.location.reload(); });
  if (!roomId || !secret) showEnded(t('fatal.heading'), errorText('no_secret'), '', false);
  else if (resumeTokenFor(roomId)) resume();
  else showJoinForm();
}

/** A reloaded page: straight back into its seat, no form. */
function resume() {
  show('screen-resuming');
  startCall(lastName());
}

function showSoundPrompt() {
  if ($('enable-sound')) return;
  const button = document.createElement('button');
  button.id = 'enable-sound';
  button.type = 'button';
  button.className = 'notice sound';
  setButton(button, 'speaker', t('tile.enableSound'), true);
  button.onclick = () => {
    grid.enableSound();
    button.remove();
  };
  $('notices').append(button);
}

setup();
