// Pause at the source (docs/protocol.md, `encodings`), in headless Chromium against a real
// `aula` binary: an encoding nobody takes is switched off in the publisher's own browser,
// and on again as soon as somebody needs it. Read from the teacher's page: each sender's
// `getParameters().encodings[].active`, and the bytes its outbound-rtp streams send.
//
// 1. The teacher alone: nobody watches, so her camera's three encodings (q, h, f) are all
//    switched off, and none of them sends a byte.
// 2. She shares her screen (a renegotiation of her publish connection): the camera's
//    encodings stay off through it, and the screen's one encoding (rid "") goes off too.
// 3. She stops sharing and shares again on the same m-line: the server starts a new track
//    there, every encoding on, so the page sets the screen's encoding on again at once (it
//    was off for the share before). Nobody watches: off again.
// 4. Anna joins on a phone-sized page and sees the camera small (the stage is 171 lines): q
//    is switched on, h and f stay off, and Anna decodes the 320-pixel layer.
// 5. Anna's window grows (the stage is 474 lines): f is switched on, Anna decodes the
//    1280-pixel layer, and q, which nobody takes now, goes off.
//
// Prints how long each switch took, on lines starting "pause-at-source:".
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/pause-at-source.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { WAIT, createRoom, joinAs, poll, publishedSender, withServerAndBrowser } from './helpers.mjs';

// How long an encoding switched off must stay silent to count as off.
const QUIET_MS = 1000;

/**
 * The `active` flag of each encoding of the sender that carries `source` on the teacher's
 * publish connection (its m-line from her latest `publish`), as [[rid, active]]; rid "" for
 * a sender without rids. Null while there is no such sender.
 */
async function senderState(page, source) {
  const sender = await publishedSender(page, source);
  if (!sender || sender.direction !== 'sendonly') return null;
  return sender.encodings.map((e) => [e.rid, e.active]);
}

/** Polls until `source`'s sender on `page` has exactly `expected` ([[rid, active]]). */
async function senderBecomes(page, source, expected, message) {
  const started = Date.now();
  await poll(async () => JSON.stringify(await senderState(page, source)) === JSON.stringify(expected),
    { timeout: WAIT, message: `${message}: ${JSON.stringify(expected)}` });
  return Date.now() - started;
}

/** Bytes sent so far by each of the page's outbound video streams, by rid ("" without one). */
function bytesByRid(page) {
  return page.evaluate(async () => {
    const report = await window.aula.publishPc.getStats();
    const out = {};
    for (const s of report.values()) {
      if (s.type === 'outbound-rtp' && s.kind === 'video') out[`${s.mid}:${s.rid || ''}`] = s.bytesSent;
    }
    return out;
  });
}

/** The latest `encodings` the page was sent for `source`, as [[rid, active]]. */
function lastTold(page, source) {
  return page.evaluate((src) => {
    const told = window.aula.log().filter((e) => e.type === 'encodings' && e.source === src).pop();
    return told ? told.encodings.map((e) => [e.rid, e.active]) : null;
  }, source);
}

/** What `page` decodes of participant `id`'s camera: {frames, width}. */
async function cameraOf(page, id) {
  const s = (await page.evaluate(() => window.aula.stats()))[id];
  return s ? { frames: s.videoFramesDecoded, width: s.videoFrameWidth } : null;
}

/** Shares (on) or stops sharing (off) the teacher's screen, and waits for the renegotiation's answer. */
async function shareScreen(page, on) {
  const answers = () => page.evaluate(() => window.aula.log().filter((e) => e.type === 'publish_answer').length);
  const before = await answers();
  await page.waitForSelector('#toggle-screen:not([disabled])', { timeout: WAIT });
  await page.click('#toggle-screen');
  await page.waitForSelector(`#toggle-screen[aria-pressed="${on}"]`, { timeout: WAIT });
  await poll(async () => (await answers()) > before
    && page.evaluate(() => window.aula.publishPc.signalingState === 'stable'), { message: 'the publish answer' });
}

const ALL_OFF = [['q', false], ['h', false], ['f', false]];

test('an encoding nobody takes is switched off in the publisher’s browser, and on again when needed', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9a Physik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const page = teacher.page;

    // 1. Nobody watches: all three off, and silent.
    await senderBecomes(page, 'camera', [['q', true], ['h', true], ['f', true]], 'every encoding on at first');
    const off = await senderBecomes(page, 'camera', ALL_OFF, 'the camera switched off');
    assert.deepEqual(await lastTold(page, 'camera'), ALL_OFF, 'as the server said');
    console.log(`pause-at-source: alone, the camera's encodings off ${off} ms after they first sent`);
    const quiet = await bytesByRid(page);
    await delay(QUIET_MS);
    assert.deepEqual(await bytesByRid(page), quiet, 'no encoding sends a byte');

    // 2. A renegotiation keeps them off; the screen's one encoding goes off too.
    await shareScreen(page, true);
    assert.deepEqual(await senderState(page, 'camera'), ALL_OFF, 'the camera still off after the renegotiation');
    await senderBecomes(page, 'screen', [['', false]], 'the screen switched off');
    assert.deepEqual(await lastTold(page, 'screen'), [['', false]]);

    // 3. Shared again on the same m-line: a new track, on at once; off again for nobody.
    await shareScreen(page, false);
    const screenMids = () => page.evaluate(() => window.aula.log()
      .filter((e) => e.dir === 'out' && e.type === 'publish' && e.tracks.some((tr) => tr.source === 'screen'))
      .map((e) => e.tracks.find((tr) => tr.source === 'screen').mid));
    await shareScreen(page, true);
    const mids = await screenMids();
    assert.equal(new Set(mids).size, 1, `the screen's m-line reused: ${mids}`);
    assert.deepEqual(await senderState(page, 'screen'), [['', true]], 'the new share starts on');
    await senderBecomes(page, 'screen', [['', false]], 'the new share switched off');
    await shareScreen(page, false);
    assert.deepEqual(await senderState(page, 'camera'), ALL_OFF, 'the camera still off');

    // 4. Anna sees the camera small: q on, the others stay off.
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna', { viewport: { width: 320, height: 640 } });
    const small = await senderBecomes(page, 'camera', [['q', true], ['h', false], ['f', false]], 'q on for Anna');
    console.log(`pause-at-source: q on ${small} ms after Anna's page showed`);
    const low = await poll(async () => {
      const s = await cameraOf(anna.page, teacherMe.id);
      return s && s.frames > 10 ? s : null;
    }, { message: 'Anna decoding the teacher' });
    assert.ok(low.width > 0 && low.width <= 400, `Anna receives the small layer: ${low.width} wide`);

    // 5. Anna's window grows: f on, the large layer; q, which nobody takes now, off.
    await anna.page.setViewportSize({ width: 1280, height: 800 });
    const started = Date.now();
    await poll(async () => {
      const state = await senderState(page, 'camera');
      return state && state.find(([rid]) => rid === 'f')[1];
    }, { message: 'f switched on for Anna’s large stage' });
    const on = Date.now() - started;
    await poll(async () => {
      const s = await cameraOf(anna.page, teacherMe.id);
      return s && s.width >= 1000;
    }, { message: 'Anna receiving the large layer' });
    const large = Date.now() - started;
    await senderBecomes(page, 'camera', [['q', false], ['h', false], ['f', true]], 'only f on');
    console.log(`pause-at-source: f on ${on} ms after Anna's window grew, her first large frame within `
      + `${large} ms, q and h off within ${Date.now() - started} ms`);

    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
