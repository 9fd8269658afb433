// The waiting room: a student who opens the link of a class with the waiting room on
// sees "Waiting for the teacher to let you in" and receives nothing of the room (no
// participants, no tiles, no media connection); the teacher sees them in the waiting
// list (with a badge and a chime), admits them, and the student then sees the
// teacher's video (frames advancing).
//
// A full room (a server for 2 people): the teacher admits a third, who stays waiting; the
// teacher reads that the class is full, the student that it is full for now; once
// someone leaves, the next admit lets the student in.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, joinLobby, mediaSnapshot, messageLog, openParticipant, openPeople, poll,
  withServerAndBrowser,
} from './helpers.mjs';

/**
 * The teacher joins `room` with People open; `admit(name)` lets that waiting student in
 * from the waiting list.
 */
async function teacherAtTheDoor(browser, everyone, room) {
  const teacher = await openParticipant(browser, 'teacher');
  everyone.push(teacher);
  await teacher.page.goto(room.host_url);
  await join(teacher.page, 'Frau Weber');
  await openPeople(teacher.page);
  const admit = async (name) => {
    const row = teacher.page.locator('#waiting-list [data-waiting-id]', { hasText: name });
    await row.waitFor({ timeout: WAIT });
    await row.locator('[data-action="admit"]').click();
  };
  return { teacher, admit };
}

test('a student waits in the lobby until the teacher admits them', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '4c Sachkunde', { kind: 'class', lobby: true });
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.page.goto(room.host_url);
    const teacherMe = await join(teacher.page, 'Frau Weber');

    const student = await openParticipant(browser, 'Anna');
    everyone.push(student);
    await student.page.goto(room.participant_url);
    await joinLobby(student.page, 'Anna');
    assert.equal(await student.page.textContent('#lobby-text'), 'Waiting for the teacher to let you in…');

    // The teacher hears of the arrival: badge, chime, and a row in the waiting list.
    await teacher.page.waitForSelector('#people-badge:not([hidden])', { timeout: WAIT });
    assert.equal(await teacher.page.textContent('#people-badge'), '1');
    assert.ok(await teacher.page.evaluate(() => window.aula.chimes()) >= 1, 'a chime played');
    await openPeople(teacher.page);
    const row = teacher.page.locator('#waiting-list [data-waiting-id]');
    await row.waitFor({ timeout: WAIT });
    assert.match(await row.textContent(), /Anna/);

    // The server has taken the student into the lobby (the teacher was told), and the
    // student's page has received the lobby message and nothing of the room.
    assert.deepEqual(await messageLog(student.page), ['out join', 'in lobby']);
    assert.deepEqual(await student.page.evaluate(() => window.aula.participants()), [], 'no tiles');
    assert.equal(await student.page.evaluate(() => window.aula.subscribePc), null, 'no media connection');
    assert.equal(await student.page.locator('#screen-call').isVisible(), false, 'no call screen');

    await row.locator('[data-action="admit"]').click();
    await student.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    await teacher.page.waitForSelector('#people-badge', { state: 'hidden', timeout: WAIT });

    // Admitted: the teacher's picture arrives and keeps moving.
    const framesOf = async () => {
      const snap = await mediaSnapshot(student.page);
      const tile = snap.tiles.find((tl) => tl.id === teacherMe.id);
      return tile && tile.framesRendered > 0 ? tile.framesRendered : 0;
    };
    const first = await poll(framesOf, { message: 'the first frames of the teacher on the student page' });
    await poll(async () => (await framesOf()) > first, { message: 'the teacher’s frames to advance' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('admitting into a full class tells the teacher, and the student stays waiting', async (t) => {
  await withServerAndBrowser(t, { args: ['--max-participants-per-room', '2'] }, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '4c Sachkunde', { kind: 'class', lobby: true });
    const { teacher, admit } = await teacherAtTheDoor(browser, everyone, room);
    const [anna, ben] = [await openParticipant(browser, 'Anna'), await openParticipant(browser, 'Ben')];
    everyone.push(anna, ben);
    await anna.page.goto(room.participant_url);
    await joinLobby(anna.page, 'Anna');
    await admit('Anna');
    await anna.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });

    await ben.page.goto(room.participant_url);
    await joinLobby(ben.page, 'Ben');
    await admit('Ben');
    const notice = teacher.page.locator('#admit-full');
    await notice.waitFor({ timeout: WAIT });
    assert.match(await notice.textContent(), /The class is full: Ben could not be let in/);
    await ben.page.waitForSelector('#lobby-full', { state: 'visible', timeout: WAIT });
    assert.match(await ben.page.textContent('#lobby-full'), /The class is full right now/);
    assert.equal(await ben.page.locator('#screen-lobby').isVisible(), true, 'Ben still waits');
    assert.ok((await messageLog(ben.page)).includes('in admit_failed'));

    // Anna leaves; now there is room for Ben.
    await anna.page.click('#leave-button');
    await poll(() => teacher.page.evaluate(() => window.aula.participants().length === 0),
      { message: 'Anna gone from the teacher’s page' });
    await admit('Ben');
    await ben.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

// A lab PC: the session that let a pupil past the waiting room must not let the next pupil
// at that computer past it. It lives in the tab (sessionStorage): a reload keeps it; a closed
// tab (even reopened), a Leave, or three hours end it.
test('the next pupil at a shared computer waits in the lobby again', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5a Informatik', { kind: 'class', lobby: true });
    const { admit } = await teacherAtTheDoor(browser, everyone, room);
    const pc = await openParticipant(browser, 'lab PC');
    everyone.push(pc);
    const where = async (page) => {
      await page.waitForSelector('#screen-call:not([hidden]), #screen-lobby:not([hidden])', { timeout: WAIT });
      return (await page.locator('#screen-call').isVisible()) ? 'call' : 'lobby';
    };
    // Opens the link in a new tab of the lab PC's browser (same storage) and joins as `name`:
    // 'call' if straight in, 'lobby' if waiting.
    const sitDown = async (name) => {
      const page = await pc.context.newPage();
      page.on('pageerror', (err) => pc.errors.push(String(err)));
      await page.goto(room.participant_url);
      await page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
      await page.fill('#name-input', name);
      await page.click('#join-button');
      return { page, where: await where(page) };
    };

    let seat = await sitDown('Anna');
    assert.equal(seat.where, 'lobby');
    await admit('Anna');
    await seat.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    // A reload within the lesson: straight back in.
    await seat.page.reload();
    assert.equal(await where(seat.page), 'call', 'a reload comes back without waiting');
    assert.equal(await seat.page.evaluate((id) => localStorage.getItem(`aula.session.${id}`), room.id), null,
      'nothing of the session in the browser’s lasting storage');

    // The tab opened again at the link, not reloaded — as the page sees a closed tab that the
    // browser reopens with its storage (Ctrl+Shift+T): it starts as anyone's.
    await seat.page.goto('about:blank');
    await seat.page.goto(room.participant_url);
    await seat.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
    await seat.page.fill('#name-input', 'Dana');
    await seat.page.click('#join-button');
    assert.equal(await where(seat.page), 'lobby', 'a tab opened again is not a reload');

    // Dana closes the tab without Leave; Ben sits down at the same computer.
    await seat.page.close();
    seat = await sitDown('Ben');
    assert.equal(seat.where, 'lobby', 'after a closed tab the next pupil waits');
    await admit('Ben');
    await seat.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });

    // Ben leaves on purpose; a reload of that tab starts as anyone would.
    await seat.page.click('#leave-button');
    await seat.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    assert.equal(await seat.page.evaluate((id) => sessionStorage.getItem(`aula.session.${id}`), room.id), null,
      'a Leave forgets the session');
    await seat.page.close();

    // Cem is let in; once his session is three hours old (the test ages it) the page no longer
    // offers it (a later join would start as anyone's), and drops it from storage.
    seat = await sitDown('Cem');
    assert.equal(seat.where, 'lobby');
    await admit('Cem');
    await seat.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
    const aged = await seat.page.evaluate(async (id) => {
      const key = `aula.session.${id}`;
      const stored = JSON.parse(sessionStorage.getItem(key));
      sessionStorage.setItem(key, JSON.stringify({ ...stored, at: stored.at - 3 * 60 * 60 * 1000 - 1000 }));
      const store = await import(new URL('store.js', document.querySelector('script[type=module]').src).href);
      return { session: store.sessionFor(id), left: sessionStorage.getItem(key) };
    }, room.id);
    assert.deepEqual(aged, { session: undefined, left: null }, 'a session three hours old is forgotten');
    assert.deepEqual(pc.errors, []);
  });
});

// Issue 13: strangers fill the waiting room. "Deny all" sends every one of them away, each
// page says the teacher did not let it in, and a reload of such a page does not knock again
// (the server bars its session).
test('deny all empties the waiting room, and a denied page that reloads stays out', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '4c Sachkunde', { kind: 'class', lobby: true });
    const { teacher } = await teacherAtTheDoor(browser, everyone, room);
    const strangers = [];
    for (const name of ['Gast 1', 'Gast 2']) {
      const p = await openParticipant(browser, name);
      everyone.push(p);
      await p.page.goto(room.participant_url);
      await joinLobby(p.page, name);
      strangers.push(p);
    }
    const rows = teacher.page.locator('#waiting-list [data-waiting-id]');
    await poll(async () => (await rows.count()) === 2, { message: 'both in the waiting list' });
    await teacher.page.click('#waiting-list [data-action="deny_all"]');
    for (const p of strangers) {
      await p.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
      assert.match(await p.page.textContent('#screen-ended'), /The teacher did not let you in/);
    }
    await teacher.page.waitForSelector('#waiting-list', { state: 'detached', timeout: WAIT });

    const [first] = strangers;
    await first.page.reload();
    await first.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
    await first.page.fill('#name-input', 'Gast 1');
    await first.page.click('#join-button');
    await first.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
    assert.match(await first.page.textContent('#screen-ended'), /The teacher did not let you in/);
    assert.equal(await rows.count(), 0, 'no knock reached the teacher');
    assert.deepEqual(teacher.errors, [], 'no uncaught errors on the teacher’s page');
  });
});
