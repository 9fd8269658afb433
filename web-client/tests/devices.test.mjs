// The camera and microphone check (issue 14, items 2 and 3): before joining, the page shows
// the own camera, a moving microphone level and pickers for camera and microphone; the
// waiting room keeps showing the camera; "Join with camera" unticked joins without it (no
// camera light, no video sent) and the camera button brings it later; in the lesson, the
// Settings dialog switches to another camera and the others keep decoding video.
// Chromium runs with three fake cameras (device-count=3); the second is a Y16 depth camera,
// which the encoder cannot take, so the switch goes to the third (MJPEG, like most webcams).
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, joinAs, joinLobby, openParticipant, openPeople, poll, withServerAndBrowser,
} from './helpers.mjs';

const CAMERAS = ['--use-fake-device-for-media-stream=device-count=3'];

/** The preview's state: whether it plays a picture, the meter level, the pickers' options. */
function preview(page) {
  return page.evaluate(() => {
    const video = document.getElementById('preview-video');
    const options = (id) => [...document.getElementById(id).options].map((o) => o.value).filter(Boolean);
    return {
      playing: !video.hidden && !video.paused && video.videoWidth > 0,
      visible: video.checkVisibility(),
      level: Number(document.getElementById('mic-meter').dataset.level),
      cameras: options('camera-select'),
      mics: options('mic-select'),
      camera: document.getElementById('camera-select').value,
    };
  });
}

/** Frames `page` decoded of participant `id`'s camera. */
async function decoded(page, id) {
  const s = (await page.evaluate(() => window.aula.stats()))[id];
  return s ? s.videoFramesDecoded : 0;
}

/**
 * The page's device of `kind` ('audio', 'video') is unplugged: its track ends, and none can
 * be had until `window.testRealGum` is put back.
 */
function unplug(page, kind) {
  return page.evaluate((k) => {
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    window.testRealGum = real;
    navigator.mediaDevices.getUserMedia = async (c) => {
      if (c && c[k]) throw new DOMException(`no ${k} device`, 'NotFoundError');
      return real(c);
    };
    const sender = window.aula.publishPc.getSenders().find((s) => s.track && s.track.kind === k);
    sender.track.stop();
    sender.track.dispatchEvent(new Event('ended'));
  }, kind);
}

function withCameras(t, body) {
  return withServerAndBrowser(t, { browserArgs: CAMERAS }, body);
}

test('the check before joining shows the camera, the microphone level and the devices; the lobby keeps it', async (t) => {
  await withCameras(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5b Musik', { kind: 'class', lobby: true });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const anna = await openParticipant(browser, 'Anna');
    everyone.push(anna);
    await anna.page.goto(room.participant_url);
    const before = await poll(async () => {
      const s = await preview(anna.page);
      return s.playing && s.level > 0 && s.cameras.length === 3 ? s : null;
    }, { message: 'a playing preview, a moving level and three cameras before joining' });
    assert.ok(before.visible && before.mics.length >= 1, JSON.stringify(before));
    assert.equal(await anna.page.isVisible('#screen-prejoin'), true, 'still on the join form');

    await joinLobby(anna.page, 'Anna');
    await poll(async () => {
      const s = await preview(anna.page);
      return s.playing && s.visible && (await anna.page.isVisible('#lobby-devices #device-check'));
    }, { message: 'the preview in the waiting room' });

    // Admitted: the check goes into the Settings dialog, closed.
    await openPeople(teacher.page);
    await teacher.page.click('[data-action="admit"]');
    await anna.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    assert.equal(await anna.page.isVisible('#device-check'), false, 'no check over the lesson');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('joining without the camera sends none; the camera button brings it later', async (t) => {
  await withCameras(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5b Musik', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const ben = await openParticipant(browser, 'Ben', { locale: 'de-DE' });
    everyone.push(ben);
    await ben.page.goto(room.participant_url);
    await poll(async () => (await preview(ben.page)).playing, { message: 'Ben\'s preview' });
    await ben.page.uncheck('#use-camera');
    await poll(async () => !(await preview(ben.page)).playing, { message: 'the preview off' });
    assert.equal(await ben.page.textContent('#preview-off'), 'Sie treten ohne Kamera bei.');
    const stopped = await ben.page.evaluate(() => document.getElementById('preview-video').srcObject === null);
    assert.ok(stopped, 'the camera stopped (its light goes out)');

    await ben.page.fill('#name-input', 'Ben');
    await ben.page.click('#join-button');
    await ben.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    const benMe = await ben.page.evaluate(() => window.aula.you);
    assert.equal(benMe.video, false);
    // No "no camera" notice: he chose it. The camera button can turn it on.
    assert.equal(await ben.page.locator('#notices .notice').count(), 0, 'no notice');
    await ben.page.waitForSelector('#toggle-cam[aria-pressed="false"]:not([disabled])', { timeout: WAIT });
    const published = await ben.page.evaluate(() => window.aula.publishPc.getSenders()
      .filter((s) => s.track && s.track.kind === 'video').length);
    assert.equal(published, 0, 'no video sent');

    // A reload keeps his choice: the camera stays closed (no light), nothing is sent.
    const cameraTracks = () => ben.page.evaluate(() => window.aula.localTracks().filter((k) => k === 'video').length);
    await ben.page.reload();
    await ben.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    await ben.page.waitForSelector('#toggle-cam[aria-pressed="false"]:not([disabled])', { timeout: WAIT });
    assert.equal(await cameraTracks(), 0, 'no camera opened after the reload');

    await ben.page.click('#toggle-cam');
    await ben.page.waitForSelector('#toggle-cam[aria-pressed="true"]', { timeout: WAIT });
    await poll(async () => (await decoded(teacher.page, benMe.id)) > 10, { message: 'the teacher sees Ben after all' });
    // Turned on in the lesson, it is his choice now: the next reload opens it again.
    await ben.page.reload();
    await ben.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    await poll(async () => (await cameraTracks()) === 1, { message: 'the camera back after a reload' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('switching the camera in the lesson keeps the call; the others keep decoding', async (t) => {
  await withCameras(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5b Musik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    await poll(async () => (await decoded(anna.page, teacherMe.id)) > 10, { message: 'Anna sees the teacher' });
    const trackDevice = () => teacher.page.evaluate(() => {
      const sender = window.aula.publishPc.getSenders().find((s) => s.track && s.track.kind === 'video');
      return sender ? sender.track.getSettings().deviceId : null;
    });
    const first = await trackDevice();

    await teacher.page.click('#open-settings');
    await teacher.page.waitForSelector('#settings-dialog #camera-select', { state: 'visible', timeout: WAIT });
    assert.equal(await teacher.page.isVisible('#use-camera'), false, 'no "join with" in the lesson');
    const other = await teacher.page.evaluate(() => [...document.querySelectorAll('#camera-select option')]
      .find((o) => o.textContent.endsWith('_2')).value);
    assert.ok(other && other !== first, 'another camera to choose');
    await teacher.page.selectOption('#camera-select', other);
    await poll(async () => (await trackDevice()) === other, { message: 'the other camera going out' });
    const at = await decoded(anna.page, teacherMe.id);
    await poll(async () => (await decoded(anna.page, teacherMe.id)) > at + 30,
      { message: 'Anna decoding the teacher on the new camera' });
    await teacher.page.keyboard.press('Escape');
    await teacher.page.waitForSelector('#settings-dialog', { state: 'hidden', timeout: WAIT });
    assert.equal(await teacher.page.isVisible('#screen-call'), true, 'still in the lesson');
    const log = await teacher.page.evaluate(() => window.aula.log().filter((e) => e.dir === 'out' && e.type === 'publish').length);
    assert.equal(log, 1, 'no new offer: the track was replaced');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('a camera unplugged in the lesson: the button says off, the page says why, the button brings it back', async (t) => {
  await withCameras(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5b Musik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    await poll(async () => (await decoded(anna.page, teacherMe.id)) > 10, { message: 'Anna sees the teacher' });
    await teacher.page.waitForSelector('#toggle-cam[aria-pressed="true"]', { timeout: WAIT });

    // Unplugged: the track ends, and no camera can be had until it is back.
    await unplug(teacher.page, 'video');
    await teacher.page.waitForSelector('#toggle-cam[aria-pressed="false"]:not([disabled])', { timeout: WAIT });
    await poll(async () => /Your camera stopped/.test(await teacher.page.textContent('#notices')),
      { message: 'the notice that says why' });
    await poll(async () => (await anna.page.evaluate((id) => window.aula.participants()
      .find((p) => p.id === id).video, teacherMe.id)) === false, { message: 'the class told the camera is off' });

    // Plugged in again: the camera button brings it back, and Anna sees her again.
    await teacher.page.evaluate(() => { navigator.mediaDevices.getUserMedia = window.testRealGum; });
    await teacher.page.click('#toggle-cam');
    await teacher.page.waitForSelector('#toggle-cam[aria-pressed="true"]', { timeout: WAIT });
    const at = await decoded(anna.page, teacherMe.id);
    await poll(async () => (await decoded(anna.page, teacherMe.id)) > at + 20, { message: 'the teacher\'s video again' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('a microphone turned on in the lesson that stops: the button says off, the page says why', async (t) => {
  await withCameras(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5b Musik', { kind: 'meeting' });
    await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const ben = await openParticipant(browser, 'Ben');
    everyone.push(ben);
    await ben.page.goto(room.participant_url);
    await poll(async () => (await preview(ben.page)).playing, { message: 'Ben\'s preview' });
    await ben.page.uncheck('#use-mic');
    await ben.page.fill('#name-input', 'Ben');
    await ben.page.click('#join-button');
    await ben.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    await ben.page.waitForSelector('#toggle-mic[aria-pressed="false"]:not([disabled])', { timeout: WAIT });
    // Turned on after all (a headset picked up), then its battery dies: the track ends.
    await ben.page.click('#toggle-mic');
    await ben.page.waitForSelector('#toggle-mic[aria-pressed="true"]', { timeout: WAIT });
    await unplug(ben.page, 'audio');
    await ben.page.waitForSelector('#toggle-mic[aria-pressed="false"]:not([disabled])', { timeout: WAIT });
    await poll(async () => /Your microphone stopped/.test(await ben.page.textContent('#notices')),
      { message: 'the notice that says why' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
