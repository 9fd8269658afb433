// Mute by host: a student speaks (microphone on), the teacher mutes them from the
// People panel; on the other pages (the teacher's and another student's) the muted
// student's audio packets stop arriving, which the server enforces whatever the
// student's browser does. The muted student's page says so and shows the microphone off.
//
// "Stops arriving" is checked by sampling packetsReceived twice, about 2 s apart, after
// a short settle for packets already in flight (a measurement window, not a guess at
// how long something takes).
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import {
  WAIT, createRoom, joinAs, openPeople, poll, unmute, withServerAndBrowser,
} from './helpers.mjs';

const SETTLE_MS = 700;
const WINDOW_MS = 2000;

function audioPackets(page, id) {
  return page.evaluate(async (pid) => {
    const stats = await window.aula.stats();
    return stats[pid] ? stats[pid].audioPacketsReceived : 0;
  }, id);
}

/** Audio packets from `id` keep arriving on `page`. */
async function expectAudioFlowing(page, id, who) {
  const first = await poll(() => audioPackets(page, id), { message: `audio packets from ${who}` });
  await poll(async () => (await audioPackets(page, id)) > first, { message: `more audio packets from ${who}` });
}

test('a student muted by the teacher is heard by nobody', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '10a Deutsch', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    const { p: ben } = await joinAs(browser, everyone, room.participant_url, 'Ben');
    await unmute(anna.page);
    await Promise.all([
      expectAudioFlowing(teacher.page, annaMe.id, 'Anna (teacher page)'),
      expectAudioFlowing(ben.page, annaMe.id, 'Anna (Ben’s page)'),
    ]);

    await openPeople(teacher.page);
    await teacher.page.click(`[data-member-id="${annaMe.id}"] [data-action="mute"]`);

    // Anna's page: told, and the microphone button is off.
    await anna.page.waitForSelector('#toggle-mic[aria-pressed="false"]', { timeout: WAIT });
    await poll(async () => (await anna.page.textContent('#notices')).includes('The teacher muted you.'),
      { message: 'the "muted" notice on Anna’s page' });
    assert.equal(await anna.page.evaluate(() => window.aula.you.audio), false, 'the server holds Anna muted');

    // The others: Anna's tile shows her muted, then her packets stop.
    for (const p of [teacher, ben]) {
      await poll(() => p.page.evaluate((id) => {
        const tile = window.aula.participants().find((tl) => tl.id === id);
        return tile && tile.audio === false;
      }, annaMe.id), { message: `Anna shown muted on ${p.label}'s page` });
    }
    await delay(SETTLE_MS);
    const before = await Promise.all([teacher, ben].map((p) => audioPackets(p.page, annaMe.id)));
    await delay(WINDOW_MS);
    const after = await Promise.all([teacher, ben].map((p) => audioPackets(p.page, annaMe.id)));
    assert.deepEqual(after, before, 'no audio packets from Anna after the mute (teacher, Ben)');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
