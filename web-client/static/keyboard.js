// Keyboard shortcuts in the call, and their help dialog (room.html, #keys-dialog).
//
// A shortcut presses its button, so it does exactly what a click does and nothing more:
// a disabled button (no microphone, or the teacher does not allow it) stays disabled,
// and the labels, notices and messages are the button's own. Keys count only while the
// call shows, never while typing (input, textarea, select, contenteditable) and never
// with Ctrl, Alt or Meta, which belong to the browser and to screen readers.
//
// Space held while the microphone is off turns it on until Space is let go (push to
// talk). On a focused button, link or checkbox Space keeps its usual meaning (pressing
// it): taking it away would lock keyboard users out of every control.
//
// Escape closes the side panel (through its Close button, which gives the focus back to
// the button that opened it); the dialog closes on Escape by itself (<dialog>).

import { $ } from './ui.js';

// key → the button it presses; the help dialog lists the same keys (room.html).
const SHORTCUTS = {
  m: 'toggle-mic',
  v: 'toggle-cam',
  h: 'toggle-hand',
  c: 'open-chat',
  p: 'open-people',
};

// Where a key press is someone typing (or choosing from a list), not a shortcut.
const TYPING = 'input, textarea, select, [contenteditable]:not([contenteditable="false"])';
// Where Space already presses something.
const PRESSABLE = `button, a[href], summary, [role="button"], [tabindex]:not([tabindex="-1"]), ${TYPING}`;

// Whether Space turned the microphone on, so that letting go turns it off again.
let talking = false;

function inCall() {
  // No shortcuts behind a modal dialog (the keys, or the host's Leave question).
  return !$('screen-call').hidden && !document.querySelector('dialog[open]');
}

/** Presses the button with id `id` if it is there and enabled; true if it was pressed. */
function press(id) {
  const button = $(id);
  if (!button || button.hidden || button.disabled) return false;
  button.click();
  return true;
}

function micOn() {
  return $('toggle-mic').getAttribute('aria-pressed') === 'true';
}

function startTalking() {
  if (micOn() || !press('toggle-mic')) return;
  // The button may have refused (the settings forbid the microphone): then nothing to undo.
  talking = micOn();
}

function stopTalking() {
  if (!talking) return;
  talking = false;
  // Someone may have muted us meanwhile: pressing then would turn the microphone on.
  if (micOn()) press('toggle-mic');
}

function handleKeydown(event) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.isComposing || !inCall()) return;
  const target = event.target instanceof Element ? event.target : document.body;
  if (event.key === 'Escape') {
    if (!$('side-panel').hidden && press('side-close')) event.preventDefault();
    return;
  }
  if (target.closest(TYPING)) return;
  if (event.key === ' ' && !target.closest(PRESSABLE)) {
    // Held keys repeat: only the first press counts; none may scroll the page.
    event.preventDefault();
    if (!event.repeat) startTalking();
    return;
  }
  if (event.key === '?') {
    event.preventDefault();
    openHelp();
    return;
  }
  const id = !event.shiftKey && SHORTCUTS[event.key];
  // A held key repeats some 30 times a second: only its first press toggles (held, "m" left
  // the microphone in whichever state the last repeat hit, and spent the page's message
  // budget). Handled keys go no further: "c" focuses the chat box, and must not land in it.
  if (id && (event.repeat || press(id))) event.preventDefault();
}

function handleKeyup(event) {
  if (event.key === ' ') stopTalking();
}

function openHelp() {
  const dialog = $('keys-dialog');
  if (dialog.open) return;
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    // Back where the reader was (Escape, the Close button, or the form's own close).
    if (opener && opener !== document.body && opener.isConnected) opener.focus();
  }, { once: true });
  dialog.showModal();
}

/** Wires the keys, the help button and the dialog's Close button. */
export function setupKeyboard() {
  document.addEventListener('keydown', handleKeydown);
  document.addEventListener('keyup', handleKeyup);
  // A window that loses the focus never hears Space let go.
  window.addEventListener('blur', stopTalking);
  for (const [key, id] of Object.entries(SHORTCUTS)) $(id).setAttribute('aria-keyshortcuts', key.toUpperCase());
  $('open-keys').setAttribute('aria-keyshortcuts', '?');
  $('open-keys').addEventListener('click', openHelp);
  $('keys-close').addEventListener('click', () => $('keys-dialog').close());
}
