// A page whose own link is the limit (docs/protocol.md, `bandwidth.limited`), in headless
// Chromium against a real `aula` binary in its own network namespace (netns.mjs), reached over
// a veth pair whose server end the test shapes with tc's token bucket filter.
//
// A teacher and Anna, both on camera; Anna's page shows the teacher large on the stage, which
// calls for her 720-line layer (about 1.2 Mbit/s). Then everything the server sends is held to
// LINK_KBIT: Anna's subscribe connection's estimate falls below what her page would show, and
// her own tile says "Your connection is limiting video" (visible, role note, that label). The
// link is freed again: once the estimate has grown back and the teacher comes at the layer
// Anna's page asks for, the next `bandwidth` says `limited: false` and the mark goes.
//
// Prints how long each took, on lines starting "bandwidth-limited:".
//
// Needs root (ip netns, tc). Run:
// AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/bandwidth-limited.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRoom, joinAs, poll } from './helpers.mjs';
import { AS_ROOT, tc, withIsolatedServer } from './netns.mjs';

// The server's egress while shaped: the two subscribe connections share it, so Anna's gets
// about half, well below the 1.2 Mbit/s of the layer her stage calls for.
const LINK_KBIT = 500;
// Recovering means GCC growing its estimate from a few hundred kbit/s to 1.3 Mbit/s or more,
// about 8 % a second when nothing is lost: up to half a minute, and the machine is shared.
const RECOVER_MS = 90_000;

const TEXT = 'Your connection is limiting video';

/** The limited mark on `page`'s own tile: null when it shows none. */
function limitedMark(page) {
  return page.evaluate(() => {
    const tile = document.querySelector('[data-self]');
    const note = tile && tile.querySelector('.limited-note');
    if (!note || note.hidden || tile.dataset.limited !== 'true' || !note.checkVisibility()) return null;
    return { text: note.textContent, role: note.getAttribute('role'), label: note.getAttribute('aria-label') };
  });
}

test('a page whose own link limits the video says so on its own tile', AS_ROOT, async (t) => {
  await withIsolatedServer(t, {}, async ({ net, server, browser, everyone }) => {
    const room = await createRoom(server.url, '8a Englisch', { kind: 'class', lobby: false });
    const { me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    await poll(async () => {
      const s = (await anna.page.evaluate(() => window.aula.stats()))[teacherMe.id];
      return s && s.videoFramesDecoded > 10;
    }, { message: 'Anna receiving the teacher' });
    // On an open link there is no mark. Polled, not looked at once: the server says "limited"
    // only after 2 s of it (a CI run showed the mark here, at the tenth frame, before it
    // waited), and a busy machine can still delay GCC's feedback for longer than that.
    const joinedAt = Date.now();
    await poll(async () => (await limitedMark(anna.page)) === null, { message: 'no mark on an open link' });
    console.log(`bandwidth-limited: no mark on the open link ${Date.now() - joinedAt} ms after the tenth frame`);

    tc(net.ns, 'qdisc', 'add', 'dev', net.nsDev, 'root', 'tbf', 'rate', `${LINK_KBIT}kbit`, 'burst', '32kbit',
      'latency', '100ms');
    const shapedAt = Date.now();
    const mark = await poll(() => limitedMark(anna.page), { message: 'the limited mark on Anna’s own tile' });
    console.log(`bandwidth-limited: marked ${Date.now() - shapedAt} ms after the link was held to ${LINK_KBIT} kbit/s`);
    assert.deepEqual(mark, { text: TEXT, role: 'note', label: TEXT });
    const told = await anna.page.evaluate(() => window.aula.log().filter((e) => e.type === 'bandwidth').pop());
    assert.equal(told.limited, true, `as the server said: ${JSON.stringify(told)}`);

    tc(net.ns, 'qdisc', 'del', 'dev', net.nsDev, 'root');
    const freedAt = Date.now();
    await poll(async () => (await limitedMark(anna.page)) === null, { timeout: RECOVER_MS, message: 'the mark gone' });
    const last = await anna.page.evaluate(() => window.aula.log().filter((e) => e.type === 'bandwidth').pop());
    assert.equal(last.limited, false, `as the server said: ${JSON.stringify(last)}`);
    console.log(`bandwidth-limited: mark gone ${Date.now() - freedAt} ms after the link was freed`);

    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
