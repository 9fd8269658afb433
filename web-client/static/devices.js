// The camera and microphone check (#device-check): a preview of the own camera, a level
// meter for the microphone, pickers for camera, microphone and speaker, and whether to join
// with camera and microphone at all. It shows on the join form (the devices start there, so
// a permission problem is seen and fixed before joining), stays in the waiting room (the
// camera is on there too, so the person sees it), and opens in the lesson from the Settings
// button, where a new camera or microphone replaces the old one without leaving.
//
// The choices are kept in localStorage (device ids are per site and say nothing about the
// person); a device that is gone falls back to the default (media.js).

import { t } from './i18n.js';
import { LocalMedia } from './media.js';
import { $, el } from './ui.js';

const PREFS_KEY = 'aula.devices';

function loadPrefs() {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) || '{}');
    return p && typeof p === 'object' ? p : {};
  } catch {
    return {};
  }
}

function savePrefs(prefs) {
  try { localStorage.setItem(PREFS_KEY, JSON.stringify(prefs)); } catch { /* storage off */ }
}

export class DeviceCheck {
  constructor() {
    this.prefs = loadPrefs();
    this.media = null;
    // How a device change is carried out: on the preview's own media before joining, through
    // the Call in the lesson (room.js sets it).
    this.switcher = (kind, id) => this.media.switchDevice(kind, id);
    this.sink = () => {};
    this.meter = null;
    $('camera-select').addEventListener('change', (e) => this.choose('video', e.target.value));
    $('mic-select').addEventListener('change', (e) => this.choose('audio', e.target.value));
    $('speaker-select').addEventListener('change', (e) => this.chooseSpeaker(e.target.value));
    $('use-camera').addEventListener('change', (e) => this.setUse('video', e.target.checked));
    $('use-mic').addEventListener('change', (e) => this.setUse('audio', e.target.checked));
    $('device-retry').addEventListener('click', () => this.retry());
    $('use-camera').checked = this.prefs.useVideo !== false;
    $('use-mic').checked = this.prefs.useAudio !== false;
    if (navigator.mediaDevices) navigator.mediaDevices.addEventListener('devicechange', () => this.listDevices());
  }

  /** Before joining: starts the camera and microphone as chosen last time, and shows them. */
  async open() {
    if (!this.media) this.media = new LocalMedia(this.prefs);
    this.setInCall(false);
    await this.media.acquire();
    this.show();
    await this.listDevices();
  }

  /** The media for the Call that joins now (it keeps running; the Call owns it from here). */
  takeMedia() {
    const media = this.media || new LocalMedia(this.prefs);
    this.media = media;
    return media;
  }

  /**
   * In the lesson: the pickers follow the Call's media; joining with or without is past.
   * Nothing runs until the Settings dialog opens (show), and it stops when it closes (hide):
   * a preview and a level meter cost CPU that a two-core laptop in a lesson needs.
   */
  attach(media) {
    this.media = media;
    this.setInCall(true);
    this.hide();
  }

  /** Stops the preview and the meter (the devices themselves go on: the lesson uses them). */
  hide() {
    this.stopMeter();
    $('preview-video').srcObject = null;
  }

  /** The Call ended: its devices are stopped; the next join starts them again. */
  detach() {
    this.media = null;
    this.stopMeter();
    $('preview-video').srcObject = null;
  }

  /** Moves the check into `container` (join form, waiting room, settings dialog). */
  moveTo(container) {
    const node = $('device-check');
    if (node.parentElement !== container) container.append(node);
    // A moved <video> stops; it plays again (muted, so no gesture is needed).
    const video = $('preview-video');
    if (video.srcObject) video.play().catch(() => {});
  }

  setInCall(inCall) {
    $('device-use').hidden = inCall;
  }

  show() {
    const media = this.media;
    if (!media) return;
    const video = media.videoTrack ? new MediaStream([media.videoTrack]) : null;
    $('preview-video').srcObject = video;
    $('preview-video').hidden = !video;
    $('preview-off').hidden = Boolean(video);
    $('preview-off').textContent = t(media.declined('video') ? 'devices.cameraOff' : 'devices.noCamera');
    if (video) $('preview-video').play().catch(() => {});
    const problem = media.error;
    $('device-status').textContent = problem
      ? t(problem === 'NotAllowedError' ? 'devices.blocked' : 'devices.failed')
      : '';
    $('device-status').hidden = !problem;
    $('device-retry').hidden = !problem;
    this.startMeter();
  }

  /** Fills the pickers; labels come only once the browser has let us use a device. */
  async listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    let devices = [];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    const media = this.media;
    const current = (track) => (track && track.getSettings ? track.getSettings().deviceId : null);
    this.fill('camera-select', devices, 'videoinput', current(media && media.videoTrack) || this.prefs.videoId);
    this.fill('mic-select', devices, 'audioinput', current(media && media.audioTrack) || this.prefs.audioId);
    // Choosing the speaker needs setSinkId (not in Safari before 18, nor Firefox before 116).
    const canSink = 'setSinkId' in HTMLMediaElement.prototype;
    $('speaker-field').hidden = !canSink;
    if (canSink) this.fill('speaker-select', devices, 'audiooutput', this.prefs.speakerId);
  }

  fill(id, devices, kind, selected) {
    const select = $(id);
    const list = devices.filter((d) => d.kind === kind && d.deviceId);
    const options = list.map((d, i) => {
      const option = el('option', '', d.label || t('devices.unnamed', { n: i + 1 }));
      option.value = d.deviceId;
      return option;
    });
    if (!options.length) {
      const none = el('option', '', t('devices.none'));
      none.value = '';
      options.push(none);
    }
    select.replaceChildren(...options);
    select.disabled = !list.length;
    if (selected && list.some((d) => d.deviceId === selected)) select.value = selected;
  }

  async choose(kind, id) {
    this.prefs[kind === 'audio' ? 'audioId' : 'videoId'] = id;
    savePrefs(this.prefs);
    if (!this.media) return;
    await this.switcher(kind, id);
    this.show();
  }

  chooseSpeaker(id) {
    this.prefs.speakerId = id;
    savePrefs(this.prefs);
    this.sink(id);
  }

  /** In the lesson, a device left out at the check was turned on after all: kept for later. */
  rememberUse(kind) {
    this.prefs[kind === 'audio' ? 'useAudio' : 'useVideo'] = true;
    savePrefs(this.prefs);
  }

  async setUse(kind, on) {
    this.prefs[kind === 'audio' ? 'useAudio' : 'useVideo'] = on;
    savePrefs(this.prefs);
    if (!this.media) return;
    await this.media.setUse(kind, on);
    this.show();
    this.listDevices();
  }

  /** After a refusal: ask again (the person may have allowed it in the address bar meanwhile). */
  async retry() {
    if (!this.media) return;
    for (const kind of ['audio', 'video']) {
      if (!this.media.declined(kind) && !this.media[kind === 'audio' ? 'audioTrack' : 'videoTrack']) {
        await this.media.setUse(kind, true);
      }
    }
    this.show();
    await this.listDevices();
  }

  /** The microphone's level, 0..1, as a bar (and in data-level, for tests). */
  startMeter() {
    const track = this.media && this.media.audioTrack;
    if (this.meter && this.meter.track === track) return;
    this.stopMeter();
    if (!track) {
      $('mic-meter').style.width = '0%';
      $('mic-meter').dataset.level = '0';
      return;
    }
    try {
      const context = new (window.AudioContext || window.webkitAudioContext)();
      const source = context.createMediaStreamSource(new MediaStream([track]));
      const analyser = context.createAnalyser();
      analyser.fftSize = 512;
      source.connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const meter = { track, context, timer: null };
      // Ten times a second is enough for an eye, and costs nothing while the tab is hidden.
      meter.timer = setInterval(() => {
        if (context.state === 'suspended') context.resume().catch(() => {});
        analyser.getFloatTimeDomainData(samples);
        let peak = 0;
        for (const v of samples) peak = Math.max(peak, Math.abs(v));
        const level = track.enabled ? Math.min(1, peak * 1.5) : 0;
        $('mic-meter').style.width = `${Math.round(level * 100)}%`;
        $('mic-meter').dataset.level = level.toFixed(3);
      }, 100);
      this.meter = meter;
    } catch (err) {
      console.info('aula: no microphone meter', err);
    }
  }

  stopMeter() {
    if (!this.meter) return;
    clearInterval(this.meter.timer);
    this.meter.context.close().catch(() => {});
    this.meter = null;
  }
}
