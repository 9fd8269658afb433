// The 8 o'clock surge as a page sees it (docs/operations.md, "When the server is full"):
// with a ceiling of 3 people on the server, a fourth page shows its place in the queue
// instead of an error, moves up when someone leaves, and joins the lesson without a
// click; the teacher sees how many wait.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, openParticipant, poll, withServerAndBrowser,
} from './helpers.mjs';

/** Opens `url`, types `name`, clicks Join, and waits for the queue's place in line. */
async function joinQueue(browser, everyone, url, name) {
  const p = await openParticipant(browser, name);
  everyone.push(p);
  await p.page.goto(url);
  await p.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
  await p.page.fill('#name-input', name);
  await p.page.click('#join-button');
  await p.page.waitForSelector('#queue-position', { state: 'visible', timeout: WAIT });
  return p;
}

const place = (p) => p.page.textContent('#queue-position');

test('a full server queues the next pages, which move up and come in without a click', async (t) => {
  await withServerAndBrowser(t, { args: ['--max-participants', '3'] }, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '7b Mathe', { lobby: false });
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.page.goto(room.host_url);
    await join(teacher.page, 'Frau Berg');
    const students = [];
    for (const name of ['Anna', 'Ben']) {
      const p = await openParticipant(browser, name);
      everyone.push(p);
      await p.page.goto(room.participant_url);
      await join(p.page, name);
      students.push(p);
    }

    const cem = await joinQueue(browser, everyone, room.participant_url, 'Cem');
    assert.equal(await cem.page.textContent('#lobby-heading'), 'Many classes are starting right now');
    assert.match(await place(cem), /You are number 1 in line\./);
    const dana = await joinQueue(browser, everyone, room.participant_url, 'Dana');
    assert.match(await place(dana), /You are number 2 in line\./);
    // The teacher sees that two wait for her room.
    await poll(async () => /busy: 2\./.test(await teacher.page.textContent('#notices')),
      { message: 'the teacher told how many wait' });

    // Anna leaves: Cem is let in by himself, Dana moves up.
    await students[0].page.click('#leave-button');
    await cem.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    await poll(async () => /number 1 in line/.test(await place(dana)),
      { message: 'Dana moving up to place 1' });
    assert.equal(await dana.page.locator('#screen-ended').isVisible(), false, 'no error screen');
    await poll(async () => /busy: 1\./.test(await teacher.page.textContent('#notices')),
      { message: 'the teacher told one waits' });

    // Dana gives up her place with Leave: nobody waits any more.
    await dana.page.click('#lobby-leave');
    await poll(async () => !(await teacher.page.locator('#server-queue-notice').count()),
      { message: "the teacher's notice to go once nobody waits" });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^aula_admission_queue_length 0$/m);
    assert.match(metrics, /^aula_admitted_total\{class="new",how="queued"\} 1$/m);
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
