// A pupil whose budget holds the teacher's slides or her camera, not both, keeps the slides
// (docs/architecture.md, "Bandwidth adaptation": a camera shown smaller than a screen share
// makes way for it), in headless Chromium against a real `aula` binary whose rooms may send
// at most ROOM_LIMIT_MBPS.
//
// Anna joins without camera or microphone, so the room's budget is hers. Beside the
// teacher's sound (60 kbit/s at least) it leaves about 180 kbit/s: the share's floor (150)
// fits, the share and the teacher's lowest camera layer (helpers.mjs, noisyCamera: 90-160
// kbit/s) do not.
// 1. The teacher shares her screen. For Anna, after her link's first seconds, the share flows
//    (capped at what is left) and is not paused, and the teacher's camera is paused ("video
//    paused to save bandwidth" on its tile), its frames stopped.
// 2. Anna's page stops showing the share (hidden): the camera comes back and its frames flow.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/share-before-camera.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { WARM_UP_MS, createRoom, joinAs, noisyCamera, poll, withServerAndBrowser } from './helpers.mjs';

const ROOM_LIMIT_MBPS = 0.24;

/** Anna's view of the teacher: frames decoded of her camera and of her screen. */
function framesOf(page, id) {
  return page.evaluate(async (pid) => {
    const stats = (await window.aula.stats())[pid];
    return { camera: stats ? stats.videoFramesDecoded : 0, screen: stats ? stats.screenFramesDecoded : 0 };
  }, id);
}

/** The teacher's sources paused for Anna by the latest `bandwidth` message, sorted. */
async function pausedForAnna(page, id) {
  const told = await page.evaluate(() => window.aula.log().filter((e) => e.type === 'bandwidth').pop() || null);
  return told ? told.paused.filter((s) => s.participant === id).map((s) => s.source).sort() : [];
}

test('a pupil with room for the slides or the teacher’s camera keeps the slides, and the camera comes back when the slides go', async (t) => {
  const serverOptions = { args: ['--room-egress-limit-mbps', String(ROOM_LIMIT_MBPS)], browserArgs: noisyCamera() };
  await withServerAndBrowser(t, serverOptions, async ({ browser, everyone, server }) => {
    const room = await createRoom(server.url, '7b Mathe', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna', {
      devices: { useVideo: false, useAudio: false },
    });
    await teacher.page.waitForSelector('#toggle-screen:not([disabled])');
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="true"]');

    // 1. The slides, not the camera.
    await poll(async () => (await framesOf(anna.page, teacherMe.id)).screen > 0, { message: 'the share on Anna’s page' });
    await delay(WARM_UP_MS);
    const settled = await poll(async () => {
      const paused = await pausedForAnna(anna.page, teacherMe.id);
      return paused.length === 1 && paused[0] === 'camera' ? framesOf(anna.page, teacherMe.id) : null;
    }, { message: 'the camera paused for Anna, the share not' });
    await delay(3000);
    const after = await framesOf(anna.page, teacherMe.id);
    assert.deepEqual(await pausedForAnna(anna.page, teacherMe.id), ['camera'], 'still so 3 s on');
    assert.ok(after.screen > settled.screen + 3, `the share's frames keep coming: ${settled.screen} -> ${after.screen}`);
    assert.ok(after.camera <= settled.camera + 2, `the camera's frames stopped: ${settled.camera} -> ${after.camera}`);
    const badge = await anna.page.evaluate((pid) => {
      const tile = document.querySelector(`[data-participant-id="${CSS.escape(pid)}"]`);
      return tile ? tile.getAttribute('data-paused') : null;
    }, teacherMe.id);
    assert.equal(badge, 'true', 'the teacher’s tile says her video is paused');
    // The share is capped at what is left (or, where the fake screen sent little before its
    // first cap, seen on a loaded machine, it fits whole and the cap is lifted).
    const caps = await teacher.page.evaluate(() => window.aula.log().filter((e) => e.type === 'screen_bitrate').map((e) => e.max_bitrate));
    console.log(`share-before-camera: the share's caps ${JSON.stringify(caps)}, the camera paused`);
    for (const cap of caps.filter((c) => c !== null)) {
      assert.ok(cap >= 150_000 && cap <= ROOM_LIMIT_MBPS * 1e6, `a cap within the budget: ${cap}`);
    }

    // 2. Anna's page hides the share: the camera comes back.
    await anna.page.evaluate((pid) => {
      for (const el of document.querySelectorAll(`[data-screen-of="${CSS.escape(pid)}"]`)) {
        el.style.setProperty('display', 'none', 'important');
      }
    }, teacherMe.id);
    const hiddenAt = Date.now();
    const back = await poll(async () => {
      const paused = await pausedForAnna(anna.page, teacherMe.id);
      return paused.includes('camera') ? null : framesOf(anna.page, teacherMe.id);
    }, { message: 'the camera no longer paused for Anna' });
    await poll(async () => (await framesOf(anna.page, teacherMe.id)).camera > back.camera + 5, {
      message: 'the camera’s frames on Anna’s page',
    });
    console.log(`share-before-camera: the camera back ${Date.now() - hiddenAt} ms after Anna's page hid the share`);

    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
