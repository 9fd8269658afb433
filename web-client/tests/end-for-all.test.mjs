// End for all: the teacher ends the lesson (with a confirmation); every page shows the
// "lesson has ended" screen (the teacher's says she did it, and leads back to the start page
// for the next lesson), and the room's links then say it has ended.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, joinAs, openParticipant, openPeople, withServerAndBrowser,
} from './helpers.mjs';

test('a teacher ends the lesson for everyone', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '6a Kunst', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    const { p: ben } = await joinAs(browser, everyone, room.participant_url, 'Ben', { locale: 'de-DE' });
    assert.equal(await anna.page.locator('[data-action="end_room"]').count(), 0, 'students have no end button');

    await openPeople(teacher.page);
    await teacher.page.click('[data-action="end_room"]');
    await teacher.page.click('[data-action="confirm_end"]');

    for (const p of [teacher, anna, ben]) {
      await p.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
      assert.equal(await p.page.getAttribute('#screen-ended', 'data-reason'), 'ended', `${p.label}: ended`);
      assert.equal(await p.page.locator('#rejoin-button').isVisible(), false, `${p.label}: no rejoin`);
    }
    assert.equal(await anna.page.textContent('#ended-heading'), 'The lesson has ended');
    assert.equal(await anna.page.textContent('#ended-text'), 'The teacher ended the lesson for everyone.');
    assert.equal(await ben.page.textContent('#ended-heading'), 'Der Unterricht ist beendet');
    // Told in her own words, and never a dead end (issue 14).
    assert.equal(await teacher.page.textContent('#ended-text'), 'You ended the lesson for everyone.');
    assert.equal(await teacher.page.textContent('#start-link'), 'Start a new class');
    assert.equal(await anna.page.textContent('#start-link'), 'To the start page');
    assert.equal(await ben.page.textContent('#start-link'), 'Zur Startseite');
    await Promise.all([teacher.page.waitForURL(`${server.url}/`), teacher.page.click('#start-link')]);
    await teacher.page.waitForSelector('#start-form', { state: 'visible', timeout: WAIT });

    // The links now say the room has ended, before anyone types a name.
    const late = await openParticipant(browser, 'late student');
    everyone.push(late);
    await late.page.goto(room.participant_url);
    await late.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    assert.equal(await late.page.textContent('#ended-text'), 'This class has ended or the link is wrong.');
    assert.equal(await late.page.locator('#name-input').isVisible(), false, 'no name form');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
