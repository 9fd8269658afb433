// People coming and going, and sockets dropping, in a class (issue 8), in headless
// Chromium against a real `aula` binary with its default graces (resume 30 s, unload 4 s):
//
// 1. The teacher reloads her page: the page resumes her seat at once (no name form, no
//    lobby, the same participant id), the students see her marked "reconnecting" but
//    never leave, and within 5 s of the reload everyone sees and hears everyone again
//    (a video the server paused for bandwidth meanwhile counts if its tile says so and
//    its audio flows; every video must come back after).
//    A student page slow to answer (each answer 1.5 s late) keeps its subscribe connection
//    through her reload: her streams end and come back before it answered the first offer,
//    and the offer bringing them back must be one Chromium takes.
// 2. The teacher closes her tab: she leaves after the unload grace, and meanwhile and
//    after it the students go on seeing and hearing each other (their subscribe
//    connections are renegotiated without her and nothing fails: no `subscribe_failed`,
//    no reset). She opens the host link again in a new tab: within 5 s of pressing Join
//    everyone sees and hears everyone.
// 3. The server drops a student's WebSocket (its TCP connection is killed with `ss -K`,
//    which needs root): the page reconnects and resumes by itself, its peer connections
//    stay, the teacher sees the student marked "reconnecting" and never leave, and media
//    flows both ways again. Then the browser reports a network change (`online`): the
//    page moves to a new socket at once and restarts ICE on both connections.
//    Two students' sockets drop: what a student turns on meanwhile (her microphone) and
//    what the teacher turns off (the other's) both hold after the resumes.
// 4. A student away longer than the grace (the server runs with 2 s): her page says
//    "Reconnecting…", then "Connection lost — rejoining…" with a Rejoin button; the
//    teacher sees her tile marked "reconnecting…", then gone. When her browser is back
//    online the page tries at once, the resume fails, and it joins again by itself as a
//    new participant (no lobby); media flows both ways.
// 5. A reload slower than the unload grace (the server here keeps no seat at all): the
//    resume fails and the page joins again by itself under the same name, no form.
//
// "Sees and hears" means, on every receiving page, frames presented and decoded and
// audio packets received from the other participant all grew (window.aula.stats()); the
// time is when the last page had that, by each page's own record (watchMediaStart in
// helpers.mjs), not when the test, polling busy pages on two cores, got to look.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/reconnect.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  WAIT, baselines, createRoom, expectMediaFlowing, forgetMediaStart, join, joinAs, mediaStartedAt, openPeople, poll,
  unmute,
  watchMediaStart, withServerAndBrowser,
} from './helpers.mjs';

// Issue 8's bar: everyone sees and hears everyone again within 5 s.
const BACK_WITHIN_MS = 5000;
// The server's default `unload_grace_secs`: a closed tab leaves after it.
const UNLOAD_GRACE_MS = 4000;

/** Each person receives from everyone else in `people`. */
function receivers(people) {
  return people.map((p) => ({ page: p.page, label: p.label, from: people.filter((o) => o !== p).map((o) => o.id) }));
}

/**
 * A teacher and unmuted students (waiting room off), all receiving each other. The timed
 * tests have two students: on two cores each Chromium page more is about a third of the
 * machine (it encodes three layers and decodes the others), and with three the 5 s bar
 * measured the machine, not Aula (8.2 and 9.1 s by the pages' own record, the pages
 * connected 4.4 s after the reload).
 */
async function classOf(server, browser, everyone, names = ['Anna', 'Ben']) {
  const room = await createRoom(server.url, '9a Physik', { kind: 'class', lobby: false });
  const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
  teacher.id = me.id;
  const students = [];
  for (const name of names) {
    const { p, me: student } = await joinAs(browser, everyone, room.participant_url, name);
    p.id = student.id;
    await unmute(p.page);
    students.push(p);
  }
  await expectMediaFlowing(receivers([teacher, ...students]), { message: 'everyone receiving everyone' });
  return { room, teacher, students };
}

/**
 * After the timed part: every video is decoded again on every page, including one the
 * server paused for bandwidth meanwhile. On two cores shared by several Chromium pages, a page
 * that reloads or opens starves the others; their feedback shows loopback "delay", GCC's
 * estimate dips below the class's rate (logged: 1.7 -> 0.7 Mbit/s in 80 ms as a page
 * opened) and the allocator rightly pauses a student's thumbnail for its 5 s hold, with
 * the tile saying so. The 5 s bar counts such a tile as seen (its audio must flow).
 */
async function everyVideoBack(people) {
  const all = receivers(people);
  await expectMediaFlowing(all, { baseline: await baselines(all), message: 'every video decoded again' });
}

/**
 * Ms from `since` until the last page in `people` had media from everyone it receives from,
 * by the pages' own record (watchMediaStart): what a person in front of them saw, not when
 * this test, polling busy pages, got round to looking.
 */
async function backSince(people, since) {
  let last = null;
  await poll(async () => {
    const times = await Promise.all(people.map((r) => mediaStartedAt(r.page, r.from)));
    if (times.some((at) => at === null)) return false;
    last = Math.max(...times);
    return true;
  }, { message: 'each page’s record of its media' });
  return last - since;
}

function log(page) {
  return page.evaluate(() => window.aula.log());
}

/**
 * No renegotiation failed: no `subscribe_failed`, no `bad_sdp`, and no subscribe offer
 * that starts over (`reset`), except on a reloaded page (`fresh`), which gets one by design.
 */
async function expectNoFailedRenegotiation(people, { fresh = [] } = {}) {
  for (const p of people) {
    const entries = await log(p.page);
    const reset = (e) => e.type === 'subscribe_offer' && e.reset && !fresh.includes(p);
    const bad = entries.filter((e) => e.type === 'subscribe_failed' || (e.type === 'error' && e.code === 'bad_sdp')
      || reset(e));
    assert.deepEqual(bad, [], `no failed renegotiation on ${p.label}'s page`);
  }
}

test('the teacher reloads: she resumes her seat and everyone is back within 5 s', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const { teacher, students } = await classOf(server, browser, everyone);
    for (const p of [teacher, ...students]) await watchMediaStart(p.page);

    const reloadedAt = Date.now();
    await teacher.page.reload();
    // Her old stream stopped as the page went (the server closed it): what comes now is new.
    for (const s of students) await forgetMediaStart(s.page, [teacher.id]);
    await teacher.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    const sent = (await log(teacher.page)).filter((e) => e.dir === 'out');
    assert.deepEqual(sent[0], { ...sent[0], type: 'resume', fresh: true }, 'the reloaded page resumes first');
    assert.ok(!sent.some((e) => e.type === 'join'), 'no join after a reload');
    const joined = (await log(teacher.page)).find((e) => e.type === 'joined');
    assert.deepEqual([joined.id, joined.resumed], [teacher.id, true], 'the same seat, resumed');
    assert.equal(await teacher.page.evaluate(() => window.aula.you.role), 'host');

    const base = await baselines(receivers([teacher, ...students]));
    await expectMediaFlowing(receivers([teacher, ...students]), {
      baseline: base, orPaused: true, message: 'everyone receiving everyone after the reload',
    });
    const backMs = await backSince(receivers([teacher, ...students]), reloadedAt);
    console.log(`reload: everyone receiving everyone ${backMs} ms after the reload`);
    assert.ok(backMs <= BACK_WITHIN_MS, `back within ${BACK_WITHIN_MS} ms of the reload, took ${backMs} ms`);
    await everyVideoBack([teacher, ...students]);

    for (const s of students) {
      const entries = await log(s.page);
      assert.ok(!entries.some((e) => e.type === 'participant_left' && e.id === teacher.id), `${s.label} never saw her leave`);
      assert.ok(entries.some((e) => e.type === 'participant_updated' && e.id === teacher.id && e.reconnecting),
        `${s.label} saw her marked reconnecting`);
      const tile = (await s.page.evaluate(() => window.aula.participants())).find((p) => p.id === teacher.id);
      assert.equal(tile.reconnecting, false, `${s.label}: her tile is no longer marked reconnecting`);
    }
    await expectNoFailedRenegotiation([teacher, ...students], { fresh: [teacher] });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('a student page slow to answer while the teacher reloads keeps its connection', async (t) => {
  // A busy page answers the offer that ends the teacher's old streams only after her new page
  // has published again; a CI run saw Chromium refuse the next offer then ("Duplicate a=msid
  // lines detected": her new m-lines had the msid of her old ones), and the student's
  // subscribe connection was rebuilt. Here the student's page answers every offer 1.5 s late.
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const { teacher, students } = await classOf(server, browser, everyone, ['Anna']);
    const [anna] = students;
    await anna.page.evaluate(() => {
      const setLocal = RTCPeerConnection.prototype.setLocalDescription;
      RTCPeerConnection.prototype.setLocalDescription = async function (...args) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return setLocal.apply(this, args);
      };
    });
    const count = async (type) => (await log(anna.page)).filter((e) => e.type === type).length;
    const offersBefore = await count('subscribe_offer');
    await teacher.page.reload();
    await teacher.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    // Two offers at least: one ends her old streams, one brings the new ones.
    await poll(async () => {
      const offers = await count('subscribe_offer');
      const replies = await count('subscribe_answer') + await count('subscribe_failed');
      return offers >= offersBefore + 2 && replies === offers;
    }, { message: 'Anna to answer the offers ending and bringing back the teacher' });
    const toAnna = [{ page: anna.page, label: anna.label, from: [teacher.id] }];
    await expectMediaFlowing(toAnna, { baseline: await baselines(toAnna), message: 'Anna receiving her again' });
    await expectNoFailedRenegotiation([anna]);
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('the teacher closes her tab: the students go on; she comes back within 5 s', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const { room, teacher, students } = await classOf(server, browser, everyone);
    everyone.splice(everyone.indexOf(teacher), 1);

    await teacher.page.close({ runBeforeUnload: true });
    for (const s of students) {
      await poll(async () => (await log(s.page)).some((e) => e.type === 'participant_left' && e.id === teacher.id),
        { timeout: UNLOAD_GRACE_MS + WAIT, message: `${s.label} to see the teacher leave` });
    }
    // Her m-lines went inactive on the students' subscribe connections; their own stay. A
    // video the server paused for bandwidth counts with its audio, as when she comes back
    // below: on two busy cores GCC reads the browsers' scheduling delay as congestion, and a
    // CI run saw one student's camera paused for another for the whole 30 s wait here (what
    // the page then shows is the name and the mark, never a frozen picture).
    const studentsOnly = receivers(students);
    await expectMediaFlowing(studentsOnly, {
      baseline: await baselines(studentsOnly), orPaused: true,
      message: 'the students receiving each other after she left',
    });
    await expectNoFailedRenegotiation(students);

    // She opens the host link again, in a new tab of the same browser.
    const page = await teacher.context.newPage();
    const back = { label: 'teacher again', page, context: teacher.context, errors: [], console: [] };
    page.on('pageerror', (err) => back.errors.push(String(err)));
    page.on('console', (msg) => back.console.push(`[${msg.type()}] ${msg.text()}`));
    everyone.push(back);
    await page.goto(room.host_url);
    for (const p of [back, ...students]) await watchMediaStart(p.page);
    const base = await baselines(studentsOnly);
    // From her click on Join, as the page saw it: not the time the test takes to type her name.
    await page.evaluate(() => document.addEventListener('click', (e) => {
      if (e.target.closest('#join-button') && !window.joinClickedAt) window.joinClickedAt = Date.now();
    }, true));
    back.id = (await join(page, 'Frau Weber')).id;
    const clickedAt = await page.evaluate(() => window.joinClickedAt);
    assert.equal(typeof clickedAt, 'number', 'the page saw her click on Join');
    assert.notEqual(back.id, teacher.id, 'a new participant');
    const all = receivers([back, ...students]);
    await expectMediaFlowing(all, {
      baseline: [{ tiles: [], stats: {} }, ...base], orPaused: true,
      message: 'everyone receiving everyone after she came back',
    });
    const backMs = await backSince(all, clickedAt);
    console.log(`teacher back: everyone receiving everyone ${backMs} ms after Join`);
    assert.ok(backMs <= BACK_WITHIN_MS, `back within ${BACK_WITHIN_MS} ms of Join, took ${backMs} ms`);
    await everyVideoBack([back, ...students]);
    await expectNoFailedRenegotiation([back, ...students]);
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

/**
 * The server drops (resets) its connections on `port` from the peer ports `peers`:
 * `ss -K` aborts the server's sockets, and their peers get a TCP reset, as when a server
 * or a middlebox drops a connection.
 */
function dropConnections(port, peers) {
  for (const peer of peers) {
    execFileSync('ss', ['-4', '-K', 'state', 'established', `( sport = :${port} and dport = :${peer} )`],
      { stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

/** Peer ports of the server's established TCP connections on `port`. */
function serverConnections(port) {
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return new Set(out.split('\n').filter(Boolean).map((line) => line.trim().split(/\s+/).pop().split(':').pop()));
}

// `ss -K` (aborting another process's sockets) is root's.
const AS_ROOT = { skip: process.getuid && process.getuid() !== 0 ? 'needs root (ss -K)' : false };

test('a page whose socket the server drops resumes by itself', AS_ROOT, async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9a Physik', { kind: 'class', lobby: false });
    const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    teacher.id = me.id;
    const before = serverConnections(server.httpPort);
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    anna.id = annaMe.id;
    await unmute(anna.page);
    await expectMediaFlowing(receivers([teacher, anna]), { message: 'teacher and Anna receiving each other' });
    // Anna's page opened these since (its page, assets and the WebSocket).
    const hers = [...serverConnections(server.httpPort)].filter((port) => !before.has(port));
    assert.ok(hers.length > 0, 'Anna has connections to the server');
    await anna.page.evaluate(() => { window.aula.publishPc.kept = true; window.aula.subscribePc.kept = true; });

    dropConnections(server.httpPort, hers);
    await poll(async () => (await log(anna.page)).some((e) => e.type === 'joined' && e.resumed),
      { message: 'Anna’s page to resume' });
    const entries = await log(anna.page);
    assert.ok(entries.some((e) => e.type === 'reconnecting'), 'her page went reconnecting');
    const resume = entries.find((e) => e.dir === 'out' && e.type === 'resume');
    assert.equal(resume.fresh, false, 'a resume that keeps the peer connections');
    assert.equal(entries.filter((e) => e.type === 'joined').pop().id, anna.id, 'the same seat');
    assert.deepEqual(await anna.page.evaluate(() => [window.aula.publishPc.kept, window.aula.subscribePc.kept]),
      [true, true], 'the same peer connections');
    await poll(() => anna.page.evaluate(() => window.aula.connection === 'connected'), { message: 'her page connected' });
    assert.equal(await anna.page.locator('#connection-banner').isVisible(), false, 'no banner once back');

    const both = receivers([teacher, anna]);
    await expectMediaFlowing(both, { baseline: await baselines(both), message: 'media both ways after the resume' });
    const seen = await log(teacher.page);
    assert.ok(!seen.some((e) => e.type === 'participant_left' && e.id === anna.id), 'the teacher never saw her leave');
    assert.ok(seen.some((e) => e.type === 'participant_updated' && e.id === anna.id && e.reconnecting),
      'the teacher saw her marked reconnecting');
    await poll(async () => {
      const tile = (await teacher.page.evaluate(() => window.aula.participants())).find((p) => p.id === anna.id);
      return tile && !tile.reconnecting;
    }, { message: 'her tile on the teacher’s page to be back to normal' });

    // Then her browser reports a network change (`online`): the page takes a new socket at
    // once (the old one may hang on a path that is gone) and restarts ICE on both connections.
    const count = (entries, type) => entries.filter((e) => e.dir === 'out' && e.type === type).length;
    const sent = await log(anna.page);
    await anna.page.evaluate(() => window.dispatchEvent(new Event('online')));
    await poll(async () => {
      const now = await log(anna.page);
      return count(now, 'resume') > count(sent, 'resume') && count(now, 'ice_restart') > count(sent, 'ice_restart')
        && count(now, 'publish') > count(sent, 'publish');
    }, { message: 'a resume and ICE restarts of both connections after `online`' });
    await expectMediaFlowing(both, { baseline: await baselines(both), message: 'media both ways after `online`' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

// 3b. Two students' sockets drop and their browsers go offline. Meanwhile Anna, who joined
//     muted as students do, turns her microphone on (she wants to answer), and the teacher
//     mutes Ben. Back online, each resumed page keeps what happened on its side and takes
//     what happened on the server's: Anna is heard, Ben is muted.
test('what a student and the teacher change while her socket is away both hold after the resume', AS_ROOT,
  async (t) => {
    await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
      const room = await createRoom(server.url, '9a Physik', { kind: 'class', lobby: false });
      const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
      teacher.id = me.id;
      const students = [];
      for (const name of ['Anna', 'Ben']) {
        const before = serverConnections(server.httpPort);
        const { p, me: student } = await joinAs(browser, everyone, room.participant_url, name);
        p.id = student.id;
        p.ports = [...serverConnections(server.httpPort)].filter((port) => !before.has(port));
        students.push(p);
      }
      const [anna, ben] = students;
      await unmute(ben.page);
      await expectMediaFlowing(receivers([teacher, ben]), { message: 'teacher and Ben receiving each other' });
      assert.equal(await anna.page.evaluate(() => window.aula.you.audio), false, 'Anna joined muted');

      for (const p of students) dropConnections(server.httpPort, p.ports);
      for (const p of students) {
        await poll(() => p.page.evaluate(() => window.aula.connection === 'reconnecting'),
          { interval: 10, message: `${p.label}'s page to notice` });
        await p.context.setOffline(true);
      }
      await anna.page.click('#toggle-mic');
      await anna.page.waitForSelector('#toggle-mic[aria-pressed="true"]', { timeout: WAIT });
      await openPeople(teacher.page);
      await teacher.page.click(`[data-member-id="${ben.id}"] [data-action="mute"]`);
      const shown = (page, id) => page.evaluate((pid) => window.aula.participants().find((p) => p.id === pid), id);
      await poll(async () => (await shown(teacher.page, ben.id)).audio === false,
        { message: 'Ben shown muted on the teacher’s page' });

      for (const p of students) await p.context.setOffline(false);
      for (const p of students) {
        await poll(async () => (await log(p.page)).some((e) => e.type === 'joined' && e.resumed)
          && p.page.evaluate(() => window.aula.connection === 'connected'), { message: `${p.label}'s page to resume` });
      }
      // Anna: her microphone stays on, the server takes it, and the teacher hears her.
      await poll(() => anna.page.evaluate(() => window.aula.you.audio === true),
        { message: 'the server to hold Anna unmuted' });
      assert.equal(await anna.page.getAttribute('#toggle-mic', 'aria-pressed'), 'true', 'her button still says on');
      await poll(async () => (await shown(teacher.page, anna.id)).audio === true,
        { message: 'Anna shown unmuted on the teacher’s page' });
      const fromAnna = [{ page: teacher.page, label: teacher.label, from: [anna.id] }];
      await expectMediaFlowing(fromAnna,
        { baseline: await baselines(fromAnna), message: 'the teacher receiving Anna' });
      // Ben: the mute he did not hear of holds on his page.
      await ben.page.waitForSelector('#toggle-mic[aria-pressed="false"]', { timeout: WAIT });
      assert.equal(await ben.page.evaluate(() => window.aula.you.audio), false, 'the server holds Ben muted');
      for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
    });
  });

test('a student away longer than the grace sees "Connection lost", then comes back by herself', AS_ROOT, async (t) => {
  await withServerAndBrowser(t, { args: ['--resume-grace-secs', '2'] }, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9a Physik', { kind: 'class', lobby: false });
    const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    teacher.id = me.id;
    const before = serverConnections(server.httpPort);
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    anna.id = annaMe.id;
    await unmute(anna.page);
    await expectMediaFlowing(receivers([teacher, anna]), { message: 'teacher and Anna receiving each other' });
    const hers = [...serverConnections(server.httpPort)].filter((port) => !before.has(port));

    // Her socket drops, and her browser goes offline before its first new attempt (at
    // least 250 ms later), so that none gets out. (Offline first would hold back the close
    // event too: the browser's offline emulation delays WebSocket events.)
    dropConnections(server.httpPort, hers);
    await poll(() => anna.page.evaluate(() => window.aula.connection === 'reconnecting'),
      { interval: 10, message: 'her page to notice' });
    await anna.context.setOffline(true);
    const tileOf = (page, id) => page.evaluate((pid) => window.aula.participants().find((p) => p.id === pid), id);
    await poll(async () => (await tileOf(teacher.page, anna.id) || {}).reconnecting,
      { message: 'her tile marked reconnecting on the teacher’s page' });
    assert.equal(await teacher.page.locator(`[data-participant-id="${anna.id}"] .reconnecting`).textContent(),
      'reconnecting…');
    await anna.page.waitForSelector('#connection-banner[data-state="reconnecting"]', { timeout: WAIT });
    assert.equal(await anna.page.textContent('#connection-text'), 'Reconnecting…');
    const own = await anna.page.evaluate(() => window.aula.self());
    assert.deepEqual([own.reconnecting, own.quality], [true, 'lost'], 'her own tile says so');
    // After the grace: the server lets her seat go, her page says so and goes on trying.
    await anna.page.waitForSelector('#connection-banner[data-state="lost"]', { timeout: WAIT });
    assert.equal(await anna.page.textContent('#connection-text'), 'Connection lost — rejoining…');
    assert.equal(await anna.page.locator('#reconnect-now').isVisible(), true, 'a Rejoin button');
    await poll(async () => (await tileOf(teacher.page, anna.id)) === undefined,
      { message: 'her tile to go once the grace has passed' });

    // Back online: the browser's `online` event makes the page try at once; the seat is
    // gone, so it joins again with its session (no lobby), as a new participant.
    await anna.context.setOffline(false);
    await anna.page.waitForSelector('#connection-banner', { state: 'hidden', timeout: WAIT });
    const entries = await log(anna.page);
    assert.ok(entries.some((e) => e.type === 'error' && e.code === 'resume_failed'), 'the resume failed');
    const again = entries.filter((e) => e.type === 'joined').pop();
    assert.equal(again.resumed, false, 'joined anew');
    assert.notEqual(again.id, anna.id, 'as a new participant');
    anna.id = again.id;
    // A student joining a class starts muted, the second time too.
    assert.equal(await anna.page.evaluate(() => window.aula.you.audio), false, 'muted as a newcomer');
    await unmute(anna.page);
    const both = receivers([teacher, anna]);
    await expectMediaFlowing(both, { message: 'media both ways after she joined again' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

// 5. A reload that takes longer than the unload grace (a weak laptop, a busy morning; here
//    the server keeps no seat at all): the resume fails, and the page joins again by itself
//    under the same name, as a new participant, with no form in between; media flows.
test('a reload slower than the unload grace joins again by itself, no form', async (t) => {
  await withServerAndBrowser(t, { args: ['--unload-grace-secs', '0'] }, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9a Physik', { kind: 'class', lobby: false });
    const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    teacher.id = me.id;
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    anna.id = annaMe.id;
    await poll(() => teacher.page.evaluate((id) => window.aula.participants().some((p) => p.id === id), anna.id),
      { message: 'Anna on the teacher’s page' });

    await anna.page.reload();
    await anna.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    const entries = await log(anna.page);
    const sent = entries.filter((e) => e.dir === 'out').map((e) => e.type);
    assert.deepEqual(sent.slice(0, 2), ['resume', 'join'], 'a resume, then a join on the same socket');
    assert.ok(entries.some((e) => e.type === 'error' && e.code === 'resume_failed'), 'the resume failed');
    const again = entries.find((e) => e.type === 'joined');
    assert.equal(again.resumed, false, 'joined anew');
    assert.notEqual(again.id, anna.id, 'as a new participant');
    assert.equal(await anna.page.evaluate(() => window.aula.you.name), 'Anna', 'under her name');
    assert.equal(await anna.page.isVisible('#screen-prejoin'), false, 'no join form');
    anna.id = again.id;
    await unmute(anna.page);
    await expectMediaFlowing(receivers([teacher, anna]), { message: 'media both ways after she joined again' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
