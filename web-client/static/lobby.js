// The waiting room, from both sides (docs/protocol.md, "lobby").
//
// A participant who waits sees the lobby screen: "Waiting for the teacher to let you
// in" and a Leave button; nothing else of the room reaches it. Hosts get a badge on
// the People button with the number waiting (and hands raised, hands.js), a notice with an
// Admit button and a short chime (sound.js) whenever someone arrives; the list
// itself, with Admit, Deny and Admit all, is in the People panel (hostpanel.js).

import { t } from './i18n.js';
import { playedCount, play } from './sound.js';
import { $, showNotice } from './ui.js';

/** How many lobby chimes played (for tests). */
export function chimeCount() {
  return playedCount('lobby');
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
 * Hosts: chimes and shows a notice for every arrival (the People badge follows in
 * hands.js, updatePeopleBadge). `admit(id)` admits one.
 */
export function handleWaiting(call, { waiting, arrived }, admit) {
  // Notices of people no longer waiting go away.
  for (const box of document.querySelectorAll('[id^="waiting-notice-"]')) {
    const id = box.id.slice('waiting-notice-'.length);
    if (!waiting.some((w) => w.id === id)) box.remove();
  }
  if (!call.isHost || arrived.length === 0) return;
  play('lobby');
  for (const id of arrived) {
    const who = waiting.find((w) => w.id === id);
    if (!who) continue;
    showNotice(t('lobby.arrived', { name: who.name }), {
      id: `waiting-notice-${id}`,
      sticky: true,
      action: { label: t('lobby.admit'), run: () => admit(id) },
    });
  }
}
