// The local camera, microphone and screen share.
//
// A pupil without a camera (or who said "no") must still be able to join and watch, so
// asking for both at once falls back to asking for each alone; whatever is granted is
// used and `missing` says what is not.
//
// The camera is asked for 1280×720 as an ideal, not a must: the top simulcast layer is
// that size (simulcast.js), and a camera without it gives the nearest it has.

import { CAMERA_CAPTURE } from './simulcast.js';

const VIDEO = CAMERA_CAPTURE;

async function tryGetUserMedia(constraints) {
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    console.info('aula: getUserMedia failed', constraints, err && err.name);
    return null;
  }
}

export class LocalMedia {
  constructor() {
    this.stream = new MediaStream();
    this.audioTrack = null;
    this.videoTrack = null;
    this.screenTrack = null;
  }

  /** Acquires what it can; never throws. */
  async acquire() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return this;
    let stream = await tryGetUserMedia({ audio: true, video: VIDEO });
    if (!stream) {
      const audio = await tryGetUserMedia({ audio: true });
      const video = await tryGetUserMedia({ video: VIDEO });
      stream = new MediaStream([...(audio ? audio.getTracks() : []), ...(video ? video.getTracks() : [])]);
    }
    this.stream = stream;
    this.audioTrack = stream.getAudioTracks()[0] || null;
    this.videoTrack = stream.getVideoTracks()[0] || null;
    return this;
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
    const stream = await tryGetUserMedia({ video: VIDEO });
    const track = stream ? stream.getVideoTracks()[0] : null;
    if (!track) return null;
    const old = this.videoTrack;
    track.enabled = old ? old.enabled : true;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    this.videoTrack = track;
    return track;
  }

  /** 'noMedia', 'noMic', 'noCamera' or null: which notice to show. */
  missing() {
    if (!this.audioTrack && !this.videoTrack) return 'noMedia';
    if (!this.audioTrack) return 'noMic';
    if (!this.videoTrack) return 'noCamera';
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
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      this.screenTrack = stream.getVideoTracks()[0] || null;
    } catch (err) {
      console.info('aula: getDisplayMedia failed', err && err.name);
      return null;
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
  }
}
