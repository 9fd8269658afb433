// Raise and lower hand: two students raise their hands, the teacher sees the queue in
// the order they were raised (and the hand on their tiles), lowers the first; that
// student raises again (now last in the queue) and lowers their own hand.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, joinAs, openPeople, poll, withServerAndBrowser,
} from './helpers.mjs';

/** The ids in the teacher's hand queue, in the order shown. */
function shownQueue(page) {
  return page.evaluate(() => [...document.querySelectorAll('#hand-queue [data-hand-id]')]
    .map((row) => row.dataset.handId));
}

async function expectQueue(page, ids, what) {
  await poll(async () => JSON.stringify(await shownQueue(page)) === JSON.stringify(ids),
    { message: `the hand queue to be ${what}` });
}

async function setHand(page, up) {
  await page.waitForSelector(`#toggle-hand[aria-pressed="${!up}"]:not([disabled])`, { timeout: WAIT });
  await page.click('#toggle-hand');
  await page.waitForSelector(`#toggle-hand[aria-pressed="${up}"]`, { timeout: WAIT });
}

test('students raise hands, the teacher sees the queue and lowers them', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '7a Geschichte', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Herr Jung');
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    const { p: ben, me: benMe } = await joinAs(browser, everyone, room.participant_url, 'Ben');
    await openPeople(teacher.page);

    await setHand(anna.page, true);
    await expectQueue(teacher.page, [annaMe.id], '[Anna]');
    await setHand(ben.page, true);
    await expectQueue(teacher.page, [annaMe.id, benMe.id], '[Anna, Ben]');
    const hands = await teacher.page.evaluate(() => window.aula.participants().filter((p) => p.hand).map((p) => p.id));
    assert.deepEqual(hands.sort(), [annaMe.id, benMe.id].sort(), 'hand icons on both tiles');
    assert.equal(await anna.page.locator('#hand-queue').count(), 0, 'students see no queue');

    // The teacher lowers Anna's hand: her button follows.
    await teacher.page.click(`#hand-queue [data-hand-id="${annaMe.id}"] [data-action="lower_hand"]`);
    await anna.page.waitForSelector('#toggle-hand[aria-pressed="false"]', { timeout: WAIT });
    await expectQueue(teacher.page, [benMe.id], '[Ben]');

    // Anna raises again: behind Ben. Then she lowers it herself.
    await setHand(anna.page, true);
    await expectQueue(teacher.page, [benMe.id, annaMe.id], '[Ben, Anna]');
    await setHand(anna.page, false);
    await expectQueue(teacher.page, [benMe.id], '[Ben] after Anna lowered her own');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
