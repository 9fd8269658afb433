// The start page: a teacher creates a room (POST /api/rooms) and is sent to its
// teacher link. The room page shows the student link from there (the server sends it
// to teachers in `joined`), so nothing needs remembering here.

import { applyI18n, t } from './i18n.js';

const form = document.getElementById('start-form');
const titleInput = document.getElementById('room-title');
const button = document.getElementById('start-button');
const errorBox = document.getElementById('start-error');

async function createRoom(title) {
  const body = title ? JSON.stringify({ title }) : '{}';
  const res = await fetch('/api/rooms', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  if (res.status !== 201) throw new Error(`POST /api/rooms answered ${res.status}`);
  return res.json();
}

function setBusy(busy) {
  button.disabled = busy;
  button.textContent = t(busy ? 'start.starting' : 'start.button');
}

async function onSubmit(event) {
  event.preventDefault();
  errorBox.hidden = true;
  setBusy(true);
  try {
    const room = await createRoom(titleInput.value.trim().slice(0, 80));
    location.assign(room.teacher_url);
  } catch (err) {
    console.error('aula: starting a class failed', err);
    errorBox.textContent = t('start.failed');
    errorBox.hidden = false;
    setBusy(false);
  }
}

applyI18n();
form.addEventListener('submit', onSubmit);
// Coming back with the browser's back button must not leave the button disabled.
window.addEventListener('pageshow', () => setBusy(false));
