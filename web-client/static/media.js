// The local camera, microphone and screen share.
//
// A pupil without a camera (or who said "no") must still be able to join and watch, so
// asking for both at once falls back to asking for each alone; whatever is granted is
// used and `missing` says what is not.
//
// The camera is asked for 1280×720 as an ideal, not a must: the top simulcast layer is
// that size (simulcast.js), and a camera without it gives the nearest it has.
//
// The pre-join check (devices.js) chooses which camera and microphone (`prefs.videoId`,
// `prefs.audioId`; a device that is gone falls back to the default) and whether to join
// with them at all (`prefs.useVideo`, `prefs.useAudio`): a device declined is not asked
// for, is not "missing", and can be turned on later in the lesson (setUse).

import { CAMERA_CAPTURE } from './simulcast.js';

const VIDEO = CAMERA_CAPTURE;

// Why the last request failed ('NotAllowedError': the person or the browser said no;
// 'NotFoundError': no such device; …), for the pre-join check to explain.
let lastError = null;

async function tryGetUserMedia(constraints) {
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    lastError = (err && err.name) || 'Error';
    console.info('aula: getUserMedia failed', constraints, lastError);
    return null;
  }
}

/** The constraints for one kind ('audio' or 'video') on device `id` (or the default). */
function constraintsFor(kind, id) {
  const base = kind === 'video' ? { ...VIDEO } : {};
  if (id) base.deviceId = { exact: id };
  return Object.keys(base).length ? base : true;
}

/** One track of `kind`, on device `id` if it is there, else on the default; or null. */
async function trackOf(kind, id) {
  let stream = await tryGetUserMedia({ [kind]: constraintsFor(kind, id) });
  if (!stream && id) stream = await tryGetUserMedia({ [kind]: constraintsFor(kind, null) });
  const tracks = stream ? (kind === 'video' ? stream.getVideoTracks() : stream.getAudioTracks()) : [];
  return tracks[0] || null;
}

const TRACK = { audio: 'audioTrack', video: 'videoTrack' };
const USE = { audio: 'useAudio', video: 'useVideo' };

export class LocalMedia {
  /** `prefs`: {audioId, videoId, useAudio, useVideo} (devices.js); all optional. */
  constructor(prefs = {}) {
    this.prefs = { useAudio: true, useVideo: true, ...prefs };
    this.stream = new MediaStream();
    this.audioTrack = null;
    this.videoTrack = null;
    this.screenTrack = null;
    this.acquiring = null;
    // Whether acquire() has finished (with or without devices).
    this.acquired = false;
    // Whether the browser's screen picker is open (startScreen).
    this.choosingScreen = false;
    // Why a wanted device could not be had (see lastError), or null.
    this.error = null;
  }

  /** Acquires what it can, once (later calls wait for the first); never throws. */
  acquire() {
    if (!this.acquiring) this.acquiring = this.acquireNow();
    return this.acquiring;
  }

  async acquireNow() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return this;
    const { useAudio, useVideo, audioId, videoId } = this.prefs;
    lastError = null;
    let stream = null;
    if (useAudio && useVideo) {
      stream = await tryGetUserMedia({ audio: constraintsFor('audio', audioId), video: constraintsFor('video', videoId) });
    }
    if (!stream) {
      const audio = useAudio ? await trackOf('audio', audioId) : null;
      const video = useVideo ? await trackOf('video', videoId) : null;
      stream = new MediaStream([audio, video].filter(Boolean));
    }
    this.stream = stream;
    this.audioTrack = stream.getAudioTracks()[0] || null;
    this.videoTrack = stream.getVideoTracks()[0] || null;
    this.error = (useAudio && !this.audioTrack) || (useVideo && !this.videoTrack) ? lastError : null;
    this.acquired = true;
    return this;
  }

  /** Whether the person chose to join without `kind` ('audio' or 'video'). */
  declined(kind) {
    return !this.prefs[USE[kind]];
  }

  /**
   * Puts device `id` in place of the current track of `kind` (the stream keeps its place,
   * the new track takes the old one's on/off). Returns the new track, or null (the old stays).
   */
  async switchDevice(kind, id) {
    this.prefs[kind === 'audio' ? 'audioId' : 'videoId'] = id || null;
    if (this.declined(kind)) return null;
    const old = this[TRACK[kind]];
    const track = await trackOf(kind, id);
    if (!track) return null;
    this.put(kind, track, old);
    return track;
  }

  /**
   * Joins with `kind` after all (on) or not (off: the track stops, the camera light goes
   * out). Returns the track turned on, or null.
   */
  async setUse(kind, on) {
    this.prefs[USE[kind]] = on;
    const old = this[TRACK[kind]];
    if (!on) {
      if (old) {
        this.stream.removeTrack(old);
        old.stop();
      }
      this[TRACK[kind]] = null;
      return null;
    }
    if (old) return old;
    const track = await trackOf(kind, this.prefs[kind === 'audio' ? 'audioId' : 'videoId']);
    if (track) this.put(kind, track, null);
    this.error = track ? null : lastError;
    return track;
  }

  /** `track` in the stream in place of `old`, with its on/off. */
  put(kind, track, old) {
    track.enabled = old ? old.enabled : true;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    this[TRACK[kind]] = track;
  }

  /**
   * What to publish, in m-line order: [{track, source}] with source `microphone`,
   * `camera` or `screen` (docs/protocol.md, `publish`).
   */
  tracks() {
    return [
      [this.audioTrack, 'microphone'], [this.videoTrack, 'camera'], [this.screenTrack, 'screen'],
    ].filter(([track]) => track).map(([track, source]) => ({ track, source }));
  }

  /**
   * Asks for the camera again (its track ended: unplugged, or taken by another app) and
   * puts the new track in the stream in place of the old one. Returns it, or null.
   */
  async restartCamera() {
    return this.restartDevice('video');
  }

  /** The same for the microphone ('audio') or the camera ('video'). */
  async restartDevice(kind) {
    const track = await trackOf(kind, this.prefs[kind === 'audio' ? 'audioId' : 'videoId']);
    if (!track) return null;
    this.put(kind, track, this[TRACK[kind]]);
    return track;
  }

  /**
   * A device that ended and could not be had again (unplugged, permission taken back): its
   * track goes, and it counts as declined, so its button asks for it again when pressed.
   */
  lose(kind) {
    const old = this[TRACK[kind]];
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this[TRACK[kind]] = null;
    this.prefs[USE[kind]] = false;
  }

  /** 'noMedia', 'noMic', 'noCamera' or null: which notice to show (a declined device is not missing). */
  missing() {
    const noAudio = !this.audioTrack && !this.declined('audio');
    const noVideo = !this.videoTrack && !this.declined('video');
    if (noAudio && noVideo) return 'noMedia';
    if (noAudio) return this.videoTrack || this.declined('video') ? 'noMic' : 'noMedia';
    if (noVideo) return 'noCamera';
    return null;
  }

  /** What `media_state` reports: a missing device counts as off. */
  state() {
    return {
      audio: Boolean(this.audioTrack && this.audioTrack.enabled),
      video: Boolean(this.videoTrack && this.videoTrack.enabled),
      screen: Boolean(this.screenTrack),
    };
  }

  /** Turns the microphone ('audio') or camera ('video') on or off. Returns the new state. */
  setEnabled(kind, on) {
    const track = kind === 'audio' ? this.audioTrack : this.videoTrack;
    if (track) track.enabled = Boolean(on);
    return this.state();
  }

  /**
   * Asks the browser for a screen, window or tab to share. Resolves to the track, or
   * null if the user cancelled or the browser cannot share. `onended` fires when the
   * user stops sharing from the browser's own bar.
   */
  async startScreen(onended) {
    if (this.screenTrack) return this.screenTrack;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) return null;
    // A second press while the browser's picker is open (Firefox's does not block the page)
    // is the same request: a second capture would run on unseen, its indicator on after Stop.
    if (this.choosingScreen) return null;
    this.choosingScreen = true;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      this.screenTrack = stream.getVideoTracks()[0] || null;
    } catch (err) {
      console.info('aula: getDisplayMedia failed', err && err.name);
      return null;
    } finally {
      this.choosingScreen = false;
    }
    if (this.screenTrack) {
      this.screenTrack.contentHint = 'detail';
      this.screenTrack.addEventListener('ended', () => onended(), { once: true });
    }
    return this.screenTrack;
  }

  /** Stops the screen share; returns whether there was one. */
  stopScreen() {
    if (!this.screenTrack) return false;
    this.screenTrack.stop();
    this.screenTrack = null;
    return true;
  }

  /** Turns the devices off (the camera light goes out). */
  stop() {
    this.stopScreen();
    for (const track of this.stream.getTracks()) track.stop();
    this.audioTrack = null;
    this.videoTrack = null;
    this.stream = new MediaStream();
    this.acquiring = null;
    this.acquired = false;
  }
}
