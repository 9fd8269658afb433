// The microphone, camera and screen-share buttons.
//
// They show what we send (the Call's LocalMedia), which starts as the server's
// `joined.you` says. A button is disabled while the device is missing, and for
// participants while the room's settings forbid that source (the server would answer
// `forbidden`; it also turns the source off for us with `moderated`, see call.js).

import { t } from './i18n.js';
import { $, setButton } from './ui.js';

/** Wires the buttons; `getCall()` gives the current Call (or null). */
export function setupControls(getCall) {
  const live = () => {
    const call = getCall();
    return call && !call.ended && call.you ? call : null;
  };
  $('toggle-mic').addEventListener('click', () => { const c = live(); if (c) c.toggle('audio'); });
  $('toggle-cam').addEventListener('click', () => { const c = live(); if (c) c.toggle('video'); });
  $('toggle-screen').addEventListener('click', () => {
    const c = live();
    if (!c) return;
    if (c.media.screenTrack) c.stopScreen({ tell: true });
    else c.startScreen();
  });
  // Until the devices answer, the buttons wait.
  for (const id of ['toggle-mic', 'toggle-cam', 'toggle-screen']) $(id).disabled = true;
}

function showState(button, on, [iconOn, iconOff], [labelOn, labelOff]) {
  setButton(button, on ? iconOn : iconOff, t(on ? labelOn : labelOff));
  button.setAttribute('aria-pressed', String(on));
}

/** Brings the three buttons in line with the call's media, role and settings. */
export function updateControls(call) {
  const state = call.media.state();
  const ready = Boolean(call.you) && !call.ended;
  showState($('toggle-mic'), state.audio, ['mic', 'micOff'], ['controls.micOff', 'controls.micOn']);
  showState($('toggle-cam'), state.video, ['cam', 'camOff'], ['controls.camOff', 'controls.camOn']);
  showState($('toggle-screen'), state.screen, ['screen', 'screen'], ['controls.screenOff', 'controls.screenOn']);
  // Turning off is always possible; turning on only what the settings allow.
  // A device declined before joining can still be turned on: its button asks for it then.
  const has = (kind, track) => Boolean(track) || call.media.declined(kind);
  $('toggle-mic').disabled = !ready || !has('audio', call.media.audioTrack) || (!state.audio && !call.mayUse('audio'));
  $('toggle-cam').disabled = !ready || !has('video', call.media.videoTrack) || (!state.video && !call.mayUse('video'));
  const canShare = Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  $('toggle-screen').hidden = !canShare;
  $('toggle-screen').disabled = !ready || (!state.screen && !call.mayUse('screen'));
  for (const [id, kind, key] of [['toggle-mic', 'audio', 'controls.micForbidden'],
    ['toggle-cam', 'video', 'controls.camForbidden'], ['toggle-screen', 'screen', 'controls.screenForbidden']]) {
    if (!state[kind] && ready && !call.mayUse(kind)) $(id).title = t(key);
  }
}

/** "The teacher muted you", or "…because of a room setting" when `by` is null. */
export function moderatedText(call, { action, by }) {
  const known = ['mute', 'stop_video', 'stop_screen'].includes(action) ? action : 'mute';
  return t(by === null ? `moderated.${known}.setting` : `moderated.${known}`);
}
