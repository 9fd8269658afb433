// A browser that refuses simulcast (docs/protocol.md, "Simulcast": a track without `layers` is
// one layer), in headless Chromium against a real `aula` binary. The teacher's page is made to
// refuse `sendEncodings` the way a browser without simulcast does (addTransceiver throws); the
// page then sends its camera as one encoding, as it would the screen.
//
// 1. Her `publish` lists the camera without `layers`, her camera's sender has one encoding
//    without a rid, and one video stream goes out.
// 2. Anna receives it and decodes it at the size it is sent.
// 3. Anna's page hides the teacher's tile: nobody takes the camera, so the server switches its
//    one encoding off (`encodings` with rid "") and the teacher's page sets it inactive. Shown
//    again: on again, and Anna's frames come again.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/simulcast-fallback.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRoom, join, joinAs, openParticipant, poll, withServerAndBrowser } from './helpers.mjs';

/** The camera sender's encodings on `page` as [[rid, active]] (rid "" without one). */
function cameraEncodings(page) {
  return page.evaluate(() => {
    const published = window.aula.log().filter((e) => e.dir === 'out' && e.type === 'publish').pop();
    const track = published && published.tracks.find((tr) => tr.source === 'camera');
    const tr = track && window.aula.publishPc.getTransceivers().find((x) => x.mid === track.mid);
    return tr ? tr.sender.getParameters().encodings.map((e) => [e.rid || '', e.active]) : null;
  });
}

/** Frames `page` has decoded of participant `id`'s camera, and the last one's width. */
async function cameraOf(page, id) {
  const s = (await page.evaluate(() => window.aula.stats()))[id];
  return s ? { frames: s.videoFramesDecoded, width: s.videoFrameWidth } : { frames: 0, width: 0 };
}

function setHidden(page, id, hidden) {
  return page.evaluate(([pid, on]) => {
    const tile = document.querySelector(`[data-participant-id="${CSS.escape(pid)}"]`);
    if (on) tile.style.setProperty('display', 'none', 'important');
    else tile.style.removeProperty('display');
  }, [id, hidden]);
}

test('a browser that refuses simulcast sends its camera as one encoding', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '7c Kunst', { kind: 'class', lobby: false });
    const teacher = await openParticipant(browser, 'Frau Weber');
    everyone.push(teacher);
    await teacher.page.addInitScript(() => {
      const add = RTCPeerConnection.prototype.addTransceiver;
      RTCPeerConnection.prototype.addTransceiver = function addTransceiver(track, init) {
        if (init && init.sendEncodings) throw new DOMException('simulcast is not supported', 'OperationError');
        return add.call(this, track, init);
      };
    });
    await teacher.page.goto(room.host_url);
    const teacherMe = await join(teacher.page, 'Frau Weber');

    // 1. One encoding, no layers.
    const published = await poll(() => teacher.page.evaluate(() => window.aula.log()
      .filter((e) => e.dir === 'out' && e.type === 'publish').pop()), { message: 'the teacher’s publish' });
    const camera = published.tracks.find((tr) => tr.source === 'camera');
    assert.ok(camera && !('layers' in camera), `the camera without layers: ${JSON.stringify(camera)}`);
    assert.deepEqual(await cameraEncodings(teacher.page), [['', true]], 'one encoding, no rid');
    const sent = await poll(() => teacher.page.evaluate(async () => {
      const report = await window.aula.publishPc.getStats();
      const video = [...report.values()].filter((s) => s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded > 0);
      return video.length ? video.map((s) => ({ rid: s.rid || '', width: s.frameWidth })) : null;
    }), { message: 'the camera going out' });
    assert.equal(sent.length, 1, `one video stream: ${JSON.stringify(sent)}`);
    assert.equal(sent[0].rid, '');

    // 2. Anna receives it as sent.
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    const got = await poll(async () => {
      const s = await cameraOf(anna.page, teacherMe.id);
      return s.frames > 10 ? s : null;
    }, { message: 'Anna decoding the teacher' });
    const widths = await teacher.page.evaluate(async () => [...(await window.aula.publishPc.getStats()).values()]
      .filter((s) => s.type === 'outbound-rtp' && s.kind === 'video').map((s) => s.frameWidth));
    assert.ok(got.width > 0 && got.width === widths[0], `Anna decodes ${got.width} wide, sent ${widths}`);

    // 3. Unwatched: off at the source; watched again: on.
    await setHidden(anna.page, teacherMe.id, true);
    await poll(async () => JSON.stringify(await cameraEncodings(teacher.page)) === '[["",false]]',
      { message: 'the camera’s encoding switched off' });
    const told = await teacher.page.evaluate(() => window.aula.log().filter((e) => e.type === 'encodings').pop());
    assert.deepEqual(told.encodings, [{ rid: '', active: false }], 'as the server said, with rid ""');
    await setHidden(anna.page, teacherMe.id, false);
    await poll(async () => JSON.stringify(await cameraEncodings(teacher.page)) === '[["",true]]',
      { message: 'the camera’s encoding on again' });
    const before = (await cameraOf(anna.page, teacherMe.id)).frames;
    await poll(async () => (await cameraOf(anna.page, teacherMe.id)).frames > before + 10, { message: 'Anna’s frames again' });

    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
