// The first-account page (/setup#t=TOKEN): the link the server prints at its first start,
// when staff must sign in to start rooms and nobody has an account yet. The token leaves
// the address bar at once (like a room link's secret); the account is made with
// POST /api/staff/setup, which also signs its owner in, and the start page follows.

import { applyI18n, t } from './i18n.js';
import { showFieldError } from './ui.js';

const token = new URLSearchParams(location.hash.slice(1)).get('t') || '';
history.replaceState(null, '', location.pathname);

const form = document.getElementById('setup-form');
const nameInput = document.getElementById('setup-name');
const password = document.getElementById('setup-password');
const again = document.getElementById('setup-again');
const button = document.getElementById('setup-button');
const errorBox = document.getElementById('setup-error');

function fail(key, field) {
  showFieldError(errorBox, t(key), field ? [field] : []);
  if (field) field.focus();
}

async function onSubmit(event) {
  event.preventDefault();
  showFieldError(errorBox, '', [nameInput, password, again]);
  const name = nameInput.value.trim();
  if (!name || /[\s:]/.test(name)) return fail('setup.badName', nameInput);
  if ([...password.value].length < 8) return fail('setup.weakPassword', password);
  if (password.value !== again.value) return fail('setup.mismatch', again);
  button.disabled = true;
  try {
    const res = await fetch('/api/staff/setup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, name, password: password.value }),
    });
    if (res.status === 201) {
      location.assign('/');
      return;
    }
    const body = await res.json().catch(() => null);
    const known = { bad_setup_token: null, bad_name: nameInput, weak_password: password };
    if (body && body.code in known) fail(`setup.${body.code}`, known[body.code]);
    else fail('setup.failed');
  } catch (err) {
    console.error('aula: creating the first account failed', err);
    fail('setup.failed');
  } finally {
    button.disabled = false;
  }
}

applyI18n();
if (!token) fail('setup.bad_setup_token');
form.addEventListener('submit', onSubmit);
nameInput.focus();
