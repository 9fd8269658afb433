// What this page shows of the others' videos, told to the server (docs/protocol.md, `view`)
// so that the SFU sends each stream at the simulcast layer that fits, and nothing for a
// picture nobody sees: a strip tile gets a small layer, the stage a large one, a tile on
// another page of the strip or scrolled out of the gallery none (its sound goes on).
//
// It reads the page, not the layout's intentions: every remote tile of the grid (a camera
// tile, data-participant-id, or a screen tile, data-screen-of) whose <video> has a size and
// lies at least partly inside the tiles' scroll area is shown, at the size the picture is
// drawn: the box for `object-fit: fill`, the picture inside it for `contain` (the stage, a
// screen), the whole picture of which the box shows a part for `cover` (a strip tile crops a
// large picture, and needs one that large to look sharp there), in device pixels (CSS
// pixels × devicePixelRatio). A tile whose participant has the camera off is listed too: the
// server sends nothing while it is off, and the picture comes at once when it goes on.
//
// When to look: the grid's tiles come and go (MutationObserver), a tile or the window
// changes size (ResizeObserver, which also sees a tile hidden with display: none), the
// gallery scrolls, or a video learns its picture's shape. What was seen is sent when it
// differs from what was sent last (a tile more or fewer, or a side changed by more than a
// fifth), at most once per MIN_INTERVAL_MS; a change within that time goes out when it ends.
// resend() sends what is shown now even if unchanged: after a resume (the server kept our
// last view, but the page may show something else by now) and for a new participant.

// protocol.md: at most 5 `view`s a second (the server refuses more than 10).
const MIN_INTERVAL_MS = 200;
// protocol.md: send when a side changes by more than a fifth.
const CHANGE = 0.2;
// protocol.md: at most 200 tiles.
const MAX_TILES = 200;
// The picture's shape until its first frame says: what the cameras send (simulcast.js).
const DEFAULT_ASPECT = 16 / 9;
// After the server refused one (rate_limited), wait this long before trying again.
const REFUSED_RETRY_MS = 1000;

/** {participant, source} of a remote tile, or null for our own tiles and anything else. */
function streamOf(tile) {
  const { participantId, screenOf } = tile.dataset;
  if (participantId) return { participant: participantId, source: 'camera' };
  if (screenOf && screenOf !== 'self') return { participant: screenOf, source: 'screen' };
  return null;
}

/** Whether `box` has an area and some of it lies inside `area` (both DOMRects). */
function overlaps(box, area) {
  return box.width > 0 && box.height > 0 && box.right > area.left && box.left < area.right
    && box.bottom > area.top && box.top < area.bottom;
}

/**
 * The size at which a <video> whose `object-fit` is `fit`, laid out in `box` ({width,
 * height}), draws a picture of shape `aspect` (width / height); in the units of `box`.
 */
export function drawnSize(fit, box, aspect) {
  const byWidth = { width: box.width, height: box.width / aspect };
  const byHeight = { width: box.height * aspect, height: box.height };
  if (fit === 'contain') return byWidth.height <= box.height ? byWidth : byHeight;
  if (fit === 'cover') return byWidth.height >= box.height ? byWidth : byHeight;
  return { width: box.width, height: box.height };
}

/** Whether `next` (key -> tile) differs from `prev` enough to be sent. */
export function differs(prev, next) {
  if (!prev || prev.size !== next.size) return true;
  const far = (a, b) => Math.abs(a - b) > b * CHANGE;
  for (const [key, tile] of next) {
    const before = prev.get(key);
    if (!before || far(tile.width, before.width) || far(tile.height, before.height)) return true;
  }
  return false;
}

export class ViewReporter {
  /**
   * @param container the tiles' container (TileGrid's), which is also their scroll area
   * @param send      function(msg) that sends the `view`
   * @param ready     function() -> whether a message may go now (joined, socket up)
   */
  constructor(container, { send, ready }) {
    Object.assign(this, { container, send, ready });
    // What was sent last (key -> tile), and when; null: the server has none of ours.
    this.sent = null;
    this.sentAt = -Infinity;
    // No view before this time (after a refusal).
    this.pausedUntil = -Infinity;
    this.force = false;
    this.timer = null;
    this.running = false;
    this.videos = new Set();
    this.schedule = this.schedule.bind(this);
    this.resizes = new ResizeObserver(this.schedule);
    this.mutations = new MutationObserver(this.schedule);
  }

  /** Starts watching the page; sends the first view. */
  start() {
    if (!this.running) {
      this.running = true;
      this.resizes.observe(this.container);
      this.mutations.observe(this.container, { childList: true, attributes: true, subtree: true,
        attributeFilter: ['class', 'hidden', 'style'] });
      this.container.addEventListener('scroll', this.schedule, { passive: true });
      window.addEventListener('resize', this.schedule);
    }
    this.resend();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.resizes.disconnect();
    this.mutations.disconnect();
    for (const video of this.videos) video.removeEventListener('resize', this.schedule);
    this.videos.clear();
    this.container.removeEventListener('scroll', this.schedule);
    window.removeEventListener('resize', this.schedule);
    this.sent = null;
  }

  /** Sends what is shown now, changed or not (after a resume, or as a new participant). */
  resend() {
    this.force = true;
    this.schedule();
  }

  /** The server refused our latest view (rate_limited): the one before stays in force there. */
  handleRefused() {
    this.sent = null;
    this.pausedUntil = performance.now() + REFUSED_RETRY_MS;
    this.schedule();
  }

  /** Something on the page may have changed: look again, as soon as the rate allows. */
  schedule() {
    if (!this.running || this.timer !== null) return;
    const now = performance.now();
    const wait = Math.max(0, this.sentAt + MIN_INTERVAL_MS - now, this.pausedUntil - now);
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush() {
    this.timer = null;
    if (!this.running || !this.ready()) return;
    // A look scheduled before a refusal waits for the pause too.
    if (performance.now() < this.pausedUntil) {
      this.schedule();
      return;
    }
    const shown = this.measure();
    if (!this.force && !differs(this.sent, shown)) return;
    this.force = false;
    this.sent = shown;
    this.sentAt = performance.now();
    this.send({ type: 'view', tiles: [...shown.values()] });
  }

  /** key -> {participant, source, width, height} of every remote video shown now. */
  measure() {
    const shown = new Map();
    const dpr = window.devicePixelRatio || 1;
    const area = this.container.getBoundingClientRect();
    const present = new Set();
    for (const tile of this.container.children) {
      const stream = streamOf(tile);
      const video = stream && tile.querySelector('video');
      if (!video) continue;
      present.add(video);
      this.watch(video);
      const box = video.getBoundingClientRect();
      if (!overlaps(box, area) || shown.size >= MAX_TILES) continue;
      const aspect = video.videoWidth && video.videoHeight ? video.videoWidth / video.videoHeight : DEFAULT_ASPECT;
      const size = drawnSize(getComputedStyle(video).objectFit, box, aspect);
      const px = (v) => Math.max(1, Math.round(v * dpr));
      shown.set(`${stream.participant}:${stream.source}`, { ...stream, width: px(size.width), height: px(size.height) });
    }
    for (const video of this.videos) if (!present.has(video)) this.unwatch(video);
    return shown;
  }

  /** A tile's video: its size and its picture's shape (known from the first frame on). */
  watch(video) {
    if (this.videos.has(video)) return;
    this.videos.add(video);
    this.resizes.observe(video);
    video.addEventListener('resize', this.schedule);
  }

  unwatch(video) {
    this.videos.delete(video);
    this.resizes.unobserve(video);
    video.removeEventListener('resize', this.schedule);
  }
}
