// The chat panel (docs/protocol.md, `chat`): room-wide, history from `joined.chat`,
// Enter sends (Shift+Enter for a new line). What we typed stays in the box until the
// server's echo of it arrives (the echo is the confirmation), so a refused message
// (rate_limited, text_too_long, forbidden) is not lost. Participants cannot write
// while a host has switched chat off.
//
// Names and texts go into textContent only: chat is the one place where everyone's
// words reach everyone else's page.

import { lang, t } from './i18n.js';
import { play } from './sound.js';
import {
  $, el, keyText, nameSpan, setBadge,
} from './ui.js';

const MAX_CHARS = 1000;
// How long a message sent may go without its echo before the same text may be sent again.
const RESEND_AFTER_MS = 3000;

export class ChatPanel {
  constructor() {
    this.call = null;
    this.unread = 0;
    // The text of our message on its way (its echo clears the box), and when it was sent.
    this.pending = null;
    this.pendingAt = 0;
    this.time = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' });
    $('chat-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    $('chat-input').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        // Enter held repeats: one message, not one per repeat.
        if (!event.repeat) this.send();
      }
    });
  }

  /** Starts over for a new Call: its history, then its messages as they come. */
  attach(call) {
    this.call = call;
    this.unread = 0;
    setBadge($('chat-badge'), 0);
    this.showError('');
    $('chat-list').replaceChildren(...call.chat.map((m) => this.item(m)));
    this.updateAllowed();
  }

  /**
   * A resumed session: the history in `joined` may hold messages that went out while our
   * socket was away (ours among them). Only those are added; what is shown stays.
   */
  catchUp(call) {
    this.call = call;
    const shown = new Set([...$('chat-list').children].map((li) => li.dataset.chatId));
    for (const m of call.chat) if (!shown.has(String(m.id))) this.handleMessage(m);
    this.updateAllowed();
  }

  get open() {
    return !$('chat-panel').hidden && !$('side-panel').hidden;
  }

  item(m) {
    const li = el('li', 'chat-item');
    li.dataset.chatId = String(m.id);
    const mine = this.call.you && m.from === this.call.you.id;
    if (mine) li.classList.add('mine');
    const head = el('div', 'chat-head');
    head.append(nameSpan('chat-name', mine ? t('tile.you', { name: m.name }) : m.name));
    // The teacher's messages say so: a name alone can be copied by anyone.
    if (m.role === 'host') head.append(el('span', 'chat-role', t('role.host')));
    if (Number.isFinite(m.at)) head.append(el('time', 'chat-time', this.time.format(new Date(m.at))));
    li.append(head, el('p', 'chat-text', m.text));
    return li;
  }

  handleMessage(m) {
    const list = $('chat-list');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(this.item(m));
    if (atBottom || (this.call.you && m.from === this.call.you.id)) list.scrollTop = list.scrollHeight;
    if (this.call.you && m.from === this.call.you.id && this.pending !== null) {
      if ($('chat-input').value.trim() === this.pending) $('chat-input').value = '';
      this.pending = null;
      this.showError('');
    }
    if (!this.open) {
      this.unread += 1;
      setBadge($('chat-badge'), this.unread);
      // A quiet tone, at most one in a few seconds (sound.js), for someone else's message.
      if (!(this.call.you && m.from === this.call.you.id)) play('chat');
    }
  }

  /** The panel became visible: everything is read. */
  seen() {
    this.unread = 0;
    setBadge($('chat-badge'), 0);
    const list = $('chat-list');
    list.scrollTop = list.scrollHeight;
  }

  send() {
    if (!this.call || this.call.ended || !this.allowed()) return;
    const text = $('chat-input').value.trim();
    if (!text) return;
    if (Array.from(text).length > MAX_CHARS) {
      this.showError(keyText('error.text_too_long'));
      return;
    }
    // The same text again while it is on its way (a double Enter, a double click) goes to
    // the class once; after a few seconds without its echo it may be sent again.
    if (this.pending === text && Date.now() - this.pendingAt < RESEND_AFTER_MS) return;
    this.pending = text;
    this.pendingAt = Date.now();
    this.call.sendChat(text);
  }

  /** A refusal that answers our chat message. */
  handleRefusal({ key }) {
    this.pending = null;
    this.showError(keyText(key));
  }

  showError(text) {
    $('chat-error').textContent = text;
    $('chat-error').hidden = !text;
  }

  allowed() {
    return Boolean(this.call && (this.call.isHost || this.call.settings.chat !== false));
  }

  /** Settings or our role changed: the box is open or closed for us. */
  updateAllowed() {
    const allowed = this.allowed();
    $('chat-input').disabled = !allowed;
    $('chat-send').disabled = !allowed;
    $('chat-off').hidden = allowed;
    $('chat-off').textContent = t('chat.off');
  }
}
