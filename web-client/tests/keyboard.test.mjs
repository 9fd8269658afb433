// Keyboard use of the call (keyboard.js): Escape closes the chat and the focus goes back
// to the Chat button; "?" and the "Keyboard shortcuts" button open the shortcuts dialog,
// which Escape or Close shut with the focus back where it was; "m" turns the microphone
// off and on, but an "m" typed in the chat box is only a letter; Space held turns the
// microphone on until it is let go (key repeats change nothing), and a disabled button's
// key does nothing.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, createRoom, joinAs, poll, withServerAndBrowser } from './helpers.mjs';

const micPressed = (page) => page.getAttribute('#toggle-mic', 'aria-pressed');
const focused = (page) => page.evaluate(() => document.activeElement && document.activeElement.id);

/** Takes the focus off any control, as after a click on the videos. */
const blur = (page) => page.evaluate(() => document.activeElement && document.activeElement.blur());

async function expectMic(page, on, message) {
  await poll(async () => (await micPressed(page)) === String(on), { message });
}

test('Escape, the shortcuts dialog, m, and push to talk', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '10a Geschichte', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Herr Krause');
    const { page } = teacher;
    await page.waitForSelector('#toggle-mic:not([disabled])', { timeout: WAIT });

    // Escape closes the chat (the chat box had the focus); the focus is back on its button.
    await page.click('#open-chat');
    assert.equal(await focused(page), 'chat-input');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#side-panel', { state: 'hidden', timeout: WAIT });
    assert.equal(await focused(page), 'open-chat');
    // "p" opens People, Escape again closes it, back to the People button.
    await blur(page);
    await page.keyboard.press('p');
    await page.waitForSelector('#people-panel', { state: 'visible', timeout: WAIT });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#side-panel', { state: 'hidden', timeout: WAIT });
    assert.equal(await focused(page), 'open-people');

    // "?" opens the dialog (modal, Close focused); Escape shuts it, the focus comes back.
    await page.keyboard.press('?');
    await page.waitForSelector('#keys-dialog[open]', { timeout: WAIT });
    assert.equal(await focused(page), 'keys-close');
    assert.equal(await page.evaluate(() => document.getElementById('keys-dialog').matches(':modal')), true);
    assert.match(await page.textContent('#keys-dialog'), /Hold to talk while the microphone is off/);
    // While the dialog is open the shortcuts are off: "m" changes nothing behind it.
    const before = await micPressed(page);
    await page.keyboard.press('m');
    assert.equal(await micPressed(page), before, 'no shortcut behind the dialog');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#keys-dialog:not([open])', { state: 'attached', timeout: WAIT });
    assert.equal(await focused(page), 'open-people');
    // The button in the top bar, and the dialog's Close button.
    await page.click('#open-keys');
    await page.waitForSelector('#keys-dialog[open]', { timeout: WAIT });
    await page.click('#keys-close');
    await page.waitForSelector('#keys-dialog:not([open])', { state: 'attached', timeout: WAIT });
    assert.equal(await focused(page), 'open-keys');

    // "m" turns the microphone off and on again.
    await blur(page);
    const start = (await micPressed(page)) === 'true';
    await page.keyboard.press('m');
    await expectMic(page, !start, 'the microphone to change with "m"');
    await page.keyboard.press('m');
    await expectMic(page, start, 'the microphone to change back with "m"');
    // "m" held: it toggles once; its repeats change nothing, nor go to the server.
    const sent = async () => (await page.evaluate(() => window.aula.log()))
      .filter((e) => e.dir === 'out' && e.type === 'media_state').length;
    const sentBefore = await sent();
    await page.keyboard.down('m');
    for (let i = 0; i < 6; i += 1) await page.keyboard.down('m');
    await page.keyboard.up('m');
    await expectMic(page, !start, 'the microphone changed once with "m" held');
    await new Promise((resolve) => { setTimeout(resolve, 300); });
    assert.equal(await micPressed(page), String(!start), 'the repeats change nothing');
    assert.equal((await sent()) - sentBefore, 1, 'one media_state for the held key');
    await page.keyboard.press('m');
    await expectMic(page, start, 'the microphone back with "m"');

    // In the chat box "m" is a letter, and "c" too (it does not close the chat).
    await page.click('#open-chat');
    await page.keyboard.type('mc');
    assert.equal(await page.inputValue('#chat-input'), 'mc');
    assert.equal(await micPressed(page), String(start), 'typing "m" leaves the microphone alone');
    assert.equal(await page.locator('#chat-panel').isVisible(), true);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#side-panel', { state: 'hidden', timeout: WAIT });

    // Push to talk: off, Space held → on (a repeat changes nothing), let go → off.
    await blur(page);
    if (start) await page.keyboard.press('m');
    await expectMic(page, false, 'the microphone off before push to talk');
    await page.keyboard.down('Space');
    await expectMic(page, true, 'Space held to turn the microphone on');
    await page.keyboard.down('Space');
    assert.equal(await micPressed(page), 'true', 'a key repeat keeps the microphone on');
    await page.keyboard.up('Space');
    await expectMic(page, false, 'the microphone off again when Space is let go');
    // The server was told both times (the others' pages show it).
    const states = (await page.evaluate(() => window.aula.log()))
      .filter((e) => e.dir === 'out' && e.type === 'media_state').slice(-2);
    assert.equal(states.length, 2);

    // A disabled button's key does nothing (the camera button, disabled here by hand as
    // when there is no camera). The page sets its buttons again on every change of media
    // state (the server's answer to push to talk may still be on its way), which re-enables
    // one disabled by hand: an attempt counts only if the button stayed disabled throughout.
    let checked = false;
    for (let attempt = 0; attempt < 5 && !checked; attempt += 1) {
      await page.evaluate(() => { document.getElementById('toggle-cam').disabled = true; });
      const cam = await page.getAttribute('#toggle-cam', 'aria-pressed');
      await page.keyboard.press('v');
      if (!(await page.evaluate(() => document.getElementById('toggle-cam').disabled))) {
        await new Promise((resolve) => { setTimeout(resolve, 300); });
        continue;
      }
      assert.equal(await page.getAttribute('#toggle-cam', 'aria-pressed'), cam);
      checked = true;
    }
    assert.ok(checked, 'the camera button stayed disabled through an attempt');
    assert.deepEqual(teacher.errors, [], 'no uncaught errors');
  });
});

test('push to talk does nothing when the teacher has switched microphones off', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '10a Geschichte', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Herr Krause');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna', { locale: 'de-DE' });
    await teacher.page.click('#open-people');
    await teacher.page.setChecked('#setting-unmute', false);
    await anna.page.waitForSelector('#toggle-mic[disabled][aria-pressed="false"]', { timeout: WAIT });
    await blur(anna.page);
    await anna.page.keyboard.down('Space');
    await anna.page.keyboard.press('m');
    await anna.page.keyboard.up('Space');
    assert.equal(await micPressed(anna.page), 'false');
    const sent = (await anna.page.evaluate(() => window.aula.log()))
      .filter((e) => e.dir === 'out' && e.type === 'media_state');
    assert.deepEqual(sent, [], 'nothing sent');
    // The dialog in German.
    await anna.page.keyboard.press('?');
    await anna.page.waitForSelector('#keys-dialog[open]', { timeout: WAIT });
    assert.equal(await anna.page.textContent('#keys-heading'), 'Tastenkürzel');
    assert.deepEqual(anna.errors, [], 'no uncaught errors');
  });
});
