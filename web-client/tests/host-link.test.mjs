// The teacher (a host) sees the right participant link on any device: the page builds
// it from the `participant_secret` the server puts into `joined` for hosts, not from
// anything the browser that started the class remembered. Here the class is started by the test
// (POST /api/rooms), and the teacher link is opened in a fresh browser context.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRoom, join, openParticipant, withServerAndBrowser,
} from './helpers.mjs';

test('a teacher in a fresh browser sees the participant link of POST /api/rooms', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5a Englisch');
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.page.goto(room.host_url);
    assert.equal(await teacher.page.evaluate(() => localStorage.length), 0, 'nothing remembered');
    const me = await join(teacher.page, 'Frau Weber');
    assert.equal(me.role, 'host');

    await teacher.page.waitForSelector('#participant-link', { state: 'visible' });
    assert.equal(await teacher.page.inputValue('#participant-link'), room.participant_url);
    assert.equal(await teacher.page.textContent('#invite-label'), 'Student link');
    assert.equal(await teacher.page.locator('#copy-link').isVisible(), true, 'copy button');
    assert.deepEqual(teacher.errors, [], 'no uncaught errors');
  });
});
