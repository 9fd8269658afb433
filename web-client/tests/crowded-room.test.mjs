// A crowded, narrow room (issue 14, bad input): a teacher's page 320 px wide with 47 others
// in the class, names of 40 wide characters and right-to-left names among them. The page
// stays usable: nothing scrolls sideways, the controls are on screen, every name label stays
// inside its tile, names are laid out in their own direction (dir="auto"), the gallery
// scrolls instead of shrinking tiles to nothing, and People lists everyone.
// The 47 are plain WebSocket clients (docs/protocol.md, `join`) in one page, not browsers.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, joinAs, poll, withServerAndBrowser,
} from './helpers.mjs';

const NARROW = { width: 320, height: 640 };
const OTHERS = 47;

function nameOf(i) {
  if (i % 3 === 0) return 'Ｗ'.repeat(40);
  if (i % 3 === 1) return `مريم أحمد ${i}`;
  return `אברהם ${i} Levi`;
}

/**
 * `names.length` participants that only join and listen, as WebSockets opened by one page of
 * the server's own origin (Node has no WebSocket before version 22); resolves when all are in.
 */
async function bots(browser, server, room, names) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/help`);
  const secret = decodeURIComponent(new URL(room.participant_url).hash.replace('#k=', ''));
  await page.evaluate(([roomId, key, list]) => Promise.all(list.map((name) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/ws`);
    window.testSockets = window.testSockets || [];
    window.testSockets.push(ws);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'join', v: 1, room: roomId, secret: key, name }));
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === 'joined') resolve();
      if (msg.type === 'error') reject(new Error(`${name}: ${msg.code} ${msg.message}`));
    };
    ws.onerror = () => reject(new Error(`${name}: socket error`));
  }))), [room.id, secret, names]);
  return context;
}

test('a 320 px page with 47 others, wide and right-to-left names, stays usable', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '9c Erdkunde', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber',
      { viewport: NARROW, devices: { useVideo: false, useAudio: false } });
    const crowd = await bots(browser, server, room, Array.from({ length: OTHERS }, (_, i) => nameOf(i)));
    t.after(() => crowd.close());
    const page = teacher.page;
    await poll(async () => (await page.evaluate(() => window.aula.participants().length)) === OTHERS,
      { message: `${OTHERS} tiles` });

    const check = async (what) => {
      const r = await page.evaluate(() => {
        const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
        const tiles = [...document.querySelectorAll('#tiles .tile')].filter((n) => n.checkVisibility());
        const labelsOut = tiles.filter((n) => !inside(n.querySelector('.label').getBoundingClientRect(), n.getBoundingClientRect()));
        const controls = ['toggle-hand', 'open-people', 'open-chat', 'leave-button']
          .filter((id) => { const b = document.getElementById(id).getBoundingClientRect(); return b.width === 0 || b.right > window.innerWidth + 1 || b.left < -1; });
        const names = [...document.querySelectorAll('#tiles .tile .name')];
        return {
          scrollWidth: document.documentElement.scrollWidth,
          tiles: tiles.length,
          // Our own video in the lecture's corner is small on purpose.
          smallest: Math.min(...tiles.filter((n) => n.dataset.participantId).map((n) => n.getBoundingClientRect().width)),
          labelsOut: labelsOut.length,
          controlsOff: controls,
          undirected: names.filter((n) => n.getAttribute('dir') !== 'auto').length,
        };
      });
      assert.ok(r.scrollWidth <= NARROW.width, `${what}: nothing scrolls sideways (${r.scrollWidth} px)`);
      assert.deepEqual(r.controlsOff, [], `${what}: controls on screen`);
      assert.equal(r.labelsOut, 0, `${what}: labels inside their tiles`);
      assert.equal(r.undirected, 0, `${what}: names in their own direction`);
      assert.ok(r.tiles > 0 && r.smallest >= 100, `${what}: tiles of a usable size (${r.smallest} px)`);
    };
    await check('lecture');
    await page.click('#toggle-layout');
    await poll(async () => (await page.evaluate(() => window.aula.layout)) === 'gallery', { message: 'gallery' });
    await check('gallery');
    const scrolls = await page.evaluate(() => {
      const tiles = document.getElementById('tiles');
      return tiles.scrollHeight > tiles.clientHeight;
    });
    assert.ok(scrolls, 'the gallery scrolls');

    await page.click('#open-people');
    await page.waitForSelector('#people-panel', { state: 'visible', timeout: WAIT });
    const rows = await page.evaluate(() => [...document.querySelectorAll('#member-list [data-member-id]')]
      .map((r) => r.querySelector('.row-name').getAttribute('dir')));
    assert.equal(rows.length, OTHERS + 1, 'everyone in People');
    assert.ok(rows.slice(1).every((d) => d === 'auto'), 'names in People in their own direction');
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= NARROW.width, `People open: nothing scrolls sideways (${wide} px)`);
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
