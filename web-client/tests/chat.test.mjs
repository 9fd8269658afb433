// Chat: a teacher and a student write to each other (Enter sends); a student who joins
// later sees the history; text is shown as text, never as markup; when the teacher
// switches chat off, the student's box is closed and a message sent anyway (through
// the test hook, past the page's own check) is refused with `forbidden` and reaches
// nobody.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, joinAs, openParticipant, openPeople, poll, withServerAndBrowser,
} from './helpers.mjs';

function shownMessages(page) {
  return page.evaluate(() => [...document.querySelectorAll('#chat-list .chat-item')].map((li) => ({
    name: li.querySelector('.chat-name').textContent,
    role: li.querySelector('.chat-role') ? li.querySelector('.chat-role').textContent : null,
    text: li.querySelector('.chat-text').textContent,
  })));
}

async function expectTexts(page, texts, who) {
  await poll(async () => {
    const shown = (await shownMessages(page)).map((m) => m.text);
    return JSON.stringify(shown) === JSON.stringify(texts);
  }, { message: `chat on ${who}'s page to show ${JSON.stringify(texts)}` });
}

async function say(page, text) {
  if (!(await page.locator('#chat-panel').isVisible())) await page.click('#open-chat');
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
  await poll(async () => (await page.inputValue('#chat-input')) === '', { message: 'the chat box to empty' });
}

test('chat between teacher and students, with history and chat off', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9b Englisch', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');

    await say(teacher.page, 'Good morning!');
    await say(anna.page, 'Morning <b>all</b>');
    const texts = ['Good morning!', 'Morning <b>all</b>'];
    await expectTexts(teacher.page, texts, 'the teacher');
    await expectTexts(anna.page, texts, 'Anna');
    assert.equal(await teacher.page.locator('#chat-list b').count(), 0, 'markup is shown as text');
    const names = (await shownMessages(teacher.page)).map((m) => m.name);
    assert.deepEqual(names, ['Frau Weber (you)', 'Anna']);

    // A late joiner sees everything written since the start; unread count on the button.
    // He cannot take the teacher's name (name_taken: the form says why and stays), and
    // her messages carry her role.
    const ben = await openParticipant(browser, 'Ben');
    everyone.push(ben);
    await ben.page.goto(room.participant_url);
    await ben.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
    await ben.page.fill('#name-input', 'frau weber');
    await ben.page.click('#join-button');
    await ben.page.waitForSelector('#join-error:not([hidden])', { timeout: WAIT });
    assert.equal(await ben.page.textContent('#join-error'),
      'A teacher in this class has this name. Please enter your own name.');
    await join(ben.page, 'Ben');
    await ben.page.click('#open-chat');
    await expectTexts(ben.page, texts, 'Ben (late joiner)');
    await say(ben.page, 'No homework today!');
    const seen = await poll(async () => {
      const shown = await shownMessages(anna.page);
      return shown.length === 3 && shown;
    }, { message: 'Ben’s message on Anna’s page' });
    assert.deepEqual(seen.map((m) => [m.name, m.role]),
      [['Frau Weber', 'Teacher'], ['Anna (you)', null], ['Ben', null]]);
    texts.push('No homework today!');

    // Enter held, then a double click on Send: the class gets the message once.
    await ben.page.fill('#chat-input', 'Once only');
    await ben.page.keyboard.down('Enter');
    for (let i = 0; i < 4; i += 1) await ben.page.keyboard.down('Enter');
    await ben.page.keyboard.up('Enter');
    // Its echo clears the box; then the same words again, by a double click.
    await poll(async () => (await ben.page.inputValue('#chat-input')) === '', { message: 'the box cleared by the echo' });
    await ben.page.fill('#chat-input', 'Once only');
    await ben.page.dblclick('#chat-send');
    texts.push('Once only', 'Once only');
    await poll(async () => (await shownMessages(anna.page)).length >= 5, { message: 'both on Anna\'s page' });
    await new Promise((resolve) => { setTimeout(resolve, 500); });
    assert.deepEqual((await shownMessages(anna.page)).slice(3).map((m) => m.text), ['Once only', 'Once only'],
      'one message for the held Enter, one for the double click');

    // Chat off: the students' boxes close; the server refuses what is sent anyway.
    await openPeople(teacher.page);
    await teacher.page.setChecked('#setting-chat', false);
    await anna.page.waitForSelector('#chat-input[disabled]', { timeout: WAIT });
    await anna.page.waitForSelector('#chat-off', { state: 'visible', timeout: WAIT });
    assert.equal(await anna.page.textContent('#chat-off'), 'The teacher has switched the chat off.');
    await anna.page.evaluate(() => window.aula.send({ type: 'chat', text: 'sneaky' }));
    await poll(() => anna.page.evaluate(
      () => window.aula.log().some((e) => e.type === 'error' && e.code === 'forbidden'),
    ), { message: 'forbidden for a chat message while chat is off' });
    // The teacher may still write; once that arrives, the refused message would have too.
    await teacher.page.click('#open-chat');
    await say(teacher.page, 'Quiet please');
    const after = [...texts, 'Quiet please'];
    await expectTexts(ben.page, after, 'Ben');
    await expectTexts(teacher.page, after, 'the teacher');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
