// Firefox in the browser tests: Debian's firefox-esr, driven by puppeteer-core over WebDriver
// BiDi (no browser download), in the same room as Chromium pages (helpers.mjs).
//
// What Firefox needs that Chromium does not, all found on the test machine (firefox-esr 153):
// - Fake camera and microphone come from preferences (FIREFOX_PREFS), not from flags.
// - Firefox gathers no loopback ICE candidates (`media.peerconnection.ice.loopback` does not
//   change that here, `media.peerconnection.ice.force_interface` is ignored), so it cannot
//   reach a server that advertises 127.0.0.1. The server gets a media address of its own on a
//   veth pair (mediaAddress(), needs root), which both browsers reach like a LAN address; the
//   pages stay on http://127.0.0.1, a secure context for the camera in both browsers.
//   Firefox gathers on the interface of the default route only (its answers list eth0's
//   addresses, never the veth's), and the kernel delivers from there to the local veth
//   address: a machine without any default route cannot run these tests.
// - Firefox's fake devices have no screen (its MediaEngineFake serves cameras and microphones
//   only) and headless Firefox has no display, so getDisplayMedia fails with NotFoundError.
//   withBrowsers({display: true}) runs it on a virtual X display (Xvfb) instead, whose screen
//   it shares ("Primary Monitor"; `media.navigator.permission.disabled` skips the picker).
//
// Firefox pages are wrapped in FirefoxPage, which offers the few calls of Playwright's Page
// that helpers.mjs uses, so join(), unmute() and expectMediaFlowing() work on both browsers.
//
// Environment: FIREFOX_BIN (default /usr/bin/firefox-esr), as helpers.mjs for the rest.

import { spawn, execFileSync } from 'node:child_process';
import puppeteer from 'puppeteer-core';
import { WAIT, diagnostics, join, launchBrowser, startServer } from './helpers.mjs';

export const FIREFOX_PREFS = {
  // A fake camera (a picture that changes colour) and a fake microphone (a tone).
  'media.navigator.streams.fake': true,
  // No permission prompts: camera, microphone, and the screen for getDisplayMedia.
  'media.navigator.permission.disabled': true,
  // Real host candidates instead of mDNS names the server cannot resolve (what a page with
  // camera permission gets in Chromium).
  'media.peerconnection.ice.obfuscate_host_addresses': false,
};

/**
 * The page API of helpers.mjs (a subset of Playwright's Page) on a puppeteer page. `raw`
 * is the puppeteer page, for anything else.
 */
export class FirefoxPage {
  constructor(raw) {
    this.raw = raw;
  }

  goto(url) {
    return this.raw.goto(url);
  }

  reload() {
    return this.raw.reload();
  }

  evaluate(fn, arg) {
    return this.raw.evaluate(fn, arg);
  }

  /** `state`: 'visible' (Playwright's default), 'hidden' or 'attached'. */
  waitForSelector(selector, { state = 'visible', timeout = WAIT } = {}) {
    return this.raw.waitForSelector(selector, { timeout, visible: state === 'visible', hidden: state === 'hidden' });
  }

  fill(selector, value) {
    return this.raw.locator(selector).fill(value);
  }

  click(selector) {
    return this.raw.click(selector);
  }

  textContent(selector) {
    return this.raw.$eval(selector, (node) => node.textContent);
  }

  isClosed() {
    return this.raw.isClosed();
  }

  close() {
    return this.raw.close();
  }
}

/** firefox-esr, headless, or on X display `display` (':N') when one is given. */
export function launchFirefox({ display = null, prefs = {} } = {}) {
  return puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: process.env.FIREFOX_BIN || '/usr/bin/firefox-esr',
    headless: !display,
    env: display ? { ...process.env, DISPLAY: display } : process.env,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
  });
}

/** The browser's version, e.g. 'firefox/153.8.0' or 'chromium/156.0.8078.114'. */
export async function browserVersion(browser) {
  const v = await browser.version();
  return v.includes('/') ? v.toLowerCase() : `chromium/${v}`;
}

/**
 * A participant in its own Firefox user context (own storage, like a separate device).
 * Same shape as helpers.mjs's openParticipant: {label, page, context, errors, console}.
 */
export async function openFirefoxParticipant(firefox, label) {
  const context = await firefox.createBrowserContext();
  const raw = await context.newPage();
  const participant = { label, page: new FirefoxPage(raw), context, errors: [], console: [] };
  raw.on('pageerror', (err) => participant.errors.push(String(err && err.stack ? err.stack : err)));
  raw.on('console', (msg) => {
    participant.console.push(`[${msg.type()}] ${msg.text()}`);
    if (participant.console.length > 200) participant.console.shift();
  });
  return participant;
}

/** A fresh Firefox participant that opens `url` and joins as `name`; returns {p, me}. */
export async function joinFirefox(firefox, everyone, url, name) {
  const p = await openFirefoxParticipant(firefox, `${name} (Firefox)`);
  everyone.push(p);
  await p.page.goto(url);
  const me = await join(p.page, name);
  return { p, me };
}

// ---- the machine: a media address, a display ----

/** node:test options for these tests: the media address is made with `ip link`, root's. */
export const AS_ROOT = {
  skip: process.getuid && process.getuid() !== 0 ? 'needs root (ip link: a media address Firefox can reach)' : false,
};

function run(cmd, ...args) {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A local address that is not loopback, for the server's media: 10.78.N.1 on one end of a
 * veth pair made for this test (N from the pid, so parallel runs do not collide). No IPv6
 * on the pair: a link-local address appearing after the browsers started would be a
 * network change to them. remove() is safe to call twice and also runs if the process exits.
 */
export function mediaAddress() {
  const dev = `avm${process.pid}`;
  const peer = `avp${process.pid}`;
  const net = { addr: `10.78.${(process.pid % 250) + 1}.1`, dev };
  let removed = false;
  net.remove = () => {
    if (removed) return;
    removed = true;
    process.removeListener('exit', net.remove);
    // Deleting one end of the pair deletes both.
    try { run('ip', 'link', 'del', dev); } catch { /* already gone */ }
  };
  process.once('exit', net.remove);
  try {
    run('ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', peer);
    for (const end of [dev, peer]) run('sysctl', '-q', '-w', `net.ipv6.conf.${end}.disable_ipv6=1`);
    run('ip', 'addr', 'add', `${net.addr}/32`, 'dev', dev);
    for (const end of [dev, peer]) run('ip', 'link', 'set', end, 'up');
  } catch (err) {
    net.remove();
    throw new Error(`cannot make a media address (the Firefox tests need root for ip link): ${err.message}`);
  }
  return net;
}

/** A virtual X display (Xvfb picks a free number); resolves to {display: ':N', stop()}. */
export function startXvfb() {
  return new Promise((resolve, reject) => {
    const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const stop = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM'); };
    process.once('exit', stop);
    proc.once('error', (e) => reject(new Error(`cannot start Xvfb (run-tests.sh installs xvfb): ${e.message}`)));
    proc.stderr.on('data', (chunk) => { err += chunk; });
    proc.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before it was ready: ${err.slice(-500)}`)));
    proc.stdio[3].on('data', (chunk) => {
      out += chunk;
      if (!out.includes('\n')) return;
      resolve({
        display: `:${out.trim()}`,
        stop() {
          process.removeListener('exit', stop);
          stop();
        },
      });
    });
  });
}

/**
 * The frame of a test with both browsers: a media address, a server that advertises only it,
 * headless Chromium and Firefox (on a virtual display if `display`), all removed after test
 * `t`. Runs `body({ server, chromium, firefox, everyone })`; push each participant into
 * `everyone` for the diagnostics printed if `body` throws.
 */
export async function withBrowsers(t, { display = false, firefoxPrefs = {} } = {}, body) {
  const cleanup = [];
  t.after(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  const net = mediaAddress();
  cleanup.push(() => net.remove());
  const server = await startServer({ mediaIps: [net.addr] });
  cleanup.push(() => server.stop());
  const chromium = await launchBrowser();
  cleanup.push(() => chromium.close());
  let screen = null;
  if (display) {
    screen = await startXvfb();
    cleanup.push(() => screen.stop());
  }
  const firefox = await launchFirefox({ display: screen && screen.display, prefs: firefoxPrefs });
  cleanup.push(() => firefox.close());
  const everyone = [];
  try {
    await body({ server, chromium, firefox, everyone });
  } catch (err) {
    console.log(await diagnostics(server, everyone.filter((p) => !p.page.isClosed())));
    throw err;
  }
}
