// Active speaker, end to end from a real browser's audio level header extension: in a
// class the teacher talks (Chromium's fake microphone beeps twice a second) while the
// student is muted, so the server names the teacher as speaking and dominant, and the
// student's page marks the teacher's tile. When the teacher mutes, she leaves `speaking`
// but stays dominant; when the student unmutes, the teacher's page hears her speak.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, createRoom, joinAs, poll, unmute, withServerAndBrowser } from './helpers.mjs';

const speakers = (page) => page.evaluate(() => window.aula.speakers);

test('the talking teacher is marked as the speaker on the student page', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '6a Musik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    assert.equal(annaMe.audio, false, 'students join muted');

    await poll(() => anna.page.evaluate(() => window.aula.speakers.dominant), {
      message: 'a dominant speaker on the student page',
    });
    assert.equal(await anna.page.evaluate(() => window.aula.speakers.dominant), teacherMe.id);
    await poll(() => anna.page.evaluate((id) => {
      const tile = window.aula.participants().find((p) => p.id === id);
      return tile && tile.speaking;
    }, teacherMe.id), { message: 'the teacher’s tile marked as speaking' });
    assert.ok(!(await speakers(anna.page)).speaking.includes(annaMe.id), 'muted Anna does not speak');

    // The teacher mutes: the server stops counting her audio; the big tile stays hers.
    await teacher.page.click('#toggle-mic');
    await teacher.page.waitForSelector('#toggle-mic[aria-pressed="false"]', { timeout: WAIT });
    await poll(async () => (await speakers(anna.page)).speaking.length === 0, {
      message: 'nobody speaking once the teacher muted',
    });
    assert.equal((await speakers(anna.page)).dominant, teacherMe.id, 'dominant through silence');

    // Anna unmutes: the teacher's page sees her speak, and she becomes dominant.
    await unmute(anna.page);
    await poll(async () => {
      const s = await speakers(teacher.page);
      return s.speaking.includes(annaMe.id) && s.dominant === annaMe.id;
    }, { message: 'Anna speaking and dominant on the teacher page' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
