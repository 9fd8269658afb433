// The People panel: who is here, and for hosts everything a host may do
// (docs/protocol.md, "Client -> server: hosts only").
//
// Everyone sees the list of people with their role and microphone/camera state, raised
// hands first. Hosts also see, in this order: the raised hands (hands.js, with "Lower all
// hands"), the waiting room (Admit, Deny, Admit all), per-person actions (mute, stop camera, stop screen, make host / remove
// host, remove), and the room's controls (mute all, the settings switches, renew the
// participant link, end for all). The server enforces all of it anyway; the panel
// only leaves out what would be refused.
//
// The panel is rebuilt from the Call's state whenever that changes; it holds none.

import { t } from './i18n.js';
import { handsSection } from './hands.js';
import { $, el, nameSpan, textButton } from './ui.js';

// The settings switches, in the order shown (docs/protocol.md, the settings table).
const SETTINGS = ['lobby', 'locked', 'chat', 'unmute', 'video', 'screen'];

function actionButton(label, action, run, className) {
  const button = textButton(label, run, className);
  button.dataset.action = action;
  return button;
}

function section(id, heading) {
  const node = el('section', 'panel-section');
  node.id = id;
  node.append(el('h3', '', heading));
  return node;
}

function waitingSection(call) {
  if (!call.isHost || call.waiting.length === 0) return null;
  const node = section('waiting-list', t('lobby.waitingHeading', { n: call.waiting.length }));
  const list = el('ul', 'rows');
  for (const w of call.waiting) {
    const row = el('li', 'row');
    row.dataset.waitingId = w.id;
    row.append(
      nameSpan('row-name', w.name),
      actionButton(t('lobby.admit'), 'admit', () => call.act('admit', { participant: w.id }), 'primary small'),
      actionButton(t('lobby.deny'), 'deny', () => call.act('deny', { participant: w.id })),
    );
    list.append(row);
  }
  node.append(
    list,
    actionButton(t('lobby.admitAll'), 'admit_all', () => call.act('admit_all'), 'primary small'),
    actionButton(t('lobby.denyAll'), 'deny_all', () => call.act('deny_all'), 'small'),
  );
  return node;
}

/** The host actions for one other person. */
function memberActions(call, p) {
  const target = { participant: p.id };
  const actions = [];
  const add = (key, action, fields = target) => actions.push(
    actionButton(t(key), action, () => call.act(action, fields)),
  );
  if (p.audio) add('host.mute', 'mute');
  if (p.video) add('host.stopVideo', 'stop_video');
  if (p.screen) add('host.stopScreen', 'stop_screen');
  if (call.spotlight === p.id) add('host.endSpotlight', 'spotlight', { participant: null });
  else add('host.spotlight', 'spotlight');
  // A host who came with the host link answers only to the room's lead (the server refuses
  // anyone else): a student who read the link off a screen cannot remove the teacher.
  if (p.host_link && !call.lead) return actions;
  if (p.role === 'host') add('host.removeHost', 'set_role', { ...target, role: 'participant' });
  else add('host.makeHost', 'set_role', { ...target, role: 'host' });
  actions.push(actionButton(t('host.remove'), 'remove', () => confirmRemove(call, p), 'danger small'));
  return actions;
}

function confirmRemove(call, p) {
  const row = document.querySelector(`[data-member-id="${CSS.escape(p.id)}"]`);
  if (!row) return;
  const ask = el('div', 'confirm');
  // The removed person's device is barred, but another device with the same link is not:
  // a new link in the same step closes that door. Without a waiting room the old link lets
  // anyone straight in, so there it is ticked already.
  // Someone who came with the host link could come back with it: that link is renewed
  // (ticked), and only the lead, who gets the new one, can do that.
  const renew = el('input');
  renew.type = 'checkbox';
  renew.id = 'remove-renew';
  renew.checked = p.host_link || !call.settings.lobby;
  const renewLabel = el('label', 'check', '');
  renewLabel.append(renew, el('span', '', t(p.host_link ? 'host.removeRenewHost' : 'host.removeRenew')));
  const remove = () => {
    call.act('remove', { participant: p.id });
    if (renew.checked) call.act(p.host_link ? 'renew_host_link' : 'renew_link');
  };
  ask.append(
    el('span', '', t('host.removeConfirm', { name: p.name })),
    renewLabel,
    actionButton(t('host.remove'), 'confirm_remove', remove, 'danger small'),
    textButton(t('common.cancel'), () => ask.remove()),
  );
  row.append(ask);
}

function memberRow(call, p, isSelf) {
  const row = el('li', 'row member');
  row.dataset.memberId = p.id;
  const name = isSelf ? t('tile.you', { name: p.name }) : p.name;
  const state = [t(`role.${p.role}`)];
  if (p.audio) state.push(t('people.micOn'));
  if (p.video) state.push(t('people.camOn'));
  if (p.screen) state.push(t('people.sharing'));
  const info = nameSpan('row-name', name);
  info.append(el('small', 'row-state', state.join(' · ')));
  row.append(info);
  if (call.isHost && !isSelf) row.append(el('span', 'row-actions'));
  if (call.isHost && !isSelf) row.lastChild.append(...memberActions(call, p));
  return row;
}

function membersSection(call) {
  const everyone = [...call.members.values()];
  const node = section('member-list', t('people.heading', { n: everyone.length + 1 }));
  const list = el('ul', 'rows');
  if (call.you) list.append(memberRow(call, call.you, true));
  // Raised hands first, in the order raised; then hosts, then by name.
  const hand = (p) => (p.hand === null || p.hand === undefined ? Infinity : p.hand);
  const byRole = (a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'host' ? -1 : 1);
  const order = (a, b) => (hand(a) !== hand(b) ? (hand(a) < hand(b) ? -1 : 1) : byRole(a, b));
  for (const p of everyone.sort(order)) list.append(memberRow(call, p, false));
  node.append(list);
  return node;
}

function settingSwitch(call, field) {
  const label = el('label', 'switch');
  const box = el('input');
  box.type = 'checkbox';
  box.id = `setting-${field}`;
  box.checked = Boolean(call.settings[field]);
  box.addEventListener('change', () => call.act('settings', { [field]: box.checked }));
  label.append(box, el('span', '', t(`settings.${field}`)));
  return label;
}

function roomSection(call) {
  if (!call.isHost) return null;
  const node = section('room-controls', t('host.roomHeading'));
  node.append(actionButton(t('host.muteAll'), 'mute_all', () => call.act('mute_all')));
  const switches = el('div', 'switches');
  for (const field of SETTINGS) switches.append(settingSwitch(call, field));
  node.append(switches);
  node.append(actionButton(t('host.renewLink'), 'renew_link', () => call.act('renew_link')));
  node.append(el('p', 'hint', t('host.renewHint')));
  if (call.lead) {
    node.append(actionButton(t('host.renewHostLink'), 'renew_host_link', () => call.act('renew_host_link')));
    node.append(el('p', 'hint', t('host.renewHostHint')));
  }
  const end = actionButton(t('host.endForAll'), 'end_room', () => confirmEnd(call, node), 'danger');
  node.append(end);
  return node;
}

function confirmEnd(call, node) {
  if (node.querySelector('.confirm')) return;
  const ask = el('div', 'confirm');
  ask.append(
    el('span', '', t('host.endConfirm')),
    actionButton(t('host.endNow'), 'confirm_end', () => call.act('end_room'), 'danger small'),
    textButton(t('common.cancel'), () => ask.remove()),
  );
  node.append(ask);
  // At the bottom of a long panel: brought into view, whatever the screen's height.
  ask.scrollIntoView({ block: 'nearest' });
  ask.querySelector('[data-action="confirm_end"]').focus();
}

/**
 * Where the keyboard focus is in the panel, as something to find again in a new one: the
 * element's id, or its action within the row of whom it acts on.
 */
function focusKey(panel) {
  const focused = document.activeElement;
  if (!focused || !panel.contains(focused) || focused === panel) return null;
  const row = focused.closest('[data-member-id], [data-waiting-id], [data-hand-id]');
  return {
    id: focused.id || null,
    action: focused.dataset.action || null,
    row: row ? ['member', 'waiting', 'hand'].map((k) => [k, row.dataset[`${k}Id`]]).find(([, v]) => v) : null,
  };
}

function refocus(panel, key) {
  if (!key) return;
  let found = key.id ? panel.querySelector(`#${CSS.escape(key.id)}`) : null;
  if (!found && key.action) {
    const row = key.row ? `[data-${key.row[0]}-id="${CSS.escape(key.row[1])}"] ` : '';
    found = panel.querySelector(`${row}[data-action="${CSS.escape(key.action)}"]`);
  }
  if (found) found.focus({ preventScroll: true });
}

/**
 * Rebuilds the People panel from `call`. The focus stays on the control it was on (every
 * quality change, hand or microphone of anyone redraws the panel: a teacher tabbing to "Mute
 * Ben", or a screen reader on a switch, lost her place to the page's top each time).
 */
export function renderPeople(call) {
  const panel = $('people-panel');
  // A confirmation being asked keeps the panel still; the next change redraws it.
  if (panel.querySelector('.confirm')) return;
  const key = focusKey(panel);
  const parts = [handsSection(call), waitingSection(call), membersSection(call), roomSection(call)];
  panel.replaceChildren(...parts.filter(Boolean));
  refocus(panel, key);
}
