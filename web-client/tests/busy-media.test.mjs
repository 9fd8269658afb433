// A media worker whose queue is full drops a client's media request and answers it with
// `server_busy` and `re` (docs/protocol.md, error table); the socket stays. The page sends
// the request again a second later, on the same socket: here the test drops a student's
// first `publish`, first `subscribe_answer` and first three candidates on their way to the
// server (Playwright's routeWebSocket) and answers each as the server would. Media must
// then flow both ways with no reconnect (one WebSocket, no "reconnecting"); before the
// page knew this, the unanswered publish stalled the socket, and only a new one brought
// media, about 6 s later. (Candidates are not sent again: the server is ICE-lite and needs
// none of the browser's; dropping them here shows that.)
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/busy-media.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRoom, expectMediaFlowing, join, joinAs, openParticipant, unmute, withServerAndBrowser,
} from './helpers.mjs';

const DROPPED = { publish: 1, subscribe_answer: 1, candidate: 3 };

test('media requests the server drops for a full queue go again on the same socket', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '5b Englisch', { kind: 'class', lobby: false });
    const { p: teacher, me } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    teacher.id = me.id;
    const anna = await openParticipant(browser, 'Anna');
    everyone.push(anna);
    const left = { ...DROPPED };
    let sockets = 0;
    await anna.page.routeWebSocket(/\/ws$/, (ws) => {
      sockets += 1;
      const upstream = ws.connectToServer();
      ws.onMessage((text) => {
        const msg = JSON.parse(text);
        if (left[msg.type] > 0) {
          left[msg.type] -= 1;
          const busy = { type: 'error', code: 'server_busy', re: msg.type, message: 'the media worker is busy' };
          setTimeout(() => ws.send(JSON.stringify(busy)), 5);
          return;
        }
        upstream.send(text);
      });
    });
    await anna.page.goto(room.participant_url);
    anna.id = (await join(anna.page, 'Anna')).id;
    await unmute(anna.page);

    await expectMediaFlowing([
      { page: teacher.page, label: teacher.label, from: [anna.id] },
      { page: anna.page, label: anna.label, from: [teacher.id] },
    ], { message: 'teacher and Anna receiving each other' });
    assert.deepEqual(left, { publish: 0, subscribe_answer: 0, candidate: 0 }, 'each was dropped');
    const entries = await anna.page.evaluate(() => window.aula.log());
    const out = (type) => entries.filter((e) => e.dir === 'out' && e.type === type).length;
    assert.ok(out('publish') >= 2 && out('subscribe_answer') >= 2, 'the publish and the answer went again');
    assert.equal(sockets, 1, 'one WebSocket all along');
    assert.ok(!entries.some((e) => e.type === 'reconnecting'), 'the page never reconnected');
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
