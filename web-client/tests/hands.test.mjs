// Raise and lower hand: two students raise their hands, the teacher sees the queue in
// the order they were raised (and the hand on their tiles), lowers the first; that
// student raises again (now last in the queue) and lowers their own hand. A raised hand is
// not missed: the teacher gets a notice with the name and a tone, the People badge counts
// it, the member list has raised hands on top, and "Lower all hands" lowers every one.
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
    // The teacher's keyboard is on Ben's Spotlight button: Anna's hand redraws the panel and
    // moves the rows, and the focus stays on that button.
    const spotlightBen = `#member-list [data-member-id="${benMe.id}"] [data-action="spotlight"]`;
    await teacher.page.focus(spotlightBen);

    await setHand(anna.page, true);
    await expectQueue(teacher.page, [annaMe.id], '[Anna]');
    assert.equal(await teacher.page.evaluate((sel) => document.activeElement === document.querySelector(sel),
      spotlightBen), true, 'the focus stayed on Ben\'s Spotlight button');
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

/** The ids of the People list's members, in the order shown (our own row first). */
function shownMembers(page) {
  return page.evaluate(() => [...document.querySelectorAll('#member-list [data-member-id]')]
    .map((row) => row.dataset.memberId));
}

test('a raised hand is not missed: notice, tone, badge, top of People, and lower all', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '7a Geschichte', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Herr Jung');
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    const { p: zoe, me: zoeMe } = await joinAs(browser, everyone, room.participant_url, 'Zoe');
    const { p: ben, me: benMe } = await joinAs(browser, everyone, room.participant_url, 'Ben');

    // Zoe raises her hand: a notice with her name, a tone, and the badge, with People closed.
    await setHand(zoe.page, true);
    const notice = teacher.page.locator(`#hand-notice-${zoeMe.id}`);
    await notice.waitFor({ state: 'visible', timeout: WAIT });
    assert.match(await notice.textContent(), /Zoe raised a hand/);
    await poll(async () => (await teacher.page.evaluate(() => window.aula.sounds('hand'))) === 1,
      { message: 'one hand tone' });
    await poll(async () => (await teacher.page.textContent('#people-badge')) === '1',
      { message: 'the People badge counts the hand' });
    assert.match(await teacher.page.getAttribute('#open-people', 'aria-label'), /1 waiting or with a hand up/);
    assert.equal(await anna.page.locator(`#hand-notice-${zoeMe.id}`).count(), 0, 'students get no notice');

    // Ben too. In People, the hands come first, in the order raised, above Anna (who
    // sorts before both by name).
    await setHand(ben.page, true);
    await openPeople(teacher.page);
    await expectQueue(teacher.page, [zoeMe.id, benMe.id], '[Zoe, Ben]');
    await poll(async () => JSON.stringify((await shownMembers(teacher.page)).slice(1))
      === JSON.stringify([zoeMe.id, benMe.id, annaMe.id]), { message: 'hands on top of the member list' });
    const queueTop = await teacher.page.evaluate(() => document.querySelector('#people-panel').firstElementChild.id);
    assert.equal(queueTop, 'hand-queue', 'the queue is the first thing in People');

    // The notice's own Lower button lowers that hand, and the notice goes with it.
    await teacher.page.click(`#hand-notice-${zoeMe.id} button:has-text("Lower")`);
    await zoe.page.waitForSelector('#toggle-hand[aria-pressed="false"]', { timeout: WAIT });
    await expectQueue(teacher.page, [benMe.id], '[Ben]');

    // Ben's hand goes down by itself: his notice goes too.
    await setHand(ben.page, false);
    await teacher.page.locator(`#hand-notice-${benMe.id}`).waitFor({ state: 'detached', timeout: WAIT });

    // Everyone raises; "Lower all hands" lowers them all at once.
    for (const p of [anna, zoe, ben]) await setHand(p.page, true);
    await expectQueue(teacher.page, [annaMe.id, zoeMe.id, benMe.id], '[Anna, Zoe, Ben]');
    await teacher.page.click('#hand-queue [data-action="lower_all_hands"]');
    for (const p of [anna, zoe, ben]) await p.page.waitForSelector('#toggle-hand[aria-pressed="false"]', { timeout: WAIT });
    await poll(async () => (await teacher.page.locator('#hand-queue').count()) === 0, { message: 'the queue gone' });
    await poll(async () => !(await teacher.page.isVisible('#people-badge')), { message: 'no badge left' });
    assert.equal(await teacher.page.locator('[id^="hand-notice-"]').count(), 0, 'no hand notice left');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
