// The join screen: it shows the class title (from GET /api/rooms/{id}) before anyone
// joins, and a join the server refuses with bad_name (the socket stays open, see
// docs/protocol.md) brings the form back with the reason; the corrected name then goes
// out on the same socket, no reconnect.
//
// The form checks names with the server's rules, so to get a bad_name from the server
// the test rewrites the first `join` in flight (Playwright's routeWebSocket).
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, join, openParticipant, withServerAndBrowser,
} from './helpers.mjs';

test('the join screen shows the class title before joining', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '6d Musik');
    const student = await openParticipant(browser, 'student', { locale: 'de-DE' });
    everyone.push(student);
    await student.page.goto(room.participant_url);
    await student.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
    assert.equal(await student.page.textContent('#room-title'), '6d Musik');
    assert.equal(await student.page.title(), '6d Musik — Aula');
    assert.deepEqual(student.errors, [], 'no uncaught errors');
  });
});

test('after a bad_name the corrected join goes out on the same socket', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8a Physik', { lobby: false });
    const student = await openParticipant(browser, 'student');
    everyone.push(student);
    let sockets = 0;
    let rewritten = false;
    await student.page.routeWebSocket(/\/ws$/, (ws) => {
      sockets += 1;
      const upstream = ws.connectToServer();
      ws.onMessage((text) => {
        const msg = JSON.parse(text);
        if (msg.type === 'join' && !rewritten) {
          rewritten = true;
          msg.name = 'A\u0007'; // a control character: the server answers bad_name
        }
        upstream.send(JSON.stringify(msg));
      });
    });
    await student.page.goto(room.participant_url);
    await student.page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
    await student.page.fill('#name-input', 'Anna');
    await student.page.click('#join-button');

    await student.page.waitForSelector('#join-error', { state: 'visible', timeout: WAIT });
    assert.equal(await student.page.textContent('#join-error'), 'Please enter a name of 1 to 40 characters.');
    assert.equal(await student.page.isEnabled('#join-button'), true, 'the form can be sent again');

    const me = await join(student.page, 'Anna');
    assert.equal(me.name, 'Anna');
    assert.equal(sockets, 1, 'one WebSocket for both joins');
    const log = await student.page.evaluate(
      () => window.aula.log().map((e) => [e.dir, e.type, e.code].filter(Boolean).join(' ')),
    );
    assert.deepEqual(log.slice(0, 4), ['out join', 'in error bad_name', 'out join', 'in joined']);
    assert.deepEqual(student.errors, [], 'no uncaught errors');
  });
});
