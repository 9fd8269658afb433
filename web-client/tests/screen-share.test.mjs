// Screen share seen by a participant: the teacher presses the screen button (headless
// Chromium's fake screen answers getDisplayMedia; --use-fake-ui-for-media-stream skips
// the picker), the page re-publishes with a third track of source "screen"; the
// student's subscribe connection gets a video track with source "screen" whose frames
// are decoded and presented, large on the stage. When the teacher stops sharing, the
// student's screen tile goes away.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, joinAs, poll, withServerAndBrowser,
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
    const published = await poll(() => teacher.page.evaluate(() => window.aula.log()
      .filter((e) => e.dir === 'out' && e.type === 'publish').pop()), { message: 'a publish' });
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
    await teacher.page.click('#toggle-screen');
    await teacher.page.waitForSelector('#toggle-screen[aria-pressed="false"]', { timeout: WAIT });
    await poll(async () => (await screenOf(anna.page, teacherMe.id)) === null,
      { message: 'the teacher’s screen tile to go away' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
