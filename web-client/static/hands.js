// Raised hands (docs/protocol.md, `raise_hand`, `lower_hand`).
//
// Every participant object carries `hand`: null, or a number that grows with the time
// of raising, so the queue is the raised hands sorted by it. The hand button raises
// and lowers our own. A raised hand must not be missed, wherever the teacher looks: hosts
// get a notice with the name and a Lower button (gone when the hand is), a soft tone, the
// count on the People button's badge (with those waiting in the lobby), and the queue in
// order at the top of the People panel with "Lower all hands". Tiles with a raised hand
// are marked and come first in the lecture strip (tiles.js, layout.js).

import { t } from './i18n.js';
import { play } from './sound.js';
import {
  $, el, nameSpan, setBadge, setButton, showNotice, textButton,
} from './ui.js';

function raised(p) {
  return p && p.hand !== null && p.hand !== undefined;
}

/** Everyone with a raised hand (us included), first raised first. */
export function handQueue(call) {
  const everyone = [...call.members.values()];
  if (call.you) everyone.push(call.you);
  return everyone.filter(raised).sort((a, b) => a.hand - b.hand);
}

/** The hand button follows our own `hand`. */
export function updateHandButton(call) {
  const up = raised(call.you);
  const button = $('toggle-hand');
  setButton(button, 'hand', t(up ? 'hand.lower' : 'hand.raise'));
  button.setAttribute('aria-pressed', String(up));
  button.disabled = !call.you;
}

export function toggleHand(call) {
  if (!call || !call.you || call.ended) return;
  if (raised(call.you)) call.lowerHand();
  else call.raiseHand();
}

/**
 * Someone else's hand went up (`raised`) or down. Hosts: a notice with a Lower button and
 * a soft tone when it goes up; the notice goes when the hand does.
 */
export function announceHand(call, p, raised) {
  const id = `hand-notice-${p.id}`;
  if (!raised || !call.isHost) {
    if (document.getElementById(id)) document.getElementById(id).remove();
    return;
  }
  play('hand');
  const box = showNotice(t('hand.raised', { name: p.name }), {
    id,
    action: { label: t('hand.lowerFor'), run: () => call.lowerHand(p.id) },
    // It stays while the hand is up: the teacher may be talking.
    sticky: true,
  });
  box.classList.add('hand-notice');
}

/**
 * The People button's badge: for hosts, those waiting in the lobby and the hands up; and
 * no notice left for a hand that is down (lowered while our socket was away).
 */
export function updatePeopleBadge(call) {
  for (const box of document.querySelectorAll('[id^="hand-notice-"]')) {
    const p = call && call.members.get(box.id.slice('hand-notice-'.length));
    if (!p || !raised(p) || !call.isHost) box.remove();
  }
  const n = call && call.isHost ? call.waiting.length + handQueue(call).filter((p) => p !== call.you).length : 0;
  setBadge($('people-badge'), n);
  $('open-people').classList.toggle('attention', n > 0);
  const label = n > 0 ? `${t('panel.people')} (${t('people.attention', { n })})` : t('panel.people');
  $('open-people').setAttribute('aria-label', label);
  $('open-people').title = label;
}

/** The queue as a section of the People panel (hosts), or null when no hand is up. */
export function handsSection(call) {
  const queue = handQueue(call);
  if (!call.isHost || queue.length === 0) return null;
  const section = el('section', 'panel-section hands');
  section.id = 'hand-queue';
  section.append(el('h3', '', t('hand.queue', { n: queue.length })));
  const list = el('ol', 'rows');
  for (const p of queue) {
    const row = el('li', 'row');
    row.dataset.handId = p.id;
    const who = p.id === call.you.id ? t('tile.you', { name: p.name }) : p.name;
    row.append(nameSpan('row-name', who));
    const lower = textButton(t('hand.lowerFor'), () => call.lowerHand(p.id));
    lower.dataset.action = 'lower_hand';
    row.append(lower);
    list.append(row);
  }
  section.append(list);
  if (queue.length > 1) {
    const all = textButton(t('hand.lowerAll'), () => call.act('lower_all_hands'));
    all.dataset.action = 'lower_all_hands';
    section.append(all);
  }
  return section;
}
