// Helpers for Aula's browser tests: start the `aula` binary on free ports, drive
// headless Chromium (playwright-core, the system's /usr/bin/chromium), and walk the
// web client through its screens.
//
// Environment: AULA_BIN (the server binary), CHROMIUM_BIN (default /usr/bin/chromium),
// AULA_LOG_LINES (how much server output to keep for failure reports, default 400).
//
// Waiting is done by polling a condition with a deadline (WAIT, generous because CI
// machines have 2 cores), never by sleeping a fixed time and hoping.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const WAIT = 30_000;
// A subscriber's path's first seconds, whose estimate is still finding the link (the server's
// `WARM_UP`, sfu/src/room/adapt.rs): on a loaded machine GCC may read late feedback as
// queueing then and pause a video for a second or two.
export const WARM_UP_MS = 3000;
const SERVER_LOG_LINES = +(process.env.AULA_LOG_LINES || 400);

// The test camera runs at 15 frames a second (many a classroom webcam's rate in a dim room):
// a class of four browsers on two cores spends most of them encoding and decoding video, and
// at 30 the machine, not Aula, set how fast a page loaded or a join went through.
export const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream=fps=15',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---- ports and the server ----

/** A UDP port that was free a moment ago on 127.0.0.1. */
export function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/**
 * Starts `aula` (env AULA_BIN, default target/debug/aula) on ports the kernel picks (`:0`;
 * its "Aula is running" line says which: a port picked free here and let go could be another
 * socket's by the time aula binds it, as a signaling test found) and waits for GET /healthz. Returns {url, pid, logs(), stop()}; stop() is safe to call twice. The
 * process is also killed if the test process exits.
 *
 * `netns`: run it in that network namespace (`ip netns exec`), listening on `host`
 * (an address of the namespace) at fixed ports: a fresh namespace has every port free.
 * `mediaIps`: where media is received and what browsers are told (default: `host`).
 */
export async function startServer({ args = [], env = {}, netns, host = '127.0.0.1', mediaIps = [host] } = {}) {
  const bin = process.env.AULA_BIN || path.join(REPO, 'target/debug/aula');
  const [httpPort, mediaPort] = netns ? [8080, 10000] : [0, 0];
  // Rooms open to anyone unless a test asks for staff sign-in itself (staff-sign-in.test.mjs).
  const creation = args.includes('--room-creation') ? [] : ['--room-creation', 'open'];
  const argv = ['--http-addr', `${host}:${httpPort}`, '--media-port', String(mediaPort),
    '--media-ips', mediaIps.join(','), ...creation, ...args];
  const [cmd, cmdArgs] = netns ? ['ip', ['netns', 'exec', netns, bin, ...argv]] : [bin, argv];
  // `ip netns exec` execs the binary in place, so the pid and the signals are aula's own.
  const proc = spawn(cmd, cmdArgs, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { RUST_LOG: 'info', NO_COLOR: '1', ...process.env, ...env },
  });
  const lines = [];
  let announce;
  const announced = new Promise((resolve) => { announce = resolve; });
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      lines.push(line);
      const running = /^Aula is running: (http:\/\/\S+)/.exec(line);
      if (running) announce(running[1]);
    }
    if (lines.length > SERVER_LOG_LINES) lines.splice(0, lines.length - SERVER_LOG_LINES);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.once('error', (err) => lines.push(`spawn error: ${err.message}`));
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);

  const server = {
    url: null,
    httpPort: null,
    pid: proc.pid,
    logs: () => lines.join('\n'),
    async stop() {
      process.removeListener('exit', killOnExit);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      // Unref'd: the race is decided by the exit nearly always, and a pending ref'd timer kept
      // each test file's process alive for its full 5 s after its last test (a fifth of the
      // browser tests' time).
      const done = await Promise.race([exited, delay(5000, 'timeout', { ref: false })]);
      if (done === 'timeout') proc.kill('SIGKILL');
    },
  };
  try {
    const url = await Promise.race([
      announced,
      exited.then((info) => { throw new Error(`aula exited before it listened (${JSON.stringify(info)})`); }),
      delay(WAIT, undefined, { ref: false }).then(() => { throw new Error(`aula did not say where it listens within ${WAIT} ms`); }),
    ]);
    server.url = url;
    server.httpPort = Number(new URL(url).port);
    await waitForHealth(server.url, exited);
  } catch (err) {
    await server.stop();
    throw new Error(`${err.message}\n${bin} ${argv.join(' ')}\n--- server output ---\n${server.logs()}`);
  }
  return server;
}

async function waitForHealth(url, exited) {
  let exitInfo = null;
  exited.then((info) => { exitInfo = info; });
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    if (exitInfo) throw new Error(`aula exited before it was healthy (${JSON.stringify(exitInfo)})`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await delay(100);
  }
  throw new Error(`GET /healthz did not answer 200 within ${WAIT} ms`);
}

/**
 * POST /api/rooms from the test itself (not a page); returns the 201 answer
 * ({id, title, kind, host_url, participant_url}). `options` may set `kind` ('class' or
 * 'meeting') and `lobby` (the waiting room; the server's default depends on the kind).
 */
export async function createRoom(baseUrl, title, options = {}) {
  const res = await fetch(`${baseUrl}/api/rooms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title, ...options }),
  });
  if (res.status !== 201) throw new Error(`POST /api/rooms answered ${res.status}: ${await res.text()}`);
  return res.json();
}

// ---- the server's resource use (Linux /proc) ----

// USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Aula runs on (the kernel fixes it for the user ABI, whatever CONFIG_HZ is).
const CLOCK_TICKS_PER_SEC = 100;

/**
 * CPU time (user+system, all threads, in seconds) and resident memory (VmRSS, in KiB)
 * of process `pid`, with the wall-clock time of the reading.
 */
export async function processUsage(pid) {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
  ]);
  // The command name (field 2) may hold spaces and parentheses: count fields after the
  // last ')'. There the state is field 3, so utime (14) and stime (15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return { at: performance.now(), cpuSecs: ticks / CLOCK_TICKS_PER_SEC, rssKib: rss ? Number(rss[1]) : NaN };
}

// ---- browser ----

/** Headless Chromium with the fake camera and microphone; `args` are added to CHROMIUM_ARGS. */
export function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...args],
  });
}

/**
 * A participant in its own browser context (own storage, like a separate device).
 * Uncaught page errors are collected in `errors`, console output in `console`.
 */
export async function openParticipant(browser, label, { locale = 'en-US', viewport, devices } = {}) {
  const context = await browser.newContext({ locale, viewport: viewport || { width: 1280, height: 800 } });
  // `devices`: what the camera and microphone check starts with (web-client/static/devices.js),
  // e.g. {useVideo: false, useAudio: false} to join without them.
  if (devices) await context.addInitScript((d) => localStorage.setItem('aula.devices', JSON.stringify(d)), devices);
  const page = await context.newPage();
  const participant = { label, context, page, errors: [], console: [] };
  page.on('pageerror', (err) => participant.errors.push(String(err && err.stack ? err.stack : err)));
  page.on('console', (msg) => {
    participant.console.push(`[${msg.type()}] ${msg.text()}`);
    if (participant.console.length > 200) participant.console.shift();
  });
  return participant;
}

/**
 * Chromium switches for a fake camera that shows a moving picture with some noise on it (a
 * Y4M file written once to the system's temporary directory: `width`×`height`, 15 frames
 * played in a loop at 15 a second) instead of Chromium's nearly still test pattern, whose
 * layers send far below their caps and by amounts that vary from run to run (keyframes
 * decide). With this picture each simulcast layer sends near its `maxBitrate`, less only
 * where a loaded machine drops frames: a rate a test can set a budget by. Full-range noise
 * was tried first: its keyframes cannot be compressed, and the 150 kbit/s layer measured up
 * to 250.
 */
export function noisyCamera({ width = 960, height = 540 } = {}) {
  // The number is the picture's version: a changed picture must not reuse an older file.
  const file = path.join(os.tmpdir(), `aula-camera-2-${width}x${height}.y4m`);
  if (!fs.existsSync(file)) {
    const frame = width * height * 3 / 2;
    const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F15:1 Ip A1:1 C420jpeg\n`)];
    for (let i = 0; i < 15; i++) {
      const f = crypto.randomBytes(frame);
      // A gradient that moves, with low noise on it.
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const k = y * width + x;
          f[k] = ((x + y + i * 8) & 255) * 0.7 + (f[k] & 31);
        }
      }
      for (let k = width * height; k < frame; k++) f[k] = 120 + (f[k] & 31);
      parts.push(Buffer.from('FRAME\n'), f);
    }
    const partial = `${file}.${process.pid}`;
    fs.writeFileSync(partial, Buffer.concat(parts));
    fs.renameSync(partial, file);
  }
  return [`--use-file-for-fake-video-capture=${file}`];
}

// ---- polling ----

/**
 * Calls `fn` (async, in Node) until it returns a truthy value, and returns that value.
 * On timeout, throws with `message` and the last value or error seen.
 */
export async function poll(fn, { timeout = WAIT, interval = 200, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${message}; last: ${detail}`);
    }
    await delay(interval);
  }
}

// ---- the client's screens ----

/**
 * On the start page: types a title, sets the waiting room (`lobby`: true, false, or
 * undefined for the default), clicks "Start a class", waits for the room page.
 */
export async function startClass(page, baseUrl, title, { lobby } = {}) {
  await page.goto(`${baseUrl}/`);
  await page.fill('#room-title', title);
  if (lobby !== undefined) await page.setChecked('#lobby-on', lobby);
  await Promise.all([
    // The page takes the link's secret out of the address bar once it has read it.
    page.waitForURL(/\/room\/[^/#]+/, { timeout: WAIT }),
    page.click('#start-button'),
  ]);
}

/** On the room page: types the name and clicks Join; resolves when the call screen shows. */
export async function join(page, name) {
  await page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
  await page.fill('#name-input', name);
  await page.click('#join-button');
  await page.waitForSelector('#screen-call', { state: 'visible', timeout: WAIT });
  return page.evaluate(() => window.aula.you);
}

/** On the room page: types the name and clicks Join; resolves when the lobby shows. */
export async function joinLobby(page, name) {
  await page.waitForSelector('#name-input', { state: 'visible', timeout: WAIT });
  await page.fill('#name-input', name);
  await page.click('#join-button');
  await page.waitForSelector('#screen-lobby', { state: 'visible', timeout: WAIT });
}

/** A fresh browser context that opens `url` and joins as `name`; returns {p, me}. */
export async function joinAs(browser, everyone, url, name, options) {
  const p = await openParticipant(browser, name, options);
  everyone.push(p);
  await p.page.goto(url);
  const me = await join(p.page, name);
  return { p, me };
}

/** Turns the microphone on with its button, once the devices are ready. */
export async function unmute(page) {
  await page.waitForSelector('#toggle-mic[aria-pressed="false"]:not([disabled])', { timeout: WAIT });
  await page.click('#toggle-mic');
  await page.waitForSelector('#toggle-mic[aria-pressed="true"]', { timeout: WAIT });
}

/** Opens the People panel (if it is not open already). */
export async function openPeople(page) {
  if (await page.locator('#people-panel').isVisible()) return;
  await page.click('#open-people');
  await page.waitForSelector('#people-panel', { state: 'visible', timeout: WAIT });
}

/** The message log of `page` as "dir type code" strings. */
export function messageLog(page) {
  return page.evaluate(() => window.aula.log().map((e) => [e.dir, e.type, e.code].filter(Boolean).join(' ')));
}

/**
 * The parameters of the sender that carries `source` on `page`'s publish connection (its
 * m-line from the page's latest `publish`): {direction (the transceiver's current one),
 * degradationPreference, encodings: [{rid ('' without one), active, maxBitrate (null if
 * none)}]}. Null while there is no such sender.
 */
export function publishedSender(page, source) {
  return page.evaluate((src) => {
    const published = window.aula.log().filter((e) => e.dir === 'out' && e.type === 'publish').pop();
    const track = published && published.tracks.find((tr) => tr.source === src);
    const pc = window.aula.publishPc;
    const tr = track && pc && pc.getTransceivers().find((x) => x.mid === track.mid);
    if (!tr) return null;
    const params = tr.sender.getParameters();
    return {
      direction: tr.currentDirection,
      degradationPreference: params.degradationPreference ?? null,
      encodings: params.encodings.map((e) => ({ rid: e.rid || '', active: e.active, maxBitrate: e.maxBitrate ?? null })),
    };
  }, source);
}

/** What a page receives: remote tiles (window.aula.participants()) and inbound stats. */
export function mediaSnapshot(page) {
  return page.evaluate(async () => ({
    tiles: window.aula.participants(),
    stats: await window.aula.stats(),
  }));
}

/**
 * How much media a page has received from participant `id` (in a mediaSnapshot): frames
 * presented by its tile, frames decoded and audio packets received, and whether its tile
 * says "video paused to save bandwidth"; null if the page knows nothing of `id` yet.
 */
function received(snap, id) {
  const tile = snap.tiles.find((tl) => tl.id === id);
  const s = snap.stats[id];
  if (!tile && !s) return null;
  return {
    frames: tile ? tile.framesRendered : 0,
    decoded: (s && s.videoFramesDecoded) || 0,
    audio: (s && s.audioPacketsReceived) || 0,
    paused: Boolean(tile && tile.paused),
  };
}

/**
 * Waits until every page in `receivers` ([{page, from: [ids], label}]) gets new media
 * from every id in its `from`: frames presented and decoded, and audio packets, all grow
 * from `baseline` (what baselines() returned before the event) to a later snapshot. An
 * id the baseline does not know yet counts from the first snapshot that knows it, never
 * from zero: an m-line reused for a newcomer may still report its earlier stream's
 * counters. Polls all pages at once; returns the ms it took.
 *
 * `orPaused`: a video whose tile the server has marked "paused to save bandwidth" counts
 * as seen when its audio grows (what the person in front of the page sees: the name and the
 * mark, never a frozen picture); the caller checks separately that the video comes back.

 */
export async function expectMediaFlowing(receivers, {
  baseline, timeout = WAIT, message = 'media to flow', orPaused = false,
} = {}) {
  const started = Date.now();
  const base = receivers.map((r, i) => new Map(r.from.map((id) => [id, baseline ? received(baseline[i], id) : null])));
  let gaps = [];
  let missing = new Set();
  const check = async () => {
    const snaps = await Promise.all(receivers.map((r) => mediaSnapshot(r.page)));
    gaps = [];
    missing = new Set();
    receivers.forEach((r, i) => {
      for (const id of r.from) {
        const now = received(snaps[i], id);
        const before = base[i].get(id);
        if (!before) base[i].set(id, now);
        const seen = (b, n) => (n.frames > b.frames && n.decoded > b.decoded) || (orPaused && n.paused);
        const grew = before && now && seen(before, now) && now.audio > before.audio;
        if (!grew) {
          gaps.push(`${r.label || i} <- ${id} ${JSON.stringify(now)}`);
          missing.add(r);
        }
      }
    });
    return gaps.length === 0;
  };
  await poll(check, { timeout, interval: 100, message }).catch(async (err) => {
    const states = await Promise.all([...missing].map(async (r) => `${r.label}: ${
      JSON.stringify(await subscribeState(r.page).catch((e) => String(e)))}`));
    throw new Error(`${err.message}; missing: ${gaps.join('; ')}; subscribe m-lines: ${states.join('; ')}`);
  });
  return Date.now() - started;
}

/**
 * For a failure report: each m-line of the page's subscribe connection, with its direction,
 * the owner the latest offer named for it, and what its receiver's inbound-rtp counted.
 */
function subscribeState(page) {
  return page.evaluate(async () => {
    const pc = window.aula.subscribePc;
    if (!pc) return 'no subscribe connection';
    const offers = window.aula.log().filter((e) => e.type === 'subscribe_offer');
    const tracks = offers.length ? offers[offers.length - 1].tracks || [] : [];
    return Promise.all(pc.getTransceivers().map(async (tr) => {
      const owner = tracks.find((t) => String(t.mid) === tr.mid);
      const inbound = await tr.receiver.getStats().then((report) => [...report.values()]
        .filter((s) => s.type === 'inbound-rtp')
        .map((s) => [s.ssrc, s.packetsReceived, s.framesDecoded].filter((v) => v !== undefined).join(' '))
        .join(', ') || 'no inbound-rtp', (e) => `getStats failed: ${e}`);
      return [tr.mid, tr.receiver.track.kind, tr.currentDirection,
        owner ? `${owner.participant}/${owner.source}` : '-', inbound].join(' ');
    }));
  });
}

/**
 * The page's own record of when media started to come (for a time bar): from now on, and on
 * every page `page` loads later, the page looks at its media every 200 ms and notes, for each
 * participant, when (Date.now()) frames presented and decoded and audio packets had all
 * grown since it first knew them (a video the server paused for bandwidth counts with its
 * audio, as in expectMediaFlowing's `orPaused`). On two cores busy with four browsers a
 * round of the test's own snapshots takes seconds; the page's record does not wait for it.
 * Read with mediaStartedAt().
 */
export async function watchMediaStart(page) {
  const watch = () => {
    if (window.aulaMediaStart) return;
    const started = {};
    window.aulaMediaStart = started;
    const sum = (tile, s) => ({
      frames: tile ? tile.framesRendered : 0,
      decoded: (s && s.videoFramesDecoded) || 0,
      audio: (s && s.audioPacketsReceived) || 0,
      paused: Boolean(tile && tile.paused),
    });
    const look = async () => {
      if (window.aula) {
        const tiles = window.aula.participants();
        const stats = await window.aula.stats();
        const at = Date.now();
        for (const id of new Set([...tiles.map((tl) => tl.id), ...Object.keys(stats)])) {
          const now = sum(tiles.find((tl) => tl.id === id), stats[id]);
          const entry = started[id] || (started[id] = { base: now, last: now, at: null });
          // A counter that went down started again (a new stream): count from there.
          if (now.frames < entry.last.frames || now.decoded < entry.last.decoded || now.audio < entry.last.audio) {
            entry.base = now;
          }
          entry.last = now;
          const b = entry.base;
          const video = (now.frames > b.frames && now.decoded > b.decoded) || now.paused;
          if (entry.at === null && video && now.audio > b.audio) entry.at = at;
        }
      }
      setTimeout(look, 200);
    };
    look();
  };
  await page.addInitScript(watch);
  await page.evaluate(watch);
}

/**
 * Starts `page`'s record for `ids` again: what comes from them from now on counts. Call it
 * once their earlier media has stopped (a reloaded teacher's old stream).
 */
export function forgetMediaStart(page, ids) {
  return page.evaluate((gone) => { for (const id of gone) delete (window.aulaMediaStart || {})[id]; }, ids);
}

/** When (Date.now()) `page` first had media from each of `ids` (watchMediaStart), or null. */
export async function mediaStartedAt(page, ids) {
  const started = await page.evaluate(() => window.aulaMediaStart || {});
  const times = ids.map((id) => (started[id] ? started[id].at : null));
  return times.some((at) => at === null) ? null : Math.max(...times);
}

/** What each receiver has received so far, for expectMediaFlowing's `baseline`. */
export function baselines(receivers) {
  return Promise.all(receivers.map((r) => mediaSnapshot(r.page)));
}

/** The name shown on the tile of participant `id`, or null if there is no such tile. */
export function tileLabel(page, id) {
  return page.evaluate((pid) => {
    const tile = document.querySelector(`[data-participant-id="${CSS.escape(pid)}"]`);
    return tile ? tile.querySelector('.label .name').textContent.trim() : null;
  }, id);
}

/** Diagnostics for a failed test: each page's message log and errors, the server's output. */
export async function diagnostics(server, participants) {
  const parts = [];
  for (const p of participants) {
    const log = await p.page.evaluate(() => (window.aula ? window.aula.log() : [])).catch(() => []);
    parts.push(`--- ${p.label}: messages ---\n${log.map((e) => JSON.stringify(e)).join('\n')}`);
    parts.push(`--- ${p.label}: page errors ---\n${p.errors.join('\n')}`);
    parts.push(`--- ${p.label}: console ---\n${p.console.slice(-40).join('\n')}`);
  }
  if (server) parts.push(`--- server output ---\n${server.logs()}`);
  return parts.join('\n');
}

/**
 * The frame of every browser test: starts a server (`serverOptions` as for startServer,
 * optional like node:test's options) and a browser, both stopped after test `t`, and
 * runs `body({ server, browser, everyone })`. Push each participant into `everyone`:
 * if `body` throws, the diagnostics of those whose page is still open are printed
 * before the error is rethrown (a closed page has no message log left to read).
 */
export async function withServerAndBrowser(t, serverOptions, body) {
  if (typeof serverOptions === 'function') [serverOptions, body] = [{}, serverOptions];
  // `browserArgs`: more Chromium switches (e.g. more fake cameras); the rest is the server's.
  const { browserArgs = [], ...options } = serverOptions;
  const server = await startServer(options);
  t.after(() => server.stop());
  const browser = await launchBrowser({ args: browserArgs });
  t.after(() => browser.close());
  const everyone = [];
  try {
    await body({ server, browser, everyone });
  } catch (err) {
    console.log(await diagnostics(server, everyone.filter((p) => !p.page.isClosed())));
    throw err;
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
