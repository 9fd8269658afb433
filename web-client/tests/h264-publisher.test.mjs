// A publisher that sends only H.264 (issue 9), as a browser that prefers it would: a Chromium
// teacher whose page offers nothing else on its camera's m-line (an init script calls the
// standard RTCRtpTransceiver.setCodecPreferences on the publish connection's video
// transceivers). In the room:
//
// - a Chromium student decodes her camera in H.264 and hears her;
// - a Firefox student (German) hears her. Debian's firefox-esr has no H.264 decoder unless
//   Cisco's OpenH264 plugin was downloaded, which needs the internet, so its subscribe answer
//   leaves H.264 out and the server cannot forward her camera to it: the page gets
//   `stream_unavailable` and her tile shows her name and "Video in diesem Browser nicht
//   verfügbar" instead of a black video; /metrics counts the frames not forwarded
//   (`cause="codec"`) and the server warns once for that stream. (On a Firefox that has
//   H.264, the test expects it to decode her camera instead.)
// - the teacher's page reloads without the H.264 restriction: a new stream in VP8, and the
//   Firefox student's tile shows her picture again, the mark gone.
//
// Needs root (firefox.mjs: a veth pair for the media address). Run:
// AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/h264-publisher.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, baselines, createRoom, expectMediaFlowing, join, openParticipant, poll,
} from './helpers.mjs';
import { AS_ROOT, joinFirefox, withBrowsers } from './firefox.mjs';

/**
 * Runs in the page before its scripts: video transceivers that send offer H.264 only, until
 * the tab's sessionStorage says `test.codecs` = `any`.
 */
function preferH264() {
  const add = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function addTransceiver(trackOrKind, init) {
    const transceiver = add.call(this, trackOrKind, init);
    const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind;
    if (kind === 'video' && init && init.direction === 'sendonly' && sessionStorage.getItem('test.codecs') !== 'any') {
      const h264 = RTCRtpReceiver.getCapabilities('video').codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264');
      transceiver.setCodecPreferences(h264);
    }
    return transceiver;
  };
}

const hasH264 = (page) => page.evaluate(() => RTCRtpReceiver.getCapabilities('video').codecs
  .some((c) => c.mimeType.toLowerCase() === 'video/h264'));

async function framesNotForwarded(serverUrl) {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const line = /^aula_frames_not_forwarded_total\{cause="codec"\} (\d+)$/m.exec(text);
  return line ? Number(line[1]) : NaN;
}

/** The teacher's camera as `page` gets it: stats and tile. */
function cameraOf(page, id) {
  return page.evaluate(async (pid) => ({
    stats: (await window.aula.stats())[pid] || null,
    tile: window.aula.participants().find((p) => p.id === pid) || null,
    text: (() => {
      const node = document.querySelector(`[data-participant-id="${CSS.escape(pid)}"] .unavailable`);
      return node && !node.hidden ? node.textContent : null;
    })(),
  }), id);
}

test('a teacher who sends only H.264: Chromium decodes it, Firefox without H.264 says so', AS_ROOT, async (t) => {
  const firefoxPrefs = { 'intl.accept_languages': 'de-DE, de' };
  await withBrowsers(t, { firefoxPrefs }, async ({ server, chromium, firefox, everyone }) => {
    const room = await createRoom(server.url, '9a Biologie', { kind: 'class', lobby: false });
    const teacher = await openParticipant(chromium, 'Frau Weber (H.264 only)');
    everyone.push(teacher);
    await teacher.context.addInitScript(preferH264);
    await teacher.page.goto(room.host_url);
    assert.ok(await hasH264(teacher.page), 'this Chromium has H.264');
    teacher.id = (await join(teacher.page, 'Frau Weber')).id;
    const sent = await poll(() => teacher.page.evaluate(async () => {
      const report = await window.aula.publishPc.getStats();
      const out = [...report.values()].find((s) => s.type === 'outbound-rtp' && s.kind === 'video' && s.codecId);
      return out ? report.get(out.codecId).mimeType : null;
    }), { message: 'the teacher’s camera going out' });
    assert.equal(sent, 'video/H264', 'the teacher sends H.264');

    const anna = await openParticipant(chromium, 'Anna (Chromium)');
    everyone.push(anna);
    await anna.page.goto(room.participant_url);
    anna.id = (await join(anna.page, 'Anna')).id;
    const { p: fiona, me } = await joinFirefox(firefox, everyone, room.participant_url, 'Fiona');
    fiona.id = me.id;

    await t.test('the Chromium student decodes her camera in H.264', async () => {
      await expectMediaFlowing([{ page: anna.page, label: anna.label, from: [teacher.id] }], { message: 'Anna receiving' });
      assert.equal((await cameraOf(anna.page, teacher.id)).stats.videoCodec, 'video/H264');
    });

    await t.test('the Firefox student hears her and is told her camera cannot be shown', async () => {
      if (await hasH264(fiona.page)) {
        // A Firefox with OpenH264: nothing to tell, the camera is decoded.
        await expectMediaFlowing([{ page: fiona.page, label: fiona.label, from: [teacher.id] }], { message: 'Fiona receiving' });
        assert.equal((await cameraOf(fiona.page, teacher.id)).stats.videoCodec, 'video/H264');
        return;
      }
      const told = await poll(async () => (await fiona.page.evaluate(() => window.aula.log()))
        .find((e) => e.type === 'stream_unavailable'), { message: 'stream_unavailable on the Firefox page' });
      assert.deepEqual({ ...told, at: 0 }, {
        at: 0, dir: 'in', type: 'stream_unavailable', participant: teacher.id, source: 'camera', reason: 'codec', codec: 'H264',
      });
      const before = await cameraOf(fiona.page, teacher.id);
      assert.equal(before.tile.unavailable, 'codec', 'her tile is marked');
      assert.equal(before.tile.name, 'Frau Weber', 'her tile keeps her name');
      assert.equal(before.text, 'Video in diesem Browser nicht verfügbar');
      // Her sound comes through; her picture never does.
      await poll(async () => (await cameraOf(fiona.page, teacher.id)).stats.audioPacketsReceived
        > before.stats.audioPacketsReceived + 50, { message: 'her sound on the Firefox page' });
      const after = await cameraOf(fiona.page, teacher.id);
      assert.equal(after.stats.videoFramesDecoded, 0, 'no frame of hers decoded in Firefox');
      assert.equal(after.tile.unavailable, 'codec', 'still marked');

      const dropped = await framesNotForwarded(server.url);
      assert.ok(dropped > 0, `/metrics counts the frames not forwarded (${dropped})`);
      const warnings = server.logs().split('\n')
        .filter((l) => l.includes('WARN') && l.includes('cannot be forwarded') && l.includes(`subscriber=${fiona.id}`));
      assert.equal(warnings.length, 1, `one warning for the stream: ${warnings.join('\n')}`);
    });

    await t.test('her page reloads sending VP8: Firefox shows her picture again', async () => {
      await teacher.page.evaluate(() => sessionStorage.setItem('test.codecs', 'any'));
      await teacher.page.reload();
      await teacher.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
      const receivers = [
        { page: fiona.page, label: fiona.label, from: [teacher.id] },
        { page: anna.page, label: anna.label, from: [teacher.id] },
      ];
      await expectMediaFlowing(receivers, { baseline: await baselines(receivers), message: 'her VP8 camera on both pages' });
      const camera = await cameraOf(fiona.page, teacher.id);
      assert.equal(camera.stats.videoCodec, 'video/VP8');
      assert.equal(camera.tile.unavailable, null, 'the mark is gone');
      assert.equal(camera.text, null, 'no text over her picture');
    });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
