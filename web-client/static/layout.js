// Where the tiles sit: lecture view or gallery view.
//
// - lecture: one tile large on the stage, everyone else in a strip below, shown a page at a
//   time with Previous/Next, raised hands first. Our own video is never on the stage: it is
//   a small picture in the corner. On the stage: a screen share if there is one; for a
//   host (the teacher looks at her class, not at herself) the one speaking, else the first
//   raised hand, else who was there last, else the first of the class; for everyone else in
//   a meeting the dominant speaker, and otherwise a host. The default for classes.
// - gallery: everyone the same size in a grid (a class's teacher and screen shares
//   twice the size on wide screens). The default for meetings.
//
// The self-view can be hidden (and shown again) in both: some find their own face
// distracting; the choice is kept for the tab. Anyone may pin a tile (its pin button): the
// view switches to lecture with that tile on the stage, whatever the rules above say, until
// it is unpinned or leaves. A host's spotlight (docs/protocol.md, `spotlight`) puts one person
// on everyone's stage the same way; a page's own pin outranks it.
//
// Tiles stay in one container and are never moved in the DOM (moving a playing <video>
// can pause it); the layout only sets classes, the CSS `order` and which strip tiles
// are off the current page.

import { t } from './i18n.js';
import { $, setButton } from './ui.js';

const TILE_MIN_WIDTH_PX = 190;
const SELF_HIDDEN_KEY = 'aula.selfHidden';
// The smallest gallery tile before the gallery scrolls (a name label still fits).
const GALLERY_MIN_PX = 160;

const handOf = (node) => (node.dataset.hand === 'up' ? Number(node.dataset.handOrder) || 0 : Infinity);

export class Layout {
  constructor(container) {
    this.container = container;
    this.mode = 'gallery';
    this.kind = 'class';
    this.page = 0;
    this.stageKey = null;
    this.call = null;
    $('toggle-layout').addEventListener('click', () => this.setMode(this.mode === 'lecture' ? 'gallery' : 'lecture'));
    $('strip-prev').addEventListener('click', () => this.turn(-1));
    $('strip-next').addEventListener('click', () => this.turn(1));
    setButton($('strip-prev'), 'prev', t('layout.prev'));
    setButton($('strip-next'), 'next', t('layout.next'));
    $('show-self').addEventListener('click', () => this.setSelfHidden(false));
    window.addEventListener('resize', () => this.update());
    // The space changes without a window resize too: a side panel, the invite bar folding.
    if (window.ResizeObserver) {
      let pending = false;
      new ResizeObserver(() => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => { pending = false; this.update(); });
      }).observe(container);
    }
    let hidden = false;
    try { hidden = sessionStorage.getItem(SELF_HIDDEN_KEY) === '1'; } catch { /* storage off */ }
    this.setSelfHidden(hidden);
  }

  /** Hides or shows our own video (we go on sending it; only this page stops showing it). */
  setSelfHidden(hidden) {
    this.selfHidden = hidden;
    this.container.dataset.selfHidden = String(hidden);
    try { sessionStorage.setItem(SELF_HIDDEN_KEY, hidden ? '1' : '0'); } catch { /* storage off */ }
    setButton($('show-self'), 'eye', t('layout.showSelf'), true);
    const hadFocus = document.activeElement && ['hide-self', 'show-self'].includes(document.activeElement.id);
    this.update();
    // The button pressed goes away with what it hid or showed: focus moves to its counterpart.
    const next = $(hidden ? 'show-self' : 'hide-self');
    if (hadFocus && next) next.focus();
  }

  /** A new Call in a room of `kind`: back to that kind's default view. */
  attach(call, kind) {
    this.call = call;
    this.kind = kind === 'meeting' ? 'meeting' : 'class';
    this.container.dataset.kind = this.kind;
    this.stageKey = null;
    this.setMode(this.kind === 'meeting' ? 'gallery' : 'lecture');
  }

  setMode(mode) {
    this.mode = mode;
    this.page = 0;
    this.container.dataset.layout = mode;
    const other = mode === 'lecture' ? 'gallery' : 'lecture';
    setButton($('toggle-layout'), other, t(`layout.to.${other}`));
    this.update();
  }

  turn(delta) {
    this.page += delta;
    this.update();
  }

  tiles() {
    return [...this.container.children].filter((node) => node.classList.contains('tile'));
  }

  /**
   * Gallery: as many columns as make the tiles largest in the space there is (a meeting of six
   * on a laptop fills the screen, and a side panel makes them smaller, never overlapping). A
   * class's teacher and screen shares take four cells on wide screens (style.css). With too
   * many for tiles of GALLERY_MIN_PX, the grid scrolls instead.
   */
  fitGallery(tiles) {
    const box = this.container;
    const style = getComputedStyle(box);
    const px = (v) => parseFloat(v) || 0;
    const gap = px(style.columnGap) || 12;
    const width = box.clientWidth - px(style.paddingLeft) - px(style.paddingRight);
    const height = box.clientHeight - px(style.paddingTop) - px(style.paddingBottom);
    if (width <= 0 || height <= 0 || tiles.length === 0) return;
    const wide = window.matchMedia('(min-width: 900px)').matches;
    const big = wide ? tiles.filter((n) => n.classList.contains('screen') && n.dataset.screenOf !== 'self'
      || (this.kind === 'class' && n.dataset.role === 'host' && n.dataset.self !== 'true')).length : 0;
    const cells = tiles.length + 3 * big;
    let best = { cols: 1, tile: 0 };
    for (let cols = big ? 2 : 1; cols <= cells; cols += 1) {
      const rows = Math.ceil(cells / cols);
      const across = (width - gap * (cols - 1)) / cols;
      const down = ((height - gap * (rows - 1)) / rows) * (16 / 9);
      const tile = Math.min(across, down);
      if (tile > best.tile) best = { cols, tile };
    }
    let scrolls = false;
    if (best.tile < GALLERY_MIN_PX) {
      const cols = Math.max(1, Math.floor((width + gap) / (GALLERY_MIN_PX + gap)));
      best = { cols, tile: (width - gap * (cols - 1)) / cols };
      scrolls = true;
    }
    setStyle(box, '--gallery-cols', String(best.cols));
    setStyle(box, '--gallery-tile', `${Math.floor(best.tile)}px`);
    setStyle(box, 'align-content', scrolls ? 'start' : 'center');
  }

  /**
   * Updates once the current task is done: a `joined` that brings thirty tiles, one by
   * one, is laid out once, not thirty times.
   */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.update();
    });
  }

  /** The server's speakers changed: only a new dominant speaker can change the stage. */
  handleSpeakers() {
    const dominant = this.call ? this.call.speakers.dominant : null;
    if (dominant === this.dominant) return;
    this.dominant = dominant;
    this.schedule();
  }

  /** A host's spotlight changed: a page not showing the stage switches to it. */
  handleSpotlight(id) {
    if (id && this.call && this.call.you && id !== this.call.you.id && this.mode !== 'lecture') this.setMode('lecture');
    else this.update();
  }

  /** Pins `node` to the stage (or unpins it, if it is pinned). */
  pin(node) {
    const key = this.key(node);
    this.pinnedKey = this.pinnedKey === key ? null : key;
    if (this.pinnedKey && this.mode !== 'lecture') this.setMode('lecture');
    else this.update();
  }

  /** The tile for the stage, by the rules at the top of this file. */
  pickStage(tiles) {
    const by = (test) => tiles.find(test);
    const pinned = this.pinnedKey && by((n) => this.key(n) === this.pinnedKey);
    if (pinned) return pinned;
    const spotlit = this.call && this.call.spotlight && by((n) => n.dataset.participantId === this.call.spotlight);
    if (spotlit) return spotlit;
    const screen = by((n) => n.dataset.screenOf && n.dataset.screenOf !== 'self');
    if (screen) return screen;
    const remote = (id) => by((n) => n.dataset.participantId === id);
    if (this.call && this.call.isHost) {
      const hands = tiles.filter((n) => n.dataset.participantId && handOf(n) < Infinity);
      hands.sort((a, b) => handOf(a) - handOf(b));
      return remote(this.call.speakers.dominant)
        || hands[0]
        || by((n) => this.key(n) === this.stageKey && n.dataset.participantId)
        || by((n) => n.dataset.participantId)
        || null;
    }
    if (this.kind === 'meeting' && this.call) {
      const dominant = remote(this.call.speakers.dominant);
      if (dominant) return dominant;
      // While we ourselves speak (or nobody has), the last stage stays.
      const last = by((n) => this.key(n) === this.stageKey);
      if (last) return last;
    }
    return by((n) => n.dataset.participantId && n.dataset.role === 'host')
      || by((n) => n.dataset.participantId)
      || by((n) => n.dataset.screenOf === 'self')
      || null;
  }

  key(node) {
    return node.dataset.screenOf ? `screen:${node.dataset.screenOf}` : node.dataset.participantId || 'self';
  }

  /**
   * Re-applies the layout; called on every change of tiles or of the dominant speaker. It
   * reads the sizes it needs first and then writes only what changed: each write of a class
   * or a style makes the browser lay the page out again and the view reporter look again
   * (view.js), which a weak laptop in a lesson of thirty feels.
   */
  update() {
    const all = this.tiles();
    const self = all.find((n) => n.dataset.self === 'true');
    const perPage = Math.max(2, Math.floor(this.container.clientWidth / TILE_MIN_WIDTH_PX) || 2);
    const spotlit = this.call && this.call.spotlight;
    for (const node of all) {
      const pinned = Boolean(this.pinnedKey) && this.key(node) === this.pinnedKey;
      setData(node, 'pinned', String(pinned));
      setData(node, 'spotlight', String(Boolean(spotlit) && !node.dataset.screenOf
        && (node.dataset.participantId === spotlit || (node.dataset.self === 'true' && this.call.you
          && this.call.you.id === spotlit))));
      const button = node.querySelector('.tile-pin');
      if (button && button.getAttribute('aria-pressed') !== String(pinned)) {
        button.setAttribute('aria-pressed', String(pinned));
        const label = t(pinned ? 'tile.unpin' : 'tile.pin');
        button.setAttribute('aria-label', label);
        button.title = label;
      }
    }
    setHidden($('show-self'), !self || !this.selfHidden);
    if (self) setClass(self, 'pip', this.mode === 'lecture');
    // Our own tile is not in the lecture's stage or strip: it floats in the corner.
    const tiles = this.mode === 'lecture' ? all.filter((n) => n !== self) : all;
    if (this.mode !== 'lecture') {
      for (const node of tiles) {
        setClass(node, 'stage', false);
        setClass(node, 'off-page', false);
        setStyle(node, 'order', '');
      }
      setHidden($('strip-nav'), true);
      this.fitGallery(tiles.filter((n) => !(n === self && this.selfHidden)));
      return;
    }
    for (const prop of ['--gallery-cols', '--gallery-tile', 'align-content']) setStyle(this.container, prop, '');
    const stage = this.pickStage(tiles);
    this.stageKey = stage ? this.key(stage) : null;
    // Raised hands first, in the order raised; the others keep theirs (the sort is stable).
    const strip = tiles.filter((n) => n !== stage).sort((a, b) => Math.min(handOf(a), 1e15) - Math.min(handOf(b), 1e15));
    const pages = Math.max(1, Math.ceil(strip.length / perPage));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    setStyle(this.container, '--strip-cols', String(Math.min(perPage, Math.max(strip.length, 1))));
    if (stage) {
      setClass(stage, 'stage', true);
      setClass(stage, 'off-page', false);
      setStyle(stage, 'order', '-1');
    }
    strip.forEach((node, i) => {
      setClass(node, 'stage', false);
      setClass(node, 'off-page', Math.floor(i / perPage) !== this.page);
      setStyle(node, 'order', String(i));
    });
    setHidden($('strip-nav'), pages <= 1);
    const label = t('layout.page', { page: this.page + 1, pages });
    if ($('strip-page').textContent !== label) $('strip-page').textContent = label;
    $('strip-prev').disabled = this.page === 0;
    $('strip-next').disabled = this.page >= pages - 1;
  }
}

// Writes that leave an element alone when it already is as asked (no mutation, no new layout).
function setData(node, key, value) {
  if (node.dataset[key] !== value) node.dataset[key] = value;
}

function setClass(node, name, on) {
  if (node.classList.contains(name) !== on) node.classList.toggle(name, on);
}

function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

/** Sets (or, with '', removes) style property `prop` of `node`, if it differs. */
function setStyle(node, prop, value) {
  if (node.style.getPropertyValue(prop) === value) return;
  if (value === '') node.style.removeProperty(prop);
  else node.style.setProperty(prop, value);
}
