// Only signed-in staff start classes (room_creation = "staff", the default). A fresh install
// prints a one-time link; the school's admin opens it, creates the first account and is
// signed in; the start page then starts a class as before. Signing out brings the sign-in
// form back; a wrong password says so; students are never asked to sign in.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/staff-sign-in.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WAIT, join, openParticipant, poll, startClass, withServerAndBrowser } from './helpers.mjs';

test('a fresh install: the printed link makes the first account, which starts a class', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aula-staff-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const accounts = path.join(dir, 'accounts');
  const args = ['--room-creation', 'staff', '--accounts-file', accounts];
  await withServerAndBrowser(t, { args }, async ({ server, browser, everyone }) => {
    const line = await poll(() => server.logs().split('\n').find((l) => l.includes('/setup#t=')),
      { message: 'the first-account link on standard output' });
    const link = line.slice(line.indexOf('http://'));
    const admin = await openParticipant(browser, 'admin');
    everyone.push(admin);
    const { page } = admin;

    // The start page asks for a sign-in; nobody has an account yet.
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#sign-in-form', { state: 'visible', timeout: WAIT });
    assert.equal(await page.locator('#start-form').isVisible(), false);

    await page.goto(link.replace(/^http:\/\/localhost:\d+/, server.url));
    await page.waitForSelector('#setup-form', { state: 'visible' });
    assert.equal(new URL(page.url()).hash, '', 'the token left the address bar');
    await page.fill('#setup-name', 'sekretariat');
    await page.fill('#setup-password', 'lang-genug-1');
    await page.fill('#setup-again', 'lang-genug-2');
    await page.click('#setup-button');
    await page.waitForSelector('#setup-error', { state: 'visible' });
    assert.match(await page.textContent('#setup-error'), /not the same/);
    assert.equal(await page.getAttribute('#setup-again', 'aria-invalid'), 'true');
    await page.fill('#setup-again', 'lang-genug-1');
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('#setup-button')]);

    await page.waitForSelector('#start-form', { state: 'visible' });
    assert.equal(await page.textContent('#signed-in-as'), 'Signed in as sekretariat.');
    assert.match(fs.readFileSync(accounts, 'utf8'), /^sekretariat:\$argon2id\$/m);
    const cookies = await admin.context.cookies();
    const session = cookies.find((c) => c.name === 'aula_staff');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
    assert.equal(await page.evaluate(() => document.cookie), '', 'no script reads the session');

    await startClass(page, server.url, '7b Mathe', { lobby: false });
    const me = await join(page, 'Frau Weber');
    assert.equal(me.role, 'host');
    const participantUrl = await page.inputValue('#participant-link');

    // A student just opens the link: no account, no sign-in.
    const student = await openParticipant(browser, 'student');
    everyone.push(student);
    await student.page.goto(participantUrl);
    assert.equal((await join(student.page, 'Anna')).role, 'participant');

    // The link worked once.
    const again = await openParticipant(browser, 'again');
    everyone.push(again);
    await again.page.goto(link.replace(/^http:\/\/localhost:\d+/, server.url));
    await again.page.fill('#setup-name', 'eindringling');
    await again.page.fill('#setup-password', 'lang-genug-2');
    await again.page.fill('#setup-again', 'lang-genug-2');
    await again.page.click('#setup-button');
    await again.page.waitForSelector('#setup-error', { state: 'visible' });
    assert.match(await again.page.textContent('#setup-error'), /used already/);
    assert.deepEqual([...admin.errors, ...student.errors], [], 'no uncaught errors');
  });
});

test('sign out, a wrong password, sign in again', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aula-staff-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const accounts = path.join(dir, 'accounts');
  const args = ['--room-creation', 'staff', '--accounts-file', accounts];
  await withServerAndBrowser(t, { args }, async ({ server, browser, everyone }) => {
    // The admin's way: `aula user add` while the server runs (it reads the file again).
    const bin = process.env.AULA_BIN || 'target/debug/aula';
    const { execFileSync } = await import('node:child_process');
    execFileSync(bin, ['--accounts-file', accounts, 'user', 'add', 'weber'], { input: 'korrekt-pferd-9\n' });

    const teacher = await openParticipant(browser, 'teacher', { locale: 'de-DE' });
    everyone.push(teacher);
    const { page } = teacher;
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#sign-in-form', { state: 'visible', timeout: WAIT });
    await page.fill('#sign-in-name', 'Weber');
    await page.fill('#sign-in-password', 'falsch-falsch');
    await page.click('#sign-in-button');
    await page.waitForSelector('#sign-in-error', { state: 'visible' });
    assert.equal(await page.textContent('#sign-in-error'), 'Name oder Passwort stimmen nicht.');

    await page.fill('#sign-in-password', 'korrekt-pferd-9');
    await page.click('#sign-in-button');
    await page.waitForSelector('#start-form', { state: 'visible' });
    assert.equal(await page.textContent('#signed-in-as'), 'Angemeldet als weber.');

    await page.click('#sign-out-button');
    await page.waitForSelector('#sign-in-form', { state: 'visible' });
    const status = await page.evaluate(async () => (await fetch('/api/staff')).json());
    assert.deepEqual(status, { room_creation: 'staff', user: null }, 'signed out on the server');
    assert.deepEqual(teacher.errors, [], 'no uncaught errors');
  });
});
