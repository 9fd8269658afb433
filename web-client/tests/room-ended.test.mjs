// A link to a room that is gone shows "this class has ended or the link is wrong" at
// once, before anyone types a name: the room page asks GET /api/rooms/{id} first.
// Two ways to be gone: the room never existed, and a class that ended (the teacher
// joined and left, and the empty room's grace ran out).
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, openParticipant, poll, withServerAndBrowser,
} from './helpers.mjs';

// Short, so the ended class ends within the test; the default is 60 s.
const GRACE_SECS = 1;

const ENDED_TEXT = {
  'en-US': 'This class has ended or the link is wrong.',
  'de-DE': 'Dieser Unterricht ist beendet oder der Link ist falsch.',
};

/**
 * Opens `url` in a fresh context and checks the page: the ended text in the page's
 * language, no name form, no retry button, and no WebSocket ever opened.
 */
async function expectEndedScreen(browser, url, locale, everyone) {
  const p = await openParticipant(browser, `visitor (${locale})`, { locale });
  everyone.push(p);
  let sockets = 0;
  p.page.on('websocket', () => { sockets += 1; });
  await p.page.goto(url);
  await p.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
  assert.equal(await p.page.textContent('#ended-text'), ENDED_TEXT[locale]);
  assert.equal(await p.page.locator('#name-input').isVisible(), false, 'no name form');
  assert.equal(await p.page.locator('#screen-prejoin').isVisible(), false, 'no join screen');
  assert.equal(await p.page.locator('#rejoin-button').isVisible(), false, 'nothing to retry');
  assert.equal(sockets, 0, 'no WebSocket for a room that is gone');
  assert.deepEqual(p.errors, [], 'no uncaught errors');
}

test('a link to a room that never existed shows the ended screen, no name form', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const url = `${server.url}/room/nosuchroom#k=${'0'.repeat(32)}`;
    for (const locale of ['en-US', 'de-DE']) await expectEndedScreen(browser, url, locale, everyone);
  });
});

test('a participant link of a class that has ended shows the ended screen', async (t) => {
  const shortGrace = { args: ['--empty-room-grace-secs', String(GRACE_SECS)] };
  await withServerAndBrowser(t, shortGrace, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9c Chemie');
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.page.goto(room.host_url);
    await join(teacher.page, 'Herr Jung');
    // A host is asked: she leaves, and the lesson would go on (it is empty now, so it ends).
    await teacher.page.click('#leave-button');
    await teacher.page.click('#leave-only');
    await teacher.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    // The room ends once it has been empty for the grace period.
    await poll(async () => (await fetch(`${server.url}/api/rooms/${room.id}`)).status === 404,
      { message: `GET /api/rooms/${room.id} to answer 404 after the class ended` });

    await expectEndedScreen(browser, room.participant_url, 'de-DE', everyone);
  });
});
