// The waiting room, from both sides (docs/protocol.md, "lobby").
//
// A participant who waits sees the lobby screen: "Waiting for the teacher to let you
// in" and a Leave button; nothing else of the room reaches it. Hosts get a badge on
// the People button with the number waiting, a notice with an Admit button and a
// short chime (made with WebAudio, no sound file) whenever someone arrives; the list
// itself, with Admit, Deny and Admit all, is in the People panel (hostpanel.js).

import { t } from './i18n.js';
import { $, setBadge, showNotice } from './ui.js';

let audio = null;
let chimes = 0;

/** Two short soft tones. Never throws: no sound is better than a broken page. */
export function chime() {
  chimes += 1;
  try {
    // Safari before 14.1 (iPads that cannot update further) has only the prefixed name.
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const start = audio.currentTime + 0.01;
    [660, 880].forEach((freq, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      const at = start + i * 0.16;
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.15, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.28);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.3);
    });
  } catch (err) {
    console.info('aula: no chime', err);
  }
}

/** How many chimes played (for tests). */
export function chimeCount() {
  return chimes;
}

/** The lobby screen of a waiting participant. */
export function showLobbyScreen() {
  $('lobby-heading').textContent = t('lobby.heading');
  $('lobby-text').textContent = t('lobby.text');
  $('queue-position').hidden = true;
}

/** About how long, in words: seconds under two minutes, then minutes. */
function waitText(secs) {
  if (secs < 120) return t('queue.seconds', { n: Math.max(5, Math.ceil(secs / 5) * 5) });
  return t('queue.minutes', { n: Math.round(secs / 60) });
}

/**
 * The same screen while the server's join queue holds us (docs/protocol.md, `queued`):
 * a calm message, the place in line and the wait when the server knows them; without a
 * place (the queue itself was full) that the page keeps trying.
 */
export function showQueueScreen({ position, waitSecs }) {
  $('lobby-heading').textContent = t('queue.heading');
  $('lobby-text').textContent = t('queue.text');
  const line = $('queue-position');
  line.hidden = false;
  line.textContent = position
    ? [t('queue.position', { position }), waitSecs ? t('queue.wait', { time: waitText(waitSecs) }) : '']
      .join(' ').trim()
    : t('queue.retrying');
}

/** Hosts: how many wait in the server's queue to enter this room (a notice, 0 clears it). */
export function handleServerQueue(waiting) {
  const id = 'server-queue-notice';
  if (waiting > 0) showNotice(t('queue.host', { n: waiting }), { id });
  else if (document.getElementById(id)) document.getElementById(id).remove();
}

/**
 * Hosts: keeps the People badge at the number waiting, and chimes and shows a notice
 * for every arrival. `admit(id)` admits one.
 */
export function handleWaiting(call, { waiting, arrived }, admit) {
  setBadge($('people-badge'), waiting.length);
  $('open-people').classList.toggle('attention', waiting.length > 0);
  // Notices of people no longer waiting go away.
  for (const box of document.querySelectorAll('[id^="waiting-notice-"]')) {
    const id = box.id.slice('waiting-notice-'.length);
    if (!waiting.some((w) => w.id === id)) box.remove();
  }
  if (!call.isHost || arrived.length === 0) return;
  chime();
  for (const id of arrived) {
    const who = waiting.find((w) => w.id === id);
    if (!who) continue;
    showNotice(t('lobby.arrived', { name: who.name }), {
      id: `waiting-notice-${id}`,
      action: { label: t('lobby.admit'), run: () => admit(id) },
    });
  }
}
