// Remove means gone (issue 13): in a class without a waiting room the teacher removes a
// student from People; the confirmation offers a new student link in the same step (ticked,
// since the old link lets anyone straight in), the student's page says she was removed, the
// teacher's link bar shows the new link, the old link no longer lets anyone in on another
// device, and the new one does.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, openParticipant, openPeople, poll, withServerAndBrowser,
} from './helpers.mjs';

test('removing a student offers a new link in the same step, and the old link is closed', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8a Chemie', { kind: 'class', lobby: false });
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.page.goto(room.host_url);
    await join(teacher.page, 'Frau Weber');
    const anna = await openParticipant(browser, 'Anna');
    everyone.push(anna);
    await anna.page.goto(room.participant_url);
    const annaMe = await join(anna.page, 'Anna');

    await openPeople(teacher.page);
    const row = teacher.page.locator(`[data-member-id="${annaMe.id}"]`);
    await row.locator('[data-action="remove"]').click();
    const renew = row.locator('#remove-renew');
    assert.equal(await renew.isChecked(), true, 'without a waiting room the new link is ticked');
    assert.match(await row.locator('label.check').textContent(), /new student link/);
    await row.locator('[data-action="confirm_remove"]').click();

    await anna.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    assert.match(await anna.page.textContent('#screen-ended'), /removed you/);
    const link = await poll(async () => {
      const value = await teacher.page.inputValue('#participant-link');
      return value !== room.participant_url && value;
    }, { message: 'the teacher’s link bar shows the new link' });

    // Anna on another device with the old link: refused.
    const again = await openParticipant(browser, 'Anna elsewhere');
    everyone.push(again);
    await again.page.goto(room.participant_url);
    await again.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
    await again.page.fill('#name-input', 'Anna');
    await again.page.click('#join-button');
    await again.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    assert.match(await again.page.textContent('#screen-ended'), /not valid/);

    // The new link works.
    const ben = await openParticipant(browser, 'Ben');
    everyone.push(ben);
    await ben.page.goto(link);
    assert.equal((await join(ben.page, 'Ben')).role, 'participant');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
