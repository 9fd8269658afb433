// Firefox in a lesson (issue 9), with Debian's firefox-esr beside headless Chromium against a
// real `aula` binary whose media address both browsers can reach (firefox.mjs says why it is
// not 127.0.0.1):
//
// 1. A Firefox student and a Chromium teacher see and hear each other, both ways in VP8
//    (the server's publish answers put VP8 first). The student reloads her page: it
//    resumes her seat (the same participant id, `resume` with `fresh`, no join form), the
//    teacher never sees her leave, and media flows both ways again.
// 2. A Firefox teacher with two Chromium students: everyone sees and hears everyone. Her
//    camera goes out as three simulcast layers (q, h, f at 320×180, 640×360, 1280×720:
//    Firefox's fake camera gives 1280×720 for the page's ideal), announced as `layers` in her
//    `publish`, and a student whose page shows her small gets the small layer. She shares
//    her screen (Firefox on a virtual X display: headless Firefox has no screen to share):
//    both students decode and show it, large on the stage.
//
// "Sees and hears" means, on every receiving page, frames presented and decoded and audio
// packets received from the other participant all grew (window.aula.stats(), which reads
// each receiver's standard getStats()).
//
// With AULA_UPDATE_FIXTURES=1, case 1 also writes each browser's subscribe offer (from the
// server) and answer to fixtures/ (see fixtures/README.md).
//
// Needs root (a veth pair for the media address). Run:
// AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/firefox.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  WAIT, baselines, createRoom, expectMediaFlowing, joinAs, poll, unmute,
} from './helpers.mjs';
import { AS_ROOT, browserVersion, joinFirefox, withBrowsers } from './firefox.mjs';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Each person receives from everyone else in `people` (each has `id`). */
function receivers(people) {
  return people.map((p) => ({ page: p.page, label: p.label, from: people.filter((o) => o !== p).map((o) => o.id) }));
}

function log(page) {
  return page.evaluate(() => window.aula.log());
}

/** The codec (MIME type) `page` receives participant `id`'s camera in. */
async function cameraCodec(page, id) {
  const stats = await page.evaluate(() => window.aula.stats());
  return stats[id] ? stats[id].videoCodec : null;
}

/** The subscribe connection's latest offer (the server's) and answer (the browser's). */
function subscribeSdp(page) {
  return page.evaluate(() => ({
    offer: window.aula.subscribePc.remoteDescription.sdp,
    answer: window.aula.subscribePc.localDescription.sdp,
  }));
}

async function writeFixtures(browser, sdp) {
  const [name, version] = (await browserVersion(browser)).split('/');
  const prefix = `${name}-${version.split('.')[0]}-subscribe`;
  await writeFile(path.join(FIXTURES, `${prefix}-offer.sdp`), sdp.offer);
  await writeFile(path.join(FIXTURES, `${prefix}-answer.sdp`), sdp.answer);
  console.log(`fixtures: wrote ${prefix}-{offer,answer}.sdp (${name} ${version})`);
}

test('a Firefox student and a Chromium teacher', AS_ROOT, async (t) => {
  await withBrowsers(t, {}, async ({ server, chromium, firefox, everyone }) => {
    const room = await createRoom(server.url, '7b Englisch', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(chromium, everyone, room.host_url, 'Frau Weber');
    teacher.id = teacherMe.id;
    const { p: fiona, me: fionaMe } = await joinFirefox(firefox, everyone, room.participant_url, 'Fiona');
    fiona.id = fionaMe.id;
    await unmute(fiona.page);

    await t.test('they see and hear each other, in VP8', async () => {
      const ms = await expectMediaFlowing(receivers([teacher, fiona]), { message: 'media both ways' });
      console.log(`Firefox student and Chromium teacher receiving each other ${ms} ms after she unmuted`);
      assert.equal(await cameraCodec(teacher.page, fiona.id), 'video/VP8', 'the teacher gets Firefox’s camera in VP8');
      assert.equal(await cameraCodec(fiona.page, teacher.id), 'video/VP8', 'Firefox gets Chromium’s camera in VP8');
      if (process.env.AULA_UPDATE_FIXTURES) {
        await writeFixtures(chromium, await subscribeSdp(teacher.page));
        await writeFixtures(firefox, await subscribeSdp(fiona.page));
      }
    });

    await t.test('her Firefox page reloads and resumes her seat', async () => {
      const reloadedAt = Date.now();
      await fiona.page.reload();
      await fiona.page.waitForSelector('#screen-call', { timeout: WAIT });
      const sent = (await log(fiona.page)).filter((e) => e.dir === 'out');
      assert.deepEqual([sent[0].type, sent[0].fresh], ['resume', true], 'the reloaded page resumes first');
      assert.ok(!sent.some((e) => e.type === 'join'), 'no join after a reload');
      const joined = (await log(fiona.page)).find((e) => e.type === 'joined');
      assert.deepEqual([joined.id, joined.resumed], [fiona.id, true], 'the same seat, resumed');

      const both = receivers([teacher, fiona]);
      await expectMediaFlowing(both, { baseline: await baselines(both), message: 'media both ways after the reload' });
      console.log(`Firefox reload: media both ways ${Date.now() - reloadedAt} ms after the reload`);
      const entries = await log(teacher.page);
      assert.ok(!entries.some((e) => e.type === 'participant_left' && e.id === fiona.id), 'the teacher never saw her leave');
      const bad = (await log(fiona.page)).filter((e) => e.type === 'subscribe_failed' || e.type === 'error');
      assert.deepEqual(bad, [], 'no failed negotiation and no error on the reloaded page');
    });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('a Firefox teacher with two Chromium students', AS_ROOT, async (t) => {
  await withBrowsers(t, { display: true }, async ({ server, chromium, firefox, everyone }) => {
    const room = await createRoom(server.url, '8c Informatik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinFirefox(firefox, everyone, room.host_url, 'Frau Weber');
    teacher.id = teacherMe.id;
    const students = [];
    for (const name of ['Anna', 'Ben']) {
      const { p, me } = await joinAs(chromium, everyone, room.participant_url, name);
      p.id = me.id;
      await unmute(p.page);
      students.push(p);
    }

    await t.test('everyone sees and hears everyone', async () => {
      const ms = await expectMediaFlowing(receivers([teacher, ...students]), { message: 'everyone receiving everyone' });
      console.log(`Firefox teacher, two Chromium students: everyone receiving everyone after ${ms} ms`);
      for (const s of students) {
        assert.equal(await cameraCodec(s.page, teacher.id), 'video/VP8', `${s.label} gets her camera in VP8`);
      }
    });

    await t.test('her camera goes out in three layers; a small tile gets the small one', async () => {
      const sent = await poll(() => teacher.page.evaluate(async () => {
        const report = await window.aula.publishPc.getStats();
        const list = [...report.values()].filter((s) => s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded > 0)
          .map((s) => [s.rid, s.frameWidth, s.frameHeight]).sort();
        return list.length === 3 ? list : null;
      }), { message: 'three video encodings going out of Firefox' });
      // An encoding the server has switched off meanwhile (nobody takes it for 3 s: the
      // students show her large) reports no current frame size: its size is checked when it
      // has one, and the small tile below switches it on again.
      assert.deepEqual(sent.map((e) => e[0]), ['f', 'h', 'q'], 'rids of her encodings');
      const sizes = { f: [1280, 720], h: [640, 360], q: [320, 180] };
      for (const [rid, width, height] of sent) {
        if (width > 0) assert.deepEqual([width, height], sizes[rid], `size of ${rid}`);
      }
      assert.ok(sent.some(([, width]) => width > 0), `some encoding with a size: ${JSON.stringify(sent)}`);
      const published = (await log(teacher.page)).filter((e) => e.dir === 'out' && e.type === 'publish').pop();
      assert.deepEqual(published.tracks.find((tr) => tr.source === 'camera').layers.map((l) => l.rid), ['q', 'h', 'f']);
      // Anna's window shrinks to a phone's: the teacher's stage is 304×171, the small layer's size.
      const [anna] = students;
      await anna.page.setViewportSize({ width: 320, height: 640 });
      await poll(async () => {
        const s = (await anna.page.evaluate(() => window.aula.stats()))[teacher.id];
        return s && s.videoFrameWidth > 0 && s.videoFrameWidth <= 400;
      }, { message: 'Anna receiving the small layer of the Firefox camera' });
      await anna.page.setViewportSize({ width: 1280, height: 800 });
    });

    await t.test('both students see her shared screen, large', async () => {
      await teacher.page.waitForSelector('#toggle-screen:not([disabled])', { timeout: WAIT });
      await teacher.page.click('#toggle-screen');
      await teacher.page.waitForSelector('#toggle-screen[aria-pressed="true"]', { timeout: WAIT });
      const screenOf = (page) => page.evaluate(async (id) => {
        const tile = window.aula.screens().find((s) => s.owner === id);
        const stats = (await window.aula.stats())[id];
        return tile ? { ...tile, decoded: stats ? stats.screenFramesDecoded : 0 } : null;
      }, teacher.id);
      for (const s of students) {
        const first = await poll(async () => {
          const sc = await screenOf(s.page);
          return sc && sc.decoded > 0 && sc.framesRendered > 0 ? sc : null;
        }, { message: `${s.label}: the first frames of her screen` });
        await poll(async () => {
          const sc = await screenOf(s.page);
          return sc.decoded > first.decoded && sc.framesRendered > first.framesRendered;
        }, { message: `${s.label}: her screen’s frames to advance` });
        assert.equal((await screenOf(s.page)).stage, true, `${s.label}: the screen is on the stage`);
      }
    });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
