// A pupil whose network lets no UDP through to the server reaches the lesson through the
// school's TURN server: a real coturn (`use-auth-secret`, as docs/operations.md configures it)
// and `aula --turn-urls … --turn-secret …`. Anna's page may use relayed candidates only
// (`iceTransportPolicy: "relay"`, set by an init script before the page's code runs, as a
// network that blocks UDP would leave it no other); the credentials are the ones `joined`
// handed her. She sees and hears the teacher, the teacher sees her, and both of her
// connections run through the relay.
//
// Needs coturn's `turnserver` (Debian's `coturn`, which run-tests.sh installs); skipped
// without it unless AULA_REQUIRE_COTURN=1 (run-tests.sh sets it).
//
// Prints the time to the first frame, on a line starting "turn-relay:".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { createRoom, freeUdpPort, join, joinAs, openParticipant, poll, withServerAndBrowser } from './helpers.mjs';

const SECRET = 'a-long-random-string-shared-with-coturn';

function installed(bin) {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const HAVE_COTURN = installed('turnserver');
if (!HAVE_COTURN && process.env.AULA_REQUIRE_COTURN) {
  throw new Error('coturn is required here: apt-get install coturn');
}

async function startCoturn(t, port) {
  const proc = spawn('turnserver', ['-n', '--no-cli', '--no-tls', '--no-dtls', '--simple-log',
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=aula.test',
    '--allow-loopback-peers', '--log-file=stdout'], { stdio: 'ignore' });
  t.after(() => proc.kill());
  await poll(() => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  }), { timeout: 10_000, message: 'coturn listening' });
}

/** Makes every RTCPeerConnection of the page relay-only and keeps them for inspection. */
function relayOnly() {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config = {}, ...rest) {
      super({ ...config, iceTransportPolicy: 'relay' }, ...rest);
      window.__pcs.push(this);
    }
  };
}

/** For each of the page's connections: the ICE servers it was given and its local candidate type. */
function paths(page) {
  return page.evaluate(async () => Promise.all(window.__pcs.map(async (pc) => {
    const stats = await pc.getStats();
    let pair = null;
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
    });
    const local = pair && stats.get(pair.localCandidateId);
    const servers = pc.getConfiguration().iceServers || [];
    return { state: pc.connectionState, local: local ? local.candidateType : null,
      urls: servers.flatMap((s) => [].concat(s.urls)), username: servers[0] && servers[0].username };
  })));
}

test('a pupil whose network allows only the TURN relay is in the lesson through coturn',
  { skip: !HAVE_COTURN && 'coturn is not installed (apt-get install coturn)' }, async (t) => {
    const port = await freeUdpPort();
    await startCoturn(t, port);
    const turnUrl = `turn:127.0.0.1:${port}`;
    const serverOptions = { args: ['--turn-urls', turnUrl, '--turn-secret', SECRET] };
    await withServerAndBrowser(t, serverOptions, async ({ server, browser, everyone }) => {
      const room = await createRoom(server.url, '9c Physik', { kind: 'class', lobby: false });
      const { me: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');

      const anna = await openParticipant(browser, 'Anna');
      everyone.push(anna);
      await anna.page.addInitScript(relayOnly);
      const startedAt = Date.now();
      await anna.page.goto(room.participant_url);
      const annaMe = await join(anna.page, 'Anna');
      await poll(async () => {
        const s = (await anna.page.evaluate(() => window.aula.stats()))[teacher.id];
        return s && s.videoFramesDecoded > 10 && s.audioPacketsReceived > 50;
      }, { message: 'Anna seeing and hearing the teacher through the relay' });
      console.log(`turn-relay: Anna's first frames of the teacher ${Date.now() - startedAt} ms after opening the page`);
      const teacherPage = everyone[0].page;
      await poll(async () => {
        const s = (await teacherPage.evaluate(() => window.aula.stats()))[annaMe.id];
        return s && s.videoFramesDecoded > 10;
      }, { message: 'the teacher seeing Anna through the relay' });

      // Both of Anna's connections (publish and subscribe) run through coturn, with the
      // credentials `joined` gave: an expiring username.
      let found;
      await poll(async () => {
        found = await paths(anna.page);
        return found.length === 2 && found.every((p) => p.state === 'connected' && p.local === 'relay');
      }, { message: 'both connections relayed' }).catch((err) => {
        throw new Error(`${err.message}: ${JSON.stringify(found)}`);
      });
      for (const p of found) {
        assert.deepEqual(p.urls, [turnUrl]);
        assert.match(p.username, /^\d{10}:aula$/);
      }
      await delay(500);
      for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
    });
  });
