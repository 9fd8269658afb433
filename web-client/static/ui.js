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

/**
 * A <span> for a person's name (text only): laid out in the name's own direction, so an
 * Arabic or Hebrew name reads right to left and does not pull "(you)" or a role around.
 */
export function nameSpan(className, text) {
  const span = el('span', className, text);
  span.dir = 'auto';
  return span;
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

// How long a notice stays (while the pointer or the keyboard focus is not on it), and how
// many show at once: they float over the top of the videos and must not bury them.
const NOTICE_MS = 10_000;
const NOTICES_SHOWN = 3;

/**
 * A dismissable notice at the top of the call. It goes by itself after ten seconds, unless
 * `sticky` (it then stays until dismissed or removed by its owner: someone waiting, a raised
 * hand). At most three show; of more, the oldest that is not sticky goes, and what is still
 * too many is folded into "N more".
 */
export function showNotice(text, { id, action, sticky = false } = {}) {
  if (id && document.getElementById(id)) document.getElementById(id).remove();
  const box = el('div', 'notice');
  if (id) box.id = id;
  box.setAttribute('role', 'status');
  box.append(el('span', '', text));
  const close = () => {
    clearTimeout(box.timer);
    box.remove();
    tidyNotices();
  };
  if (action) box.append(textButton(action.label, () => { close(); action.run(); }, 'link'));
  box.append(textButton(t('notice.dismiss'), close, 'link'));
  if (!sticky) {
    box.dataset.expires = 'true';
    const arm = () => { box.timer = setTimeout(close, NOTICE_MS); };
    const hold = () => clearTimeout(box.timer);
    box.addEventListener('pointerenter', hold);
    box.addEventListener('pointerleave', arm);
    box.addEventListener('focusin', hold);
    box.addEventListener('focusout', arm);
    arm();
  }
  $('notices').append(box);
  tidyNotices();
  return box;
}

/** Keeps at most three notices in view (see showNotice). */
export function tidyNotices() {
  const all = () => [...$('notices').children].filter((n) => n.classList.contains('notice'));
  let boxes = all();
  for (const old of boxes.filter((n) => n.dataset.expires === 'true')) {
    if (boxes.length <= NOTICES_SHOWN) break;
    clearTimeout(old.timer);
    old.remove();
    boxes = all();
  }
  boxes.forEach((n, i) => { n.hidden = i >= NOTICES_SHOWN; });
  const more = boxes.length - NOTICES_SHOWN;
  let line = $('notices-more');
  if (more > 0 && !line) {
    line = el('p', 'notices-more');
    line.id = 'notices-more';
    $('notices').append(line);
  }
  if (line) {
    line.textContent = more > 0 ? t('notice.more', { n: more }) : '';
    line.hidden = more <= 0;
  }
}

/** The text for an i18n key that may name a server error ('error.forbidden'). */
export function keyText(key) {
  return key.startsWith('error.') ? errorText(key.slice(6)) : t(key);
}
