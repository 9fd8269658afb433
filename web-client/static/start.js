// The start page: a teacher (or whoever calls a meeting) creates a room (POST
// /api/rooms with its kind and whether the waiting room is on) and is sent to its host
// link. The room page shows the participant link from there (the server sends it to
// hosts in `joined`), so nothing needs remembering here.

import { applyI18n, setRoomKind, t } from './i18n.js';

const form = document.getElementById('start-form');
const titleInput = document.getElementById('room-title');
const button = document.getElementById('start-button');
const errorBox = document.getElementById('start-error');
const lobbyBox = document.getElementById('lobby-on');
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
  if (res.status !== 201) throw new Error(`POST /api/rooms answered ${res.status}`);
  return res.json();
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
    location.assign(room.host_url);
  } catch (err) {
    console.error('aula: starting a room failed', err);
    errorBox.textContent = t('start.failed');
    errorBox.hidden = false;
    setBusy(false);
  }
}

applyI18n();
form.addEventListener('submit', onSubmit);
for (const radio of form.querySelectorAll('input[name="kind"]')) radio.addEventListener('change', handleKindChange);
lobbyBox.addEventListener('change', () => { lobbyTouched = true; });
// Coming back with the browser's back button must not leave the button disabled.
window.addEventListener('pageshow', () => setBusy(false));
