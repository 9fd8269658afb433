// The local camera and microphone.
//
// A pupil without a camera (or who said "no") must still be able to join and watch, so
// asking for both at once falls back to asking for each alone; whatever is granted is
// used and `missing` says what is not.

const VIDEO = { width: 640, height: 360 };

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

  /** Tracks to publish: audio first, then video (the order of the m-lines). */
  tracks() {
    return [this.audioTrack, this.videoTrack].filter(Boolean);
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
    };
  }

  /** Flips a track's `enabled`; kind is 'audio' or 'video'. Returns the new state. */
  toggle(kind) {
    const track = kind === 'audio' ? this.audioTrack : this.videoTrack;
    if (track) track.enabled = !track.enabled;
    return this.state();
  }

  /** Turns the devices off (the camera light goes out). */
  stop() {
    for (const track of this.stream.getTracks()) track.stop();
    this.audioTrack = null;
    this.videoTrack = null;
    this.stream = new MediaStream();
  }
}
