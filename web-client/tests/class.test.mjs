// The whole class flow in headless Chromium against a real `aula` binary:
// a teacher starts a class (waiting room off) from the start page, two students join
// through the participant link in their own browser contexts and turn their
// microphones on (students join a class muted), everyone sees (decoded frames advancing) and
// hears (audio packets arriving) both others under the right names; then one student
// leaves with the button (gone at once) and one closes the tab (gone after the server's
// unload grace of 4 s, since a closing tab cannot be told from a reload), and their tiles
// go away elsewhere.
//
// Prints join-to-first-remote-frame per student and the median (page clocks: from the
// Join click to the first frame presented by a remote <video>), on one line starting
// "join-to-first-remote-frame ms:".
//
// With AULA_MEASURE_SECS=N it also holds the three-person call for N seconds once media
// flows everywhere and prints the server's CPU use (utime+stime from /proc) and RSS over
// that window. A measurement, never an assertion; without the variable there is no window.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)
// Measure: AULA_BIN=target/release/aula AULA_MEASURE_SECS=20 node --test web-client/tests/class.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import {
  WAIT, join, mediaSnapshot, median, openParticipant, poll, processUsage, startClass, tileLabel,
  unmute, withServerAndBrowser,
} from './helpers.mjs';

// "Within a few seconds" of someone leaving, their tile must be gone.
const LEAVE_DEADLINE = 5000;
// A closed tab cannot be told from a reload: the page says it may return, and the server
// keeps the seat for `unload_grace_secs` (default 4 s) before the others see it go.
const UNLOAD_GRACE_MS = 4000;

/** Waits for the first remote frame on `page`; returns ms from the Join click. */
async function joinToFirstFrame(page) {
  const timing = await poll(
    () => page.evaluate(() => {
      const tm = window.aula.timing();
      return tm.firstRemoteFrameAt !== null ? tm : null;
    }),
    { message: 'the first remote video frame' },
  );
  return timing.firstRemoteFrameAt - timing.joinClickedAt;
}

/** Every expected participant has a tile with the right name and both kinds of track. */
async function expectTiles(page, expected) {
  await poll(async () => {
    const tiles = await page.evaluate(() => window.aula.participants());
    return expected.every((e) => {
      const tile = tiles.find((tl) => tl.id === e.id);
      return tile && tile.tracks.includes('audio') && tile.tracks.includes('video');
    }) && tiles.length === expected.length;
  }, { message: `tiles with audio+video for ${expected.map((e) => e.name).join(', ')}` });
  for (const e of expected) {
    assert.equal(await tileLabel(page, e.id), e.name, `tile label of ${e.id}`);
    assert.ok(await page.locator(`[data-participant-id="${e.id}"] video`).isVisible(), `video of ${e.name} visible`);
  }
}

/**
 * Frames presented, frames decoded and audio packets received from every expected
 * participant all increase between a first sample and a later one.
 */
async function expectMediaFlowing(page, expected) {
  const started = (snap, id) => {
    const tile = snap.tiles.find((tl) => tl.id === id);
    const s = snap.stats[id];
    return tile && s && tile.framesRendered > 0 && s.videoFramesDecoded > 0 && s.audioPacketsReceived > 0;
  };
  const before = await poll(async () => {
    const snap = await mediaSnapshot(page);
    return expected.every((e) => started(snap, e.id)) ? snap : null;
  }, { message: `media from ${expected.map((e) => e.name).join(', ')}` });
  const grew = (snap, id) => {
    const [t0, t1] = [before, snap].map((s) => s.tiles.find((tl) => tl.id === id));
    const [s0, s1] = [before.stats[id], snap.stats[id]];
    return t1 && s1 && t1.framesRendered > t0.framesRendered
      && s1.videoFramesDecoded > s0.videoFramesDecoded
      && s1.audioPacketsReceived > s0.audioPacketsReceived;
  };
  await poll(async () => {
    const snap = await mediaSnapshot(page);
    return expected.every((e) => grew(snap, e.id));
  }, { message: `frames and audio packets from ${expected.map((e) => e.name).join(', ')} to keep coming` });
}

/**
 * Holds the call for AULA_MEASURE_SECS seconds and prints the server's CPU share of one
 * core (user+sys, all threads) and its VmRSS; media must still flow at the end, or the
 * number would describe a broken call. Does nothing without the variable.
 */
async function measureServer(server, receivers) {
  const secs = Number(process.env.AULA_MEASURE_SECS || 0);
  if (!(secs > 0)) return;
  const start = await processUsage(server.pid);
  await delay(secs * 1000);
  const end = await processUsage(server.pid);
  await Promise.all(receivers.map(([page, others]) => expectMediaFlowing(page, others)));
  const wallSecs = (end.at - start.at) / 1000;
  const percent = ((end.cpuSecs - start.cpuSecs) / wallSecs) * 100;
  const over = `over ${Math.round(wallSecs)} s`;
  console.log(`server CPU during 3-person call: ${percent.toFixed(1)}% of one core ${over} (user+sys)`);
  const mib = (end.rssKib / 1024).toFixed(1);
  console.log(`server RSS during 3-person call: ${mib} MiB (VmRSS at the end of the window)`);
}

/** The tile of `id` disappears from `page` within LEAVE_DEADLINE (plus `grace`). */
async function expectTileGone(page, id, who, grace = 0) {
  await poll(
    () => page.evaluate((pid) => !document.querySelector(`[data-participant-id="${CSS.escape(pid)}"]`), id),
    { timeout: grace + LEAVE_DEADLINE, interval: 100, message: `the tile of ${who} to disappear` },
  );
}

/** The subscribe connection stops carrying `id` (a later subscribe_offer drops its mids). */
async function expectTracksStopped(page, id, who) {
  await poll(
    () => page.evaluate((pid) => {
      const offers = window.aula.log().filter((e) => e.type === 'subscribe_offer');
      const last = offers[offers.length - 1];
      return last && !last.tracks.some((tr) => tr.participant === pid);
    }, id),
    { timeout: WAIT, message: `a subscribe_offer without the tracks of ${who}` },
  );
}

test('a teacher and two students see and hear each other; leavers disappear', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await startClass(teacher.page, server.url, '7b Mathe', { lobby: false });
    const teacherMe = await join(teacher.page, 'Frau Weber');
    assert.equal(teacherMe.role, 'host');
    assert.equal(await teacher.page.textContent('#room-title'), '7b Mathe');
    await teacher.page.waitForSelector('#participant-link', { state: 'visible' });
    const studentUrl = await teacher.page.inputValue('#participant-link');
    assert.match(studentUrl, /\/room\/[^/#]+#k=[0-9a-f]{32}$/, 'student link shape');
    assert.notEqual(studentUrl, teacher.page.url(), 'student link differs from the teacher link');

    // Students join one after the other, each from a fresh browser context.
    const students = [['Anna', 'de-DE'], ['Ben', 'en-GB']];
    const joinTimes = {};
    const mes = { 'Frau Weber': teacherMe };
    for (const [name, locale] of students) {
      const s = await openParticipant(browser, name, { locale });
      everyone.push(s);
      await s.page.goto(studentUrl);
      mes[name] = await join(s.page, name);
      assert.equal(mes[name].role, 'participant', `${name} is a participant`);
      assert.equal(mes[name].audio, false, `${name} joins the class muted`);
      assert.equal(await s.page.locator('#invite').isVisible(), false, `${name} sees no student link`);
      await unmute(s.page);
      joinTimes[name] = await joinToFirstFrame(s.page);
    }
    const [anna, ben] = everyone.slice(1);
    assert.equal(await anna.page.evaluate(() => document.documentElement.lang), 'de');
    assert.match(await anna.page.textContent('#leave-button'), /Verlassen/);

    // Everyone sees and hears both others, labelled with their names.
    const others = (self) => Object.entries(mes)
      .filter(([n]) => n !== self)
      .map(([name, me]) => ({ id: me.id, name }));
    await Promise.all([
      expectTiles(teacher.page, others('Frau Weber')),
      expectTiles(anna.page, others('Anna')),
      expectTiles(ben.page, others('Ben')),
    ]);
    const receivers = [
      [teacher.page, others('Frau Weber')], [anna.page, others('Anna')], [ben.page, others('Ben')],
    ];
    await Promise.all(receivers.map(([page, from]) => expectMediaFlowing(page, from)));

    const ms = Object.values(joinTimes).map(Math.round);
    console.log(`join-to-first-remote-frame ms: [${ms.join(', ')}] median: ${Math.round(median(ms))}`
      + ` (students in join order: ${Object.keys(joinTimes).join(', ')})`);
    await measureServer(server, receivers);

    // Ben leaves with the button: his page says so, the others drop his tile.
    await ben.page.click('#leave-button');
    await ben.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    assert.equal(await ben.page.locator('#rejoin-button').isVisible(), true, 'rejoin offered');
    await Promise.all([
      expectTileGone(teacher.page, mes.Ben.id, 'Ben (on the teacher page)'),
      expectTileGone(anna.page, mes.Ben.id, 'Ben (on Anna’s page)'),
    ]);
    await Promise.all([
      expectTracksStopped(teacher.page, mes.Ben.id, 'Ben (teacher)'),
      expectTracksStopped(anna.page, mes.Ben.id, 'Ben (Anna)'),
    ]);
    // The two who stayed still get each other's media.
    await Promise.all([
      expectMediaFlowing(teacher.page, [{ id: mes.Anna.id, name: 'Anna' }]),
      expectMediaFlowing(anna.page, [{ id: teacherMe.id, name: 'Frau Weber' }]),
    ]);

    // Anna closes her tab: once the unload grace has passed, the teacher drops her tile too.
    await anna.page.close({ runBeforeUnload: true });
    await expectTileGone(teacher.page, mes.Anna.id, 'Anna after closing her tab', UNLOAD_GRACE_MS);

    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
