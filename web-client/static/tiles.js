// The video grid: one tile per participant, plus our own preview, plus one tile per
// screen share (<figure data-screen-of="p3">, our own is data-screen-of="self").
//
// A remote tile is a <figure data-participant-id> holding one <video> that plays the
// participant's microphone and camera together, a name label, a muted-microphone icon,
// a raised-hand icon, the connection quality the server rates (good / poor / lost: three
// bars with an accessible label), a "reconnecting…" mark while the participant's socket
// is gone and the server keeps their seat, and an initial shown while there is no
// picture. Our own tile shows our own quality, and "reconnecting…" while our socket is
// away. Tiles exist from `joined` / `participant_joined` on, before any media arrives;
// media is attached by setTracks(). Where tiles sit (stage, strip, gallery) is
// layout.js's business.
//
// Each tile knows how many frames its <video> presented (the browser's count) and when the
// first came, so the page and its tests can tell "frames are being shown" from "a video
// element exists".
//
// A stream the server cannot forward to this browser (`stream_unavailable`: the sender's
// codec is one this browser did not negotiate) marks its tile: the name stays, the
// picture gives way to the initial and "video not available in this browser", while the
// sound of a camera tile plays on. The mark goes when that tile gets a new stream: another
// track on its m-line, a screen share that ends (the next one is a new stream, and the
// server says again if it cannot be forwarded), or frames presented after all.
//
// A video the server holds back for want of bandwidth (`bandwidth.paused`) marks its tile:
// the last frame stays, dimmed, with "Video paused to save bandwidth" in a corner; the name
// stays, the sound plays on. While the server says our own link is the limit
// (`bandwidth.limited`), our own tile says "Your connection is limiting video". Each
// `bandwidth` replaces the marks of the one before; a tile that comes later (a screen share)
// takes its mark when it is made.

import { icon } from './icons.js';
import { t } from './i18n.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A <video> that may autoplay inline (iOS needs the attributes, not just properties). */
function videoElement(muted) {
  const video = el('video');
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute('playsinline', '');
  video.muted = muted;
  if (muted) video.setAttribute('muted', '');
  return video;
}

/** The video track a tile shows now, or null. */
function videoTrackOf(tile) {
  const stream = tile.video.srcObject;
  return (stream && stream.getVideoTracks()[0]) || null;
}

function initial(name) {
  return (Array.from(name.trim())[0] || '?').toUpperCase();
}

class Tile {
  constructor(video, onframe) {
    this.root = el('figure', 'tile');
    this.video = video;
    this.avatar = el('div', 'avatar');
    this.avatar.setAttribute('aria-hidden', 'true');
    this.label = el('figcaption', 'label');
    this.nameEl = el('span', 'name');
    // A right-to-left name is laid out right to left, and does not reorder what follows it.
    this.nameEl.dir = 'auto';
    this.mutedIcon = icon('micOff', 'icon muted-icon');
    this.handIcon = icon('hand', 'icon hand-icon');
    this.handIcon.setAttribute('aria-hidden', 'false');
    this.handIcon.setAttribute('aria-label', t('tile.hand'));
    // The same hand, large in the corner, for the eye (the label's small one is for the ear).
    this.handBig = icon('hand', 'icon hand-big');
    this.badge = el('span', 'badge');
    this.quality = icon('signal', 'icon quality');
    this.quality.setAttribute('aria-hidden', 'false');
    this.quality.setAttribute('role', 'img');
    this.away = el('span', 'reconnecting', t('tile.reconnecting'));
    this.unavailable = el('p', 'unavailable');
    this.unavailable.hidden = true;
    this.pausedNote = el('p', 'paused-note');
    this.pausedNote.setAttribute('role', 'note');
    this.pausedNote.hidden = true;
    this.limitedNote = el('span', 'limited-note');
    this.limitedNote.setAttribute('role', 'note');
    this.limitedNote.hidden = true;
    this.label.append(this.quality, this.mutedIcon, this.handIcon, this.nameEl, this.badge);
    this.root.append(this.video, this.avatar, this.unavailable, this.pausedNote, this.away, this.limitedNote,
      this.handBig, this.label);
    this.setQuality('good');
    this.setReconnecting(false);
    this.setPaused(false);
    this.setLimited(false);
    this.frames = 0;
    this.earlier = 0;
    this.lastTotal = 0;
    this.firstFrameAt = null;
    this.onframe = onframe;
    this.countFrames();
  }

  /**
   * Watches for the next presented frame: the first one (when it came), while the tile is
   * marked unavailable (a frame clears the mark), and for as long as the browser keeps no
   * count of its own (Firefox's getVideoPlaybackQuality stays 0 for a MediaStream). Only
   * then: a requestVideoFrameCallback makes the page run a rendering step for each frame of
   * that video, which for a class of tiles on a weak laptop was most of its main thread.
   */
  countFrames() {
    if (this.watching || this.removed || !this.video.requestVideoFrameCallback) return;
    this.watching = true;
    this.video.requestVideoFrameCallback((now) => {
      this.watching = false;
      this.frames += 1;
      if (this.firstFrameAt === null) this.firstFrameAt = now;
      this.onframe(this);
      if (this.root.dataset.unavailable || this.browserCount() === 0) this.countFrames();
    });
  }

  /** The browser's count of frames presented by the element (0 where it keeps none). */
  browserCount() {
    const q = this.video.getVideoPlaybackQuality ? this.video.getVideoPlaybackQuality() : null;
    return q ? q.totalVideoFrames : 0;
  }

  /**
   * Frames presented so far: the browser's count, which starts again with each new stream on
   * the element (a track that replaces another), made never to go down; or ours, where the
   * browser keeps none.
   */
  frameCount() {
    const total = this.browserCount();
    if (total < this.lastTotal) this.earlier += this.lastTotal;
    this.lastTotal = total;
    return Math.max(this.frames, this.earlier + total);
  }

  setName(text, name) {
    this.nameEl.textContent = text;
    this.avatar.textContent = initial(name);
    this.root.setAttribute('aria-label', text);
  }

  /** Role badge, raised hand, quality and reconnecting from a protocol participant object. */
  setState(p, roleLabel) {
    this.root.dataset.role = p.role;
    this.badge.textContent = p.role === 'host' ? roleLabel('host') : '';
    const up = p.hand !== null && p.hand !== undefined;
    this.root.dataset.hand = up ? 'up' : 'down';
    this.root.dataset.handOrder = up ? String(p.hand) : '';
    this.setQuality(p.quality);
    this.setReconnecting(Boolean(p.reconnecting));
  }

  /** 'good', 'poor' or 'lost' (anything else counts as good: an older server sends none). */
  setQuality(quality) {
    const q = ['good', 'poor', 'lost'].includes(quality) ? quality : 'good';
    this.root.dataset.quality = q;
    this.quality.setAttribute('aria-label', t(`quality.${q}`));
    this.quality.setAttribute('title', t(`quality.${q}`));
  }

  setReconnecting(on) {
    this.root.dataset.reconnecting = on ? 'true' : 'false';
    this.away.hidden = !on;
  }

  /** `info` from `stream_unavailable` ({reason, codec}), or null when the stream is fine. */
  setUnavailable(info) {
    this.unavailable.hidden = !info;
    if (!info) {
      delete this.root.dataset.unavailable;
      this.unavailable.removeAttribute('title');
      return;
    }
    this.root.dataset.unavailable = info.reason || 'codec';
    this.countFrames();
    this.unavailable.textContent = t('tile.unavailable');
    if (info.codec) this.unavailable.title = t('tile.unavailableCodec', { codec: info.codec });
  }

  /**
   * Whether the server holds this tile's video back for want of bandwidth. The notes are
   * text with role note and the same label, as the tile's other marks carry theirs; the
   * limited note may be cut short in a small tile, and its label and tooltip carry all of it.
   */
  setPaused(on) {
    this.root.dataset.paused = on ? 'true' : 'false';
    this.pausedNote.hidden = !on;
    this.pausedNote.textContent = t('tile.paused');
    this.pausedNote.setAttribute('aria-label', t('tile.paused'));
    this.pausedNote.title = t('tile.paused');
  }

  /** Our own tile: whether our own link is what holds the video we receive back. */
  setLimited(on) {
    this.root.dataset.limited = on ? 'true' : 'false';
    this.limitedNote.hidden = !on;
    this.limitedNote.textContent = t('tile.limited');
    this.limitedNote.setAttribute('aria-label', t('tile.limited'));
    this.limitedNote.title = t('tile.limited');
  }

  setMedia({ audio, video }) {
    this.root.dataset.audio = audio ? 'on' : 'off';
    this.root.dataset.video = video ? 'on' : 'off';
    this.mutedIcon.setAttribute('aria-hidden', audio ? 'true' : 'false');
    this.mutedIcon.setAttribute('aria-label', t('tile.muted'));
  }

  remove() {
    this.removed = true;
    this.video.srcObject = null;
    this.root.remove();
  }
}

export class TileGrid {
  constructor(container) {
    this.container = container;
    this.tiles = new Map();
    this.self = null;
    this.selfState = null;
    this.selfConnection = 'connected';
    this.screens = new Map();
    // `${id}:${source}` -> {info, track, frames}: streams the server cannot forward to
    // us, with the tile's track and frame count when we were told.
    this.unavailable = new Map();
    // From the latest `bandwidth`: `${id}:${source}` of each video paused, and whether our
    // own link is the limit.
    this.paused = new Set();
    this.limited = false;
    this.roleLabel = (role) => role;
    this.firstRemoteFrameAt = null;
    this.needsSoundTap = false;
    this.onneedsound = () => {};
    this.oncount = () => {};
    this.onchange = () => {};
    // The self-view's "Hide" button was pressed (layout.js hides it).
    this.onhideself = () => {};
    // A tile's "Pin" button was pressed (layout.js puts it on the stage, or takes it off).
    this.onpin = () => {};
  }

  /** Our own preview: muted (no echo), mirrored like a mirror. */
  showSelf(name, stream, media) {
    if (!this.self) {
      this.self = new Tile(videoElement(true), () => {});
      this.self.root.classList.add('self');
      this.self.root.dataset.self = 'true';
      const hide = document.createElement('button');
      hide.type = 'button';
      hide.id = 'hide-self';
      hide.className = 'self-toggle';
      hide.append(icon('eyeOff'));
      hide.setAttribute('aria-label', t('layout.hideSelf'));
      hide.title = t('layout.hideSelf');
      hide.addEventListener('click', () => this.onhideself());
      this.self.root.append(hide);
      this.self.setLimited(this.limited);
      this.container.prepend(this.self.root);
      this.updateCount();
    }
    this.self.setName(t('tile.you', { name }), name);
    this.self.setMedia(media);
    this.self.root.dataset.hasVideo = stream.getVideoTracks().length ? 'yes' : 'no';
    this.self.video.srcObject = stream;
  }

  setSelfMedia(media) {
    if (this.self) this.self.setMedia(media);
  }

  /** Our own role, hand and quality, from the server's view of us. */
  setSelfState(you) {
    this.selfState = you;
    if (!this.self) return;
    this.self.setState(you, this.roleLabel);
    this.setSelfConnection(this.selfConnection);
  }

  /**
   * Our socket: 'connected', 'reconnecting' or 'lost'. While it is away the server's
   * rating of us is out of date, and our own tile says so.
   */
  setSelfConnection(state = 'connected') {
    this.selfConnection = state;
    if (!this.self) return;
    const away = state !== 'connected';
    this.self.setReconnecting(away);
    this.self.setQuality(away ? 'lost' : (this.selfState && this.selfState.quality));
  }

  /** Our own screen share as a small tile (never large: that would be a hall of mirrors). */
  showSelfScreen(track) {
    this.setScreen('self', track ? { track } : null, t('tile.yourScreen'));
  }

  /** Creates, updates or (media null) removes the screen tile of `owner`. */
  setScreen(owner, media, label) {
    let tile = this.screens.get(owner);
    if (!media) {
      if (tile) tile.remove();
      this.screens.delete(owner);
      // The share is over; the next one is a new stream.
      this.unavailable.delete(`${owner}:screen`);
      if (tile) this.onchange();
      return;
    }
    if (!tile) {
      tile = new Tile(videoElement(true), owner === 'self' ? () => {} : (tl) => this.handleFrame(tl));
      tile.root.classList.add('screen');
      tile.root.dataset.screenOf = owner;
      tile.root.dataset.video = 'on';
      tile.root.dataset.audio = 'on';
      tile.key = `${owner}:screen`;
      if (owner !== 'self') this.addTools(tile);
      tile.setPaused(this.paused.has(tile.key));
      this.screens.set(owner, tile);
      this.container.append(tile.root);
      this.onchange();
    }
    tile.setName(label, label);
    if (tile.video.srcObject && tile.video.srcObject.getTracks()[0] === media.track) return;
    tile.video.srcObject = new MediaStream([media.track]);
    tile.root.dataset.hasVideo = 'yes';
    tile.video.play().catch(() => {});
    this.checkUnavailable(tile);
  }

  /** Marks the tiles of whoever is talking (`ids`); `selfId` is our own id. */
  setSpeaking(ids, selfId) {
    const talking = new Set(ids);
    for (const [id, tile] of this.tiles) tile.root.classList.toggle('speaking', talking.has(id));
    if (this.self) this.self.root.classList.toggle('speaking', talking.has(selfId));
  }

  /**
   * A remote or screen tile's own buttons: pin it to the stage (layout.js, through
   * `onpin`), and full screen.
   */
  addTools(tile) {
    const tools = el('div', 'tile-tools');
    const make = (iconName, label, run, className) => {
      const button = el('button', className);
      button.type = 'button';
      button.append(icon(iconName));
      button.setAttribute('aria-label', label);
      button.title = label;
      button.addEventListener('click', run);
      return button;
    };
    const pin = make('pin', t('tile.pin'), () => this.onpin(tile.root), 'tile-pin');
    pin.setAttribute('aria-pressed', 'false');
    tools.append(pin);
    const root = tile.root;
    if (root.requestFullscreen || tile.video.webkitEnterFullscreen) {
      tools.append(make('fullscreen', t('tile.fullscreen'), () => {
        if (document.fullscreenElement === root) document.exitFullscreen().catch(() => {});
        else if (root.requestFullscreen) root.requestFullscreen().catch(() => {});
        // iPhones put only a <video> in full screen.
        else tile.video.webkitEnterFullscreen();
      }, 'tile-full'));
    }
    root.append(tools);
  }

  /**
   * The speaker (audio output device `id`, '' for the default) for every remote tile, now
   * and to come; a browser without setSinkId plays on its default.
   */
  setSink(id) {
    this.sinkId = id || '';
    for (const tile of this.tiles.values()) this.applySink(tile.video);
  }

  applySink(video) {
    if (this.sinkId === undefined || !video.setSinkId) return;
    video.setSinkId(this.sinkId).catch((err) => console.info('aula: speaker not set', err && err.name));
  }

  /** Creates or updates the tile of a remote participant (protocol participant object). */
  upsert(p) {
    let tile = this.tiles.get(p.id);
    if (!tile) {
      tile = new Tile(videoElement(false), (tl) => this.handleFrame(tl));
      this.applySink(tile.video);
      this.addTools(tile);
      tile.root.dataset.participantId = p.id;
      tile.root.dataset.hasVideo = 'no';
      tile.key = `${p.id}:camera`;
      tile.setPaused(this.paused.has(tile.key));
      tile.stream = new MediaStream();
      this.tiles.set(p.id, tile);
      this.container.append(tile.root);
    }
    tile.setState(p, this.roleLabel);
    tile.setName(p.name, p.name);
    tile.setMedia(p);
    this.updateCount();
    this.onchange();
  }

  /**
   * `bandwidth`: `paused` ([{participant, source}]) are the remote videos held back now,
   * `limited` whether our own link is the limit. Replaces what the previous one said.
   */
  setBandwidth({ paused, limited }) {
    this.paused = new Set(paused.map((s) => `${s.participant}:${s.source}`));
    this.limited = limited;
    for (const tile of this.tiles.values()) tile.setPaused(this.paused.has(tile.key));
    for (const [owner, tile] of this.screens) if (owner !== 'self') tile.setPaused(this.paused.has(tile.key));
    if (this.self) this.self.setLimited(limited);
  }

  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.remove();
    this.tiles.delete(id);
    this.unavailable.delete(tile.key);
    this.setScreen(id, null);
    this.updateCount();
    this.onchange();
  }

  clear() {
    for (const id of [...this.tiles.keys()]) this.remove(id);
    for (const owner of [...this.screens.keys()]) this.setScreen(owner, null);
    if (this.self) this.self.remove();
    this.self = null;
    this.selfState = null;
    this.selfConnection = 'connected';
    this.unavailable.clear();
    this.paused.clear();
    this.limited = false;
    this.updateCount();
    this.firstRemoteFrameAt = null;
    this.needsSoundTap = false;
  }

  updateCount() {
    const n = this.tiles.size + (this.self ? 1 : 0);
    this.container.dataset.count = String(n);
    this.oncount(n);
  }

  handleFrame(tile) {
    if (this.firstRemoteFrameAt === null) this.firstRemoteFrameAt = tile.firstFrameAt;
    if (tile.root.dataset.unavailable) this.checkUnavailable(tile);
  }

  /**
   * `stream_unavailable`: participant `id`'s `source` ('camera' or 'screen') cannot be
   * shown in this browser; `info` is {reason, codec}.
   */
  setUnavailable(id, source, info) {
    const tile = source === 'screen' ? this.screens.get(id) : this.tiles.get(id);
    const key = `${id}:${source === 'screen' ? 'screen' : 'camera'}`;
    this.unavailable.set(key, { info, track: tile ? videoTrackOf(tile) : null, frames: tile ? tile.frameCount() : 0 });
    if (tile) tile.setUnavailable(info);
  }

  /**
   * Keeps `tile`'s mark while it still shows the stream we were told about: a track that
   * replaces it, or a frame presented since, is a new stream. A tile that had no track
   * when we were told takes its first one as that stream.
   */
  checkUnavailable(tile) {
    const mark = this.unavailable.get(tile.key);
    if (!mark) {
      tile.setUnavailable(null);
      return;
    }
    const track = videoTrackOf(tile);
    if (!mark.track) mark.track = track;
    if (track !== mark.track || tile.frameCount() > mark.frames) {
      this.unavailable.delete(tile.key);
      tile.setUnavailable(null);
      return;
    }
    tile.setUnavailable(mark.info);
  }

  /**
   * Attaches the remote tracks: `map` is participant id -> [{track, kind, source}].
   * Microphone and camera go to the participant's tile, a screen to its screen tile.
   */
  setTracks(map) {
    for (const [id, tile] of this.tiles) {
      const media = map.get(id) || [];
      const screen = media.find((m) => m.source === 'screen');
      this.setScreen(id, screen || null, t('tile.screenOf', { name: tile.nameEl.textContent }));
      const tracks = media.filter((m) => m.source !== 'screen').map((m) => m.track);
      const current = tile.stream.getTracks();
      const same = current.length === tracks.length && tracks.every((tr) => current.includes(tr));
      if (same) continue;
      tile.stream = new MediaStream(tracks);
      tile.root.dataset.hasVideo = tracks.some((tr) => tr.kind === 'video') ? 'yes' : 'no';
      tile.video.srcObject = tracks.length ? tile.stream : null;
      if (tracks.length) this.play(tile.video);
      this.checkUnavailable(tile);
    }
  }

  /**
   * Starts playback. If the browser blocks sound without a tap (autoplay policy), the
   * picture still plays muted and the page offers a "tap for sound" button.
   */
  play(video) {
    video.play().catch((err) => {
      if (err.name !== 'NotAllowedError') return;
      video.muted = true;
      video.play().catch(() => {});
      this.needsSoundTap = true;
      this.onneedsound();
    });
  }

  /** After a user tap: unmute every remote video. */
  enableSound() {
    this.needsSoundTap = false;
    for (const tile of this.tiles.values()) {
      tile.video.muted = false;
      tile.video.play().catch(() => {});
    }
  }

  /** For tests and diagnostics: what each remote tile shows. */
  describe() {
    return [...this.tiles.entries()].map(([id, tile]) => ({
      id,
      name: tile.nameEl.textContent,
      role: tile.root.dataset.role,
      audio: tile.root.dataset.audio === 'on',
      video: tile.root.dataset.video === 'on',
      hand: tile.root.dataset.hand === 'up',
      quality: tile.root.dataset.quality,
      reconnecting: tile.root.dataset.reconnecting === 'true',
      speaking: tile.root.classList.contains('speaking'),
      tracks: tile.stream.getTracks().map((tr) => tr.kind),
      framesRendered: tile.frameCount(),
      firstFrameAt: tile.firstFrameAt,
      unavailable: tile.root.dataset.unavailable || null,
      paused: tile.root.dataset.paused === 'true',
    }));
  }

  /** For tests and diagnostics: our own tile's quality, reconnecting and limited marks. */
  describeSelf() {
    if (!this.self) return null;
    return {
      quality: this.self.root.dataset.quality,
      reconnecting: this.self.root.dataset.reconnecting === 'true',
      limited: this.self.root.dataset.limited === 'true',
      framesRendered: this.self.frameCount(),
    };
  }

  /** For tests and diagnostics: the screen-share tiles, by owner ('self' for ours). */
  describeScreens() {
    return [...this.screens.entries()].map(([owner, tile]) => ({
      owner,
      framesRendered: tile.frameCount(),
      stage: tile.root.classList.contains('stage'),
      unavailable: tile.root.dataset.unavailable || null,
      paused: tile.root.dataset.paused === 'true',
    }));
  }
}
