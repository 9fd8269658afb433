// The start page: a teacher (or whoever calls a meeting) creates a room (POST
// /api/rooms with its kind and whether the waiting room is on) and is sent to its host
// link. The room page shows the participant link from there (the server sends it to
// hosts in `joined`); all this browser remembers is the room's creator key (store.js),
// which keeps the teacher the room's lead if she closes her tab and comes back.
//
// Where only staff may start rooms (GET /api/staff says `room_creation: "staff"`), the
// page asks for a sign-in first (POST /api/staff/sign-in; the session is an HttpOnly
// cookie this script never sees), and again if the session ran out meanwhile.

import { applyI18n, setRoomKind, t } from './i18n.js';
import { rememberCreatorKey } from './store.js';
import { showFieldError } from './ui.js';

const form = document.getElementById('start-form');
const titleInput = document.getElementById('room-title');
const button = document.getElementById('start-button');
const errorBox = document.getElementById('start-error');
const lobbyBox = document.getElementById('lobby-on');
const signInForm = document.getElementById('sign-in-form');
const signInName = document.getElementById('sign-in-name');
const signInPassword = document.getElementById('sign-in-password');
const signInButton = document.getElementById('sign-in-button');
const signInError = document.getElementById('sign-in-error');
const signedInLine = document.getElementById('signed-in');
const signedInAs = document.getElementById('signed-in-as');
// The name signed in as, shown beside "Sign out"; null where rooms are open to all.
let staffUser = null;
// Until the user sets the waiting room by hand, it follows the kind's default
// (docs/protocol.md: on for classes, off for meetings).
let lobbyTouched = false;

function kind() {
  return document.getElementById('kind-meeting').checked ? 'meeting' : 'class';
}

async function createRoom(title) {
  const body = { kind: kind(), lobby: lobbyBox.checked };
  if (title) body.title = title;
  const res = await fetch('/api/rooms', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status === 401) {
    const err = new Error('sign-in required');
    err.signIn = true;
    throw err;
  }
  if (res.status !== 201) throw new Error(`POST /api/rooms answered ${res.status}`);
  return res.json();
}

async function post(path, body) {
  return fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
}

/** Shows the sign-in form or the start form, as GET /api/staff says. */
async function showForms() {
  let status = { room_creation: 'open', user: null };
  try {
    const res = await fetch('/api/staff', { cache: 'no-store' });
    if (res.ok) status = await res.json();
  } catch (err) {
    // The start form's own request will say what is wrong.
    console.error('aula: GET /api/staff failed', err);
  }
  staffUser = status.user;
  const mustSignIn = status.room_creation === 'staff' && !staffUser;
  signInForm.hidden = !mustSignIn;
  form.hidden = mustSignIn;
  signedInLine.hidden = !staffUser;
  if (staffUser) signedInAs.textContent = t('signIn.as', { name: staffUser });
  (mustSignIn ? signInName : titleInput).focus();
}

function signInMessage(res, body) {
  if (res.status === 429) {
    const minutes = Math.max(1, Math.ceil(Number(res.headers.get('retry-after') || 60) / 60));
    return t('signIn.throttled', { minutes });
  }
  const known = ['wrong_credentials', 'directory_unavailable', 'server_busy'];
  return t(known.includes(body?.code) ? `signIn.${body.code}` : 'signIn.failed');
}

/**
 * The sign-in error, tied to the fields it is about: the empty ones, or both when the
 * name or the password is wrong (which one, the server rightly does not say).
 */
function showSignInError(text, fields = []) {
  showFieldError(signInError, '', [signInName, signInPassword]);
  showFieldError(signInError, text, fields);
}

async function onSignIn(event) {
  event.preventDefault();
  showSignInError('');
  const name = signInName.value.trim();
  const password = signInPassword.value;
  if (!name || !password) {
    showSignInError(t('signIn.missing'), [!name && signInName, !password && signInPassword].filter(Boolean));
    return;
  }
  signInButton.disabled = true;
  try {
    const res = await post('/api/staff/sign-in', { name, password });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      const wrong = body?.code === 'wrong_credentials' ? [signInName, signInPassword] : [];
      showSignInError(signInMessage(res, body), wrong);
      signInPassword.select();
      return;
    }
    signInPassword.value = '';
    await showForms();
  } catch (err) {
    console.error('aula: signing in failed', err);
    showSignInError(t('signIn.failed'));
  } finally {
    signInButton.disabled = false;
  }
}

async function onSignOut() {
  await post('/api/staff/sign-out').catch(() => {});
  await showForms();
}

function buttonText() {
  return t(kind() === 'meeting' ? 'start.buttonMeeting' : 'start.button');
}

function setBusy(busy) {
  button.disabled = busy;
  button.textContent = busy ? t('start.starting') : buttonText();
}

function handleKindChange() {
  if (!lobbyTouched) lobbyBox.checked = kind() === 'class';
  setRoomKind(kind());
  applyI18n();
  setBusy(false);
}

async function onSubmit(event) {
  event.preventDefault();
  errorBox.hidden = true;
  setBusy(true);
  try {
    const room = await createRoom(titleInput.value.trim().slice(0, 80));
    rememberCreatorKey(room.id, room.creator_key);
    location.assign(room.host_url);
  } catch (err) {
    if (err.signIn) {
      // The session ran out (or the account was removed) since the page loaded.
      setBusy(false);
      await showForms();
      return;
    }
    console.error('aula: starting a room failed', err);
    errorBox.textContent = t('start.failed');
    errorBox.hidden = false;
    setBusy(false);
  }
}

applyI18n();
form.addEventListener('submit', onSubmit);
signInForm.addEventListener('submit', onSignIn);
document.getElementById('sign-out-button').addEventListener('click', onSignOut);
showForms();
for (const radio of form.querySelectorAll('input[name="kind"]')) radio.addEventListener('change', handleKindChange);
lobbyBox.addEventListener('change', () => { lobbyTouched = true; });
// Coming back with the browser's back button must not leave the button disabled.
window.addEventListener('pageshow', () => setBusy(false));
