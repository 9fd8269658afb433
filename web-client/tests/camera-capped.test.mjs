// A teacher's camera whose lowest layer a subscriber cannot take whole is capped at her page,
// not paused (docs/protocol.md, `camera_bitrate`; docs/architecture.md, "Bandwidth
// adaptation"), in headless Chromium against a real `aula` binary whose rooms may send at
// most ROOM_LIMIT_MBPS.
//
// The teacher is on camera (a moving, noisy picture: helpers.mjs, noisyCamera, whose lowest
// layer sends 90-160 kbit/s) and microphone; Anna joins without camera or microphone, so the
// room's whole budget is hers. The allocator takes her teacher's sound off the top (60
// kbit/s at least), which leaves about 105 kbit/s: less than the teacher's lowest layer sends
// once it runs (it measured 93 kbit/s in its first second, then 150-160), more than the least
// a capped camera is sent at (60 kbit/s). (A budget below 150 kbit/s would keep Anna at
// audio only: video comes back only above that.)
// 1. The server tells the teacher's page `camera_bitrate`; the page sets the lowest encoding's
//    `maxBitrate` (rid q) to it and leaves the other two at their own caps.
// 2. Anna's page goes on decoding the teacher's video, at the low layer's size, and it is
//    not marked paused; 6 s on, the cap still holds (Chromium keeps to it: the server drops a
//    cap that is not kept, `aula_caps_ignored_total`).
// 3. Anna's page stops showing the teacher's tile (hidden): nobody needs the cap, and 5 s
//    later the server lifts it (`max_bitrate: null`); the encoding is back at its own cap.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/camera-capped.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { WAIT, createRoom, joinAs, noisyCamera, poll, publishedSender, withServerAndBrowser } from './helpers.mjs';

const ROOM_LIMIT_MBPS = 0.165;

/** The teacher's camera sender: each encoding's maxBitrate by rid. */
async function cameraSender(page) {
  const sender = await publishedSender(page, 'camera');
  return sender && Object.fromEntries(sender.encodings.map((e) => [e.rid, e.maxBitrate]));
}

/** The `camera_bitrate` messages `page` has had, oldest first. */
function capsTold(page) {
  return page.evaluate(() => window.aula.log().filter((e) => e.type === 'camera_bitrate').map((e) => e.max_bitrate));
}

/** Anna's view of the teacher's camera: frames decoded and their width. */
function cameraOn(page, id) {
  return page.evaluate(async (pid) => {
    const stats = (await window.aula.stats())[pid];
    return stats ? { decoded: stats.videoFramesDecoded, width: stats.videoFrameWidth } : null;
  }, id);
}

test('a teacher’s camera that does not fit is capped at her page, not paused, and the cap lifted when unneeded', async (t) => {
  const serverOptions = { args: ['--room-egress-limit-mbps', String(ROOM_LIMIT_MBPS)], browserArgs: noisyCamera() };
  await withServerAndBrowser(t, serverOptions, async ({ browser, everyone, server }) => {
    const room = await createRoom(server.url, '9a Erdkunde', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna', {
      devices: { useVideo: false, useAudio: false },
    });

    // 1. Capped at the source, the lowest encoding only.
    const started = Date.now();
    const cap = await poll(async () => {
      const told = await capsTold(teacher.page);
      return told.length && typeof told.at(-1) === 'number' ? told.at(-1) : null;
    }, { message: 'a camera_bitrate on the teacher’s page' });
    const cappedAt = Date.now();
    console.log(`camera-capped: capped at ${cap} bit/s ${cappedAt - started} ms after Anna joined`);
    assert.ok(cap >= 40_000 && cap < 150_000, `a cap below the layer's own: ${cap}`);
    const sender = await poll(async () => {
      const s = await cameraSender(teacher.page);
      return s && s.q !== 150_000 ? s : null;
    }, { message: 'maxBitrate set on the lowest camera encoding' });
    const last = (await capsTold(teacher.page)).filter((c) => typeof c === 'number').pop();
    assert.deepEqual(sender, { q: last, h: 450_000, f: 1_200_000 }, 'the latest cap on q alone');

    // 2. Anna goes on seeing her, small, not paused.
    const first = await poll(async () => {
      const s = await cameraOn(anna.page, teacherMe.id);
      return s && s.decoded > 0 ? s : null;
    }, { message: 'the teacher’s video on Anna’s page' });
    const later = await poll(async () => {
      const s = await cameraOn(anna.page, teacherMe.id);
      return s && s.decoded > first.decoded + 15 ? s : null;
    }, { message: 'the teacher’s frames to keep coming on Anna’s page' });
    assert.ok(later.width > 0 && later.width <= 320, `the lowest layer: ${later.width} wide`);
    const told = await anna.page.evaluate(() => window.aula.log().filter((e) => e.type === 'bandwidth').pop() || null);
    assert.ok(!told || !told.paused.some((s) => s.participant === teacherMe.id),
      `the teacher is not paused for Anna: ${JSON.stringify(told)}`);
    // Chromium keeps to it: past the 4 s the server gives a page to bring the encoding down,
    // the cap still holds and nobody was found ignoring one.
    await delay(Math.max(0, cappedAt + 6500 - Date.now()));
    assert.equal(typeof (await capsTold(teacher.page)).at(-1), 'number', 'still capped');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^aula_caps_ignored_total 0$/m);

    // 3. Anna's page hides the teacher: the cap is lifted.
    await anna.page.evaluate((pid) => {
      for (const el of document.querySelectorAll(`[data-participant-id="${CSS.escape(pid)}"]`)) {
        el.style.setProperty('display', 'none', 'important');
      }
    }, teacherMe.id);
    const hiddenAt = Date.now();
    await poll(async () => (await capsTold(teacher.page)).at(-1) === null, { message: 'the cap lifted' });
    await poll(async () => (await cameraSender(teacher.page)).q === 150_000, { message: 'q at its own cap again' });
    console.log(`camera-capped: lifted ${Date.now() - hiddenAt} ms after Anna's page hid the teacher`);

    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
