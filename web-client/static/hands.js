// Raised hands (docs/protocol.md, `raise_hand`, `lower_hand`).
//
// Every participant object carries `hand`: null, or a number that grows with the time
// of raising, so the queue is the raised hands sorted by it. The hand button raises
// and lowers our own; hosts see the queue in the People panel, in order, with a
// "Lower" button per hand. Tiles show a hand icon (tiles.js, data-hand).

import { t } from './i18n.js';
import { $, el, setButton, textButton } from './ui.js';

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
    row.append(el('span', 'row-name', who));
    const lower = textButton(t('hand.lowerFor'), () => call.lowerHand(p.id));
    lower.dataset.action = 'lower_hand';
    row.append(lower);
    list.append(row);
  }
  section.append(list);
  return section;
}
