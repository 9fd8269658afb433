// Screenshots of the web client for the README and docs (issue 14): the start page, the
// camera check before joining, the waiting room, a teacher's lecture view with her class,
// and a student's phone, each in English and German. Runs a real `aula` and headless
// Chromium with the fake camera, like the tests; writes docs/screenshots/*.png.
//
// Run: cargo build --bin aula && node web-client/tests/screenshots.mjs
// (AULA_BIN overrides target/debug/aula). Not a test: it asserts nothing, it takes pictures.

import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import {
  REPO, WAIT, createRoom, join, joinLobby, launchBrowser, openParticipant, poll, startServer,
} from './helpers.mjs';

const OUT = path.join(REPO, 'docs/screenshots');
const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

async function shoot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
  console.log(`docs/screenshots/${name}.png`);
}

/** Waits until `page` shows `n` remote videos playing. */
async function videosPlaying(page, n) {
  await poll(async () => (await page.evaluate(() => window.aula.participants()
    .filter((p) => p.framesRendered > 5).length)) >= n, { message: `${n} videos playing` });
}

async function language(browser, server, locale, suffix, names) {
  const room = await createRoom(server.url, names.title, { kind: 'class', lobby: true });
  const everyone = [];
  const open = async (label, viewport) => {
    const p = await openParticipant(browser, label, { locale, viewport });
    everyone.push(p);
    return p;
  };

  const start = await open('start', LAPTOP);
  await start.page.goto(`${server.url}/`);
  await start.page.waitForSelector('#start-form', { state: 'visible', timeout: WAIT });
  await shoot(start.page, `start-${suffix}`);

  const teacher = await open(names.teacher, LAPTOP);
  await teacher.page.goto(room.host_url);
  await poll(() => teacher.page.evaluate(() => document.getElementById('mic-meter').dataset.level > 0),
    { message: 'the camera check running' });
  await teacher.page.fill('#name-input', names.teacher);
  await shoot(teacher.page, `prejoin-${suffix}`);
  await join(teacher.page, names.teacher);

  const students = [];
  for (const [i, name] of names.students.entries()) {
    const s = await open(name, i === 0 ? PHONE : LAPTOP);
    await s.page.goto(room.participant_url);
    await joinLobby(s.page, name);
    if (i === 0) await shoot(s.page, `lobby-${suffix}`);
    students.push(s);
  }
  await teacher.page.click('#open-people');
  await teacher.page.click('[data-action="admit_all"]');
  await teacher.page.click('#side-close');
  for (const s of students) await s.page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
  await teacher.page.click('#copy-link').catch(() => {});
  await videosPlaying(teacher.page, names.students.length);
  await students[1].page.click('#toggle-hand');
  await teacher.page.waitForTimeout(1500);
  await shoot(teacher.page, `teacher-lecture-${suffix}`);
  await videosPlaying(students[0].page, 1);
  await shoot(students[0].page, `phone-${suffix}`);
  for (const p of everyone) await p.context.close();
}

const server = await startServer();
const browser = await launchBrowser();
try {
  await mkdir(OUT, { recursive: true });
  await language(browser, server, 'en-US', 'en', {
    title: '7b Maths', teacher: 'Ms Weber', students: ['Anna', 'Ben', 'Chiara', 'Deniz'],
  });
  await language(browser, server, 'de-DE', 'de', {
    title: '7b Mathematik', teacher: 'Frau Weber', students: ['Anna', 'Ben', 'Chiara', 'Deniz'],
  });
} finally {
  await browser.close();
  await server.stop();
}
