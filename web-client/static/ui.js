// Small helpers shared by the room page's modules: building elements, labelling icon
// buttons, and the notices strip at the top of the call.
//
// User text (names, chat) only ever goes into textContent, never into innerHTML.

import { icon } from './icons.js';
import { errorText, t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

/** <tag class=className>text</tag>; text goes in as textContent. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A plain text button that calls `onclick`. */
export function textButton(label, onclick, className = 'secondary small') {
  const button = el('button', className, label);
  button.type = 'button';
  button.addEventListener('click', onclick);
  return button;
}

/**
 * Gives `button` an icon and an accessible label (and the label as visible text if
 * `withText`). A count badge inside the button (.count-badge) is kept.
 */
export function setButton(button, iconName, label, withText = false) {
  const badge = button.querySelector('.count-badge');
  button.replaceChildren(icon(iconName));
  if (withText) button.append(el('span', '', label));
  if (badge) button.append(badge);
  button.setAttribute('aria-label', label);
  button.title = label;
}

/**
 * Shows `text` in the error element `box` (hidden when empty), tied to the `fields` it is
 * about: a screen reader then says "invalid" and the reason when the field has the focus,
 * not only once when the message appears. An empty text, or `tie` false (an error that is
 * not about what was typed), unties them.
 */
export function showFieldError(box, text, fields, tie = true) {
  box.textContent = text;
  box.hidden = !text;
  for (const field of fields) {
    if (text && tie) {
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', box.id);
    } else {
      field.removeAttribute('aria-invalid');
      field.removeAttribute('aria-describedby');
    }
  }
}

/** Shows a number in a .count-badge; 0 hides it. */
export function setBadge(badge, n) {
  badge.textContent = String(n);
  badge.hidden = !n;
}

/** A dismissable notice at the top of the call; `key` is an i18n key or literal text. */
export function showNotice(text, { id, action } = {}) {
  if (id && document.getElementById(id)) document.getElementById(id).remove();
  const box = el('div', 'notice');
  if (id) box.id = id;
  box.setAttribute('role', 'status');
  box.append(el('span', '', text));
  if (action) box.append(textButton(action.label, () => { box.remove(); action.run(); }, 'link'));
  box.append(textButton(t('notice.dismiss'), () => box.remove(), 'link'));
  $('notices').append(box);
  return box;
}

/** The text for an i18n key that may name a server error ('error.forbidden'). */
export function keyText(key) {
  return key.startsWith('error.') ? errorText(key.slice(6)) : t(key);
}
