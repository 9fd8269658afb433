// Renegotiations that fail, on either connection, and how the page gets out of them:
//
// - publish: an offer the server refuses (docs/protocol.md, `publish`: `bad_sdp`, the
//   connection stays as it was) is rolled back, and the page then publishes on a new peer
//   connection, which the server takes in place of the old one: the student goes on
//   receiving the teacher on the same streams, now with her screen. To get a refusal from
//   a page that never sends a bad offer, the test makes the teacher's next renegotiation
//   (the screen share) an ICE restart too, which the server refuses ("an ICE restart must
//   not change the media"); the browser itself accepts it.
// - subscribe: an offer the student's browser cannot apply (the test makes the next one
//   fail) is reported with `subscribe_failed`; the server answers with an offer marked
//   `reset`, which the page answers on a new subscribe connection, and the media is back.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/renegotiation-failures.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WAIT, createRoom, joinAs, poll, withServerAndBrowser } from './helpers.mjs';

/** A teacher and a student; resolves once the student decodes the teacher's camera. */
async function teacherAndStudent(server, browser, everyone) {
  const room = await createRoom(server.url, '8c Informatik', { kind: 'class', lobby: false });
  const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
  const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
  const fromTeacher = async () => (await anna.page.evaluate(() => window.aula.stats()))[me.id] || {};
  await poll(async () => (await fromTeacher()).videoFramesDecoded > 0, { message: 'the teacher’s camera' });
  return { teacher, anna, fromTeacher };
}

/** Camera, screen and microphone of the teacher all advance on the student's page. */
async function expectAllFromTeacher(fromTeacher, message) {
  const before = await fromTeacher();
  await poll(async () => {
    const now = await fromTeacher();
    return now.videoFramesDecoded > before.videoFramesDecoded && now.screenFramesDecoded > before.screenFramesDecoded
      && now.audioPacketsReceived > before.audioPacketsReceived;
  }, { timeout: WAIT, message });
}

test('a renegotiation refused with bad_sdp falls back to a new publish connection', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const { teacher, fromTeacher } = await teacherAndStudent(server, browser, everyone);

    await teacher.page.evaluate(() => {
      window.oldPc = window.aula.publishPc;
      const create = RTCPeerConnection.prototype.createOffer;
      RTCPeerConnection.prototype.createOffer = function createOffer(options) {
        if (this !== window.oldPc || window.broke) return create.call(this, options);
        window.broke = true;
        return create.call(this, { ...options, iceRestart: true });
      };
    });
    await teacher.page.click('#toggle-screen');
    await poll(() => teacher.page.evaluate(() => window.aula.log().some((e) => e.type === 'error' && e.code === 'bad_sdp')),
      { message: 'the server to refuse the renegotiation' });
    await poll(() => teacher.page.evaluate(() => window.aula.publishPc !== window.oldPc
      && window.aula.publishPc.connectionState === 'connected' && window.oldPc.connectionState === 'closed'),
    { message: 'a new publish connection in place of the old one' });

    await expectAllFromTeacher(fromTeacher, 'the teacher’s camera, screen and microphone from the new connection');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('a subscribe offer that does not apply is reported, and a reset brings the media back', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const { teacher, anna, fromTeacher } = await teacherAndStudent(server, browser, everyone);
    await anna.page.evaluate(() => {
      window.oldPc = window.aula.subscribePc;
      const apply = RTCPeerConnection.prototype.setRemoteDescription;
      RTCPeerConnection.prototype.setRemoteDescription = function setRemoteDescription(desc) {
        if (this !== window.oldPc || window.broke) return apply.call(this, desc);
        window.broke = true;
        return Promise.reject(new DOMException('made to fail by the test', 'OperationError'));
      };
    });
    await teacher.page.click('#toggle-screen');
    const log = () => anna.page.evaluate(() => window.aula.log());
    await poll(async () => (await log()).some((e) => e.type === 'subscribe_offer' && e.reset),
      { message: 'an offer marked reset' });
    const failed = (await log()).find((e) => e.type === 'subscribe_failed');
    assert.ok(failed, 'the page said the offer failed');
    await poll(() => anna.page.evaluate(() => window.aula.subscribePc !== window.oldPc
      && window.oldPc.connectionState === 'closed' && window.aula.subscribePc.connectionState === 'connected'),
    { message: 'a new subscribe connection in place of the old one' });
    await expectAllFromTeacher(fromTeacher, 'the teacher’s camera, screen and microphone on the new connection');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
