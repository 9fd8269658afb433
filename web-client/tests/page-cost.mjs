// What a page in a lesson costs its machine, and how fast a reload gets back (docs/benchmarks.md,
// "A page in a lesson, and a reload"). Not a test: it prints figures.
//
//   AULA_BIN=$PWD/target/debug/aula node web-client/tests/page-cost.mjs [students]
//
// A class of a teacher and `students` (default 3) in headless Chromium, all publishing: after
// 5 s of the lesson, the teacher page's main thread over 8 s (CDP profiler: idle, rendering
// "(program)", script); then the teacher reloads, and the time to her call screen and the
// moment her page first has media from everyone (its own record, watchMediaStart).

import {
  createRoom, joinAs, mediaStartedAt, poll, startServer, launchBrowser, unmute, watchMediaStart,
} from './helpers.mjs';

const students = Number(process.argv[2] || 3);
const server = await startServer();
const browser = await launchBrowser();
try {
  const everyone = [];
  const room = await createRoom(server.url, 'Messung', { kind: 'class', lobby: false });
  const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
  const ids = [];
  for (let i = 1; i <= students; i += 1) {
    const { p, me } = await joinAs(browser, everyone, room.participant_url, `Kind ${i}`);
    await unmute(p.page);
    ids.push(me.id);
  }
  await new Promise((resolve) => { setTimeout(resolve, 5000); });

  const cdp = await teacher.context.newCDPSession(teacher.page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.start');
  await new Promise((resolve) => { setTimeout(resolve, 8000); });
  const { profile } = await cdp.send('Profiler.stop');
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName]));
  const ms = { total: 0, idle: 0, program: 0, script: 0 };
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] || 0) / 1000;
    const name = byId.get(id);
    ms.total += dt;
    if (name === '(idle)') ms.idle += dt;
    else if (name === '(program)') ms.program += dt;
    else ms.script += dt;
  });
  const round = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
  console.log(`class of ${students + 1}: teacher's main thread, ms`, JSON.stringify(round(ms)));

  await watchMediaStart(teacher.page);
  const reloadedAt = Date.now();
  await teacher.page.reload();
  await teacher.page.waitForSelector('#screen-call', { state: 'visible' });
  const callScreen = Date.now() - reloadedAt;
  let media = null;
  await poll(async () => {
    media = await mediaStartedAt(teacher.page, ids);
    return media !== null;
  }, { message: 'media from every student' });
  console.log(`reload: call screen after ${callScreen} ms, media from everyone after ${media - reloadedAt} ms`);
} finally {
  await browser.close();
  await server.stop();
}
