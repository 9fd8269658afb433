// Screen share seen by a participant: the teacher presses the screen button (headless
// Chromium's fake screen answers getDisplayMedia; --use-fake-ui-for-media-stream skips
// the picker), the page re-publishes with a third track of source "screen"; the
// student's subscribe connection gets a video track with source "screen" whose frames
// are decoded and presented, large on the stage. When the teacher stops sharing, the
// student's screen tile goes away. Sharing again renegotiates the same publish connection
// (docs/protocol.md, `publish`): the screen's m-line went inactive and is reused, no m-line
// is added anywhere, and the student sees the screen again. A new camera track then goes
// out with replaceTrack alone: no offer.
//
// A browser that cannot share its screen (Safari on the iPad has no getDisplayMedia) shows
// no screen button at all, and the rest of the controls as usual.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, joinAs, openParticipant, poll, withServerAndBrowser,
} from './helpers.mjs';

function screenOf(page, id) {
  return page.evaluate(async (pid) => {
    const tile = window.aula.screens().find((s) => s.owner === pid);
    const stats = (await window.aula.stats())[pid];
    return tile ? { ...tile, decoded: stats ? stats.screenFramesDecoded : 0 } : null;
  }, id);
}

test('a student sees the teacher’s shared screen, large', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8c Informatik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    // A class's students may not share by default: the button says so.
    await anna.page.waitForSelector('#toggle-screen[disabled]', { timeout: WAIT });

    await teacher.page.waitForSelector('#toggle-screen:not([disabled])', { timeout: WAIT });
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="true"]', { timeout: WAIT });
    // The button shows pressed once the screen is captured; the publish that carries it
    // follows (the page's first publish, without it, may be the last one for a moment).
    const published = await poll(() => teacher.page.evaluate(() => window.aula.log()
      .filter((e) => e.dir === 'out' && e.type === 'publish'
        && e.tracks.some((tr) => tr.source === 'screen')).pop()), { message: 'a publish with the screen' });
    assert.deepEqual(published.tracks.map((tr) => tr.source).sort(), ['camera', 'microphone', 'screen']);

    // The student: a screen track in the subscribe offer, frames decoded and shown.
    await poll(() => anna.page.evaluate((id) => window.aula.log().some((e) => e.type === 'subscribe_offer'
      && e.tracks.some((tr) => tr.participant === id && tr.source === 'screen' && tr.kind === 'video')),
    teacherMe.id), { message: 'a subscribe_offer with the teacher’s screen' });
    const first = await poll(async () => {
      const s = await screenOf(anna.page, teacherMe.id);
      return s && s.framesRendered > 0 && s.decoded > 0 ? s : null;
    }, { message: 'the first frames of the teacher’s screen' });
    await poll(async () => {
      const s = await screenOf(anna.page, teacherMe.id);
      return s && s.framesRendered > first.framesRendered && s.decoded > first.decoded;
    }, { message: 'the teacher’s screen frames to advance' });
    assert.equal((await screenOf(anna.page, teacherMe.id)).stage, true, 'the screen is on the stage');

    // Stop sharing: the screen leaves the student's page.
    const mlines = (page, pc) => page.evaluate((which) => window.aula[which].getTransceivers().length, pc);
    await teacher.page.evaluate(() => { window.aula.publishPc.first = true; });
    const counts = [await mlines(teacher.page, 'publishPc'), await mlines(anna.page, 'subscribePc')];
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="false"]', { timeout: WAIT });
    await poll(async () => (await screenOf(anna.page, teacherMe.id)) === null,
      { message: 'the teacher’s screen tile to go away' });

    // Share again: the same connection, the same m-lines, the screen back on the student's page.
    const publishes = () => teacher.page.evaluate(() => window.aula.log().filter((e) => e.dir === 'out' && e.type === 'publish'));
    const before = (await publishes()).length;
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="true"]', { timeout: WAIT });
    const offered = await poll(async () => (await publishes())[before], { message: 'a publish for the second share' });
    assert.deepEqual(offered.tracks, published.tracks, 'the same m-lines, the screen on its old one');
    assert.equal(await teacher.page.evaluate(() => window.aula.publishPc.first), true, 'the same publish connection');
    const again = await poll(async () => {
      const sc = await screenOf(anna.page, teacherMe.id);
      return sc && sc.framesRendered > 0 && sc.decoded > 0 ? sc : null;
    }, { message: 'the teacher’s screen again' });
    await poll(async () => {
      const sc = await screenOf(anna.page, teacherMe.id);
      return sc && sc.framesRendered > again.framesRendered && sc.decoded > again.decoded;
    }, { message: 'the second share’s frames to advance' });
    assert.deepEqual([await mlines(teacher.page, 'publishPc'), await mlines(anna.page, 'subscribePc')], counts,
      'no m-line added on either connection');

    // A new camera track (as when the camera ends and comes back) needs no offer at all.
    const camera = async () => (await anna.page.evaluate(() => window.aula.stats()))[teacherMe.id].videoFramesDecoded;
    const cameraTrack = () => teacher.page.evaluate(() => window.aula.publishPc.getTransceivers()[1].sender.track.id);
    const [trackBefore, framesBefore] = [await cameraTrack(), await camera()];
    await teacher.page.evaluate(() => window.aula.restartCamera());
    assert.notEqual(await cameraTrack(), trackBefore, 'a new camera track on the camera m-line');
    await poll(async () => (await camera()) > framesBefore + 30, { message: 'the teacher’s camera to go on' });
    assert.equal((await publishes()).length, before + 1, 'no publish for a new camera track');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('a browser without getDisplayMedia (the iPad) shows no screen button', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5a Kunst', { kind: 'class', lobby: false });
    const teacher = await openParticipant(browser, 'Frau Weber (no getDisplayMedia)');
    everyone.push(teacher);
    await teacher.context.addInitScript(() => { delete MediaDevices.prototype.getDisplayMedia; });
    await teacher.page.goto(room.host_url);
    await join(teacher.page, 'Frau Weber');
    await teacher.page.waitForSelector('#toggle-mic:not([disabled])', { timeout: WAIT });
    assert.equal(await teacher.page.evaluate(() => 'getDisplayMedia' in navigator.mediaDevices), false);
    assert.equal(await teacher.page.locator('#toggle-screen').isVisible(), false, 'no screen button');
    assert.equal(await teacher.page.locator('#toggle-cam').isVisible(), true, 'the camera button as usual');
    assert.deepEqual(teacher.errors, [], 'no uncaught errors');
  });
});

test('a second press while the screen picker is open starts no second capture', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8c Informatik', { kind: 'meeting' });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    await teacher.page.waitForSelector('#toggle-screen:not([disabled])', { timeout: WAIT });
    // The picker stays open half a second (Firefox's does not block the page meanwhile).
    await teacher.page.evaluate(() => {
      const real = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
      window.testCaptures = [];
      navigator.mediaDevices.getDisplayMedia = async (c) => {
        await new Promise((resolve) => { setTimeout(resolve, 500); });
        const stream = await real(c);
        window.testCaptures.push(...stream.getTracks());
        return stream;
      };
    });
    await teacher.page.click('#toggle-screen');
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="true"]', { timeout: WAIT });
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
    assert.equal(await teacher.page.evaluate(() => window.testCaptures.length), 1, 'one capture');
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="false"]', { timeout: WAIT });
    const live = await teacher.page.evaluate(() => window.testCaptures.filter((tr) => tr.readyState === 'live').length);
    assert.equal(live, 0, 'nothing is captured after Stop');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
