// Short soft sounds made with WebAudio (no sound files, nothing fetched): someone waits in
// the lobby (two rising tones), a hand goes up (one low tone), a chat message arrives while
// the chat is closed (one high, quiet tone). Never throws: no sound is better than a broken
// page. A page that has had no user gesture yet may be refused sound by the browser; the
// visible notice is what counts, the sound only draws the eye to it.

let audio = null;
const played = { lobby: 0, hand: 0, chat: 0 };
const lastAt = { lobby: 0, hand: 0, chat: 0 };

// Per kind: [frequencies in Hz, peak gain, at most one every … ms]. A class's chat can be
// busy: one chat sound in four seconds is plenty.
const SOUNDS = {
  lobby: [[660, 880], 0.15, 0],
  hand: [[523], 0.12, 1000],
  chat: [[988], 0.06, 4000],
};

/** Plays the sound of `kind` ('lobby', 'hand' or 'chat'), unless it played just now. */
export function play(kind) {
  const [freqs, peak, gapMs] = SOUNDS[kind];
  const now = performance.now();
  if (gapMs && now - lastAt[kind] < gapMs) return;
  lastAt[kind] = now;
  played[kind] += 1;
  try {
    // Safari before 14.1 (iPads that cannot update further) has only the prefixed name.
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const start = audio.currentTime + 0.01;
    freqs.forEach((freq, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      const at = start + i * 0.16;
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(peak, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.28);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.3);
    });
  } catch (err) {
    console.info('aula: no sound', err);
  }
}

/** How often each sound played (for tests). */
export function playedCount(kind) {
  return played[kind];
}
