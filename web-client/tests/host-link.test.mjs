// The teacher (a host) sees the right participant link on any device: the page builds
// it from the `participant_secret` the server puts into `joined` for hosts, not from
// anything the browser that started the class remembered. Here the class is started by the test
// (POST /api/rooms), and the teacher link is opened in a fresh browser context.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, openParticipant, openPeople, startClass, withServerAndBrowser,
} from './helpers.mjs';

test('a teacher in a fresh browser sees the participant link of POST /api/rooms', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5a Englisch');
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.page.goto(room.host_url);
    assert.equal(await teacher.page.evaluate(() => localStorage.length), 0, 'nothing remembered');
    const me = await join(teacher.page, 'Frau Weber');
    assert.equal(me.role, 'host');

    await teacher.page.waitForSelector('#participant-link', { state: 'visible' });
    assert.equal(await teacher.page.inputValue('#participant-link'), room.participant_url);
    assert.equal(await teacher.page.textContent('#invite-label'), 'Student link');
    assert.equal(await teacher.page.locator('#copy-link').isVisible(), true, 'copy button');
    assert.deepEqual(teacher.errors, [], 'no uncaught errors');
  });
});

// Issue 13: a student could read the host link off a shared screen. The page takes the
// secret out of the address bar as soon as it has read it; a reload of the tab still works
// (the secret stays in this tab's sessionStorage), and the host can copy her link unseen.
test('the link secret leaves the address bar; a reload still works; the host can copy her link', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5a Englisch', { lobby: false });
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await teacher.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await teacher.page.goto(room.host_url);
    await teacher.page.waitForSelector('#name-input', { state: 'visible' });
    const path = new URL(room.host_url).pathname;
    assert.equal(teacher.page.url(), `${server.url}${path}`, 'no secret in the address bar');
    const before = await teacher.page.evaluate(() => history.length);
    const me = await join(teacher.page, 'Frau Weber');
    assert.equal(me.role, 'host');
    assert.equal(await teacher.page.evaluate(() => history.length), before, 'no history entry with it either');

    await teacher.page.click('#copy-host-link');
    const copied = await teacher.page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, room.host_url, 'the host link, copied');
    assert.equal(teacher.page.url(), `${server.url}${path}`);

    const student = await openParticipant(browser, 'student');
    everyone.push(student);
    await student.page.goto(room.participant_url);
    await join(student.page, 'Anna');
    assert.equal(student.page.url(), `${server.url}${path}`, 'nor in the student’s');
    assert.equal(await student.page.locator('#invite').isVisible(), false, 'students see no links');

    await teacher.page.reload();
    await teacher.page.waitForSelector('#screen-call', { state: 'visible' });
    assert.equal(await teacher.page.evaluate(() => window.aula.you.id), me.id, 'the reload resumed her seat');
    assert.equal(await teacher.page.evaluate(() => window.aula.you.role), 'host');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

// Issue 13: only the room's lead may take the host link back, and the lead is whoever started
// the class (the browser keeps the room's creator key): the teacher who closes her tab and
// opens the host link again still leads; a student who got the host link hosts, but does not.
test('the teacher who started the class leads again from a new tab; another with the host link does not', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const teacher = await openParticipant(browser, 'teacher');
    everyone.push(teacher);
    await startClass(teacher.page, server.url, '6b Biologie', { lobby: false });
    const roomId = new URL(teacher.page.url()).pathname.split('/').pop();
    await join(teacher.page, 'Frau Weber');
    const stored = await teacher.page.evaluate((id) => ({
      creator: localStorage.getItem(`aula.creator.${id}`) !== null,
      session: localStorage.getItem(`aula.session.${id}`),
      secret: sessionStorage.getItem(`aula.secret.${id}`),
    }), roomId);
    assert.ok(stored.creator, 'the browser that started it keeps the creator key');
    assert.equal(stored.session, null, 'the session is the tab’s, not the browser’s');
    const hostUrl = `${server.url}/room/${roomId}#k=${stored.secret}`;
    const renewHostLink = (page) => page.locator('#people-panel [data-action="renew_host_link"]');
    await openPeople(teacher.page);
    await renewHostLink(teacher.page).waitFor({ state: 'visible', timeout: WAIT });

    const kevin = await openParticipant(browser, 'Kevin');
    everyone.push(kevin);
    await kevin.page.goto(hostUrl);
    assert.equal((await join(kevin.page, 'Kevin')).role, 'host', 'the host link makes a host');
    await openPeople(kevin.page);
    assert.equal(await renewHostLink(kevin.page).count(), 0, 'but not the lead');

    // She closes her tab, and opens the host link again in a new one.
    await teacher.page.close({ runBeforeUnload: true });
    const page = await teacher.context.newPage();
    const back = { label: 'teacher again', page, context: teacher.context, errors: [], console: [] };
    page.on('pageerror', (err) => back.errors.push(String(err)));
    everyone.splice(everyone.indexOf(teacher), 1, back);
    await page.goto(hostUrl);
    await join(page, 'Frau Weber');
    await openPeople(page);
    await renewHostLink(page).waitFor({ state: 'visible', timeout: WAIT });
    assert.equal(await page.evaluate(() => window.aula.log().find((e) => e.type === 'joined').resumed), false,
      'a new participant, not her old seat');
    await openPeople(kevin.page);
    assert.equal(await renewHostLink(kevin.page).count(), 0, 'Kevin still not');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
