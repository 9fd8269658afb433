// A server behind a network link the test controls: `aula` in its own network namespace,
// reached only over a veth pair, so a test can take the link down (network-outage) or shape
// it (bandwidth-limited). Needs root (ip netns, ip link, tc); tests say so with AS_ROOT.
//
// Chromium treats http://10.77.x.2 as secure for the camera (--unsafely-treat-insecure-
// origin-as-secure). The namespace is removed after the test, also when it fails.

import { execFileSync } from 'node:child_process';
import { diagnostics, launchBrowser, startServer } from './helpers.mjs';

// Network namespaces, links and queueing disciplines are root's.
export const AS_ROOT = {
  skip: process.getuid && process.getuid() !== 0 ? 'needs root (ip netns, ip link, tc)' : false,
};

export function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs tc with `args` inside namespace `ns`. */
export function tc(ns, ...args) {
  ip('netns', 'exec', ns, 'tc', ...args);
}

function sysctl(setting, ns) {
  const argv = ['sysctl', '-q', '-w', setting];
  if (ns) ip('netns', 'exec', ns, ...argv);
  else execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A network namespace with one veth pair to it: `hostDev` (10.77.N.1, here) and the
 * namespace's end `nsDev` (10.77.N.2). N comes from the pid so parallel runs do not collide.
 * remove() is safe to call twice and also runs if the process exits.
 */
export function isolatedNetwork() {
  const n = (process.pid % 250) + 1;
  const ns = `aula-t${process.pid}`;
  const hostDev = `avh${process.pid}`;
  const nsDev = `avn${process.pid}`;
  const net = { ns, hostDev, nsDev, hostAddr: `10.77.${n}.1`, serverAddr: `10.77.${n}.2` };
  let removed = false;
  net.remove = () => {
    if (removed) return;
    removed = true;
    process.removeListener('exit', net.remove);
    // Deleting the namespace deletes its end of the pair, and with it ours.
    try { ip('netns', 'del', ns); } catch { /* already gone */ }
    try { ip('link', 'del', hostDev); } catch { /* already gone */ }
  };
  process.once('exit', net.remove);
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev);
    // No IPv6 on the pair: its link-local address would appear a moment after the link is
    // up, and Chromium aborts the page's loads on such a change (ERR_NETWORK_CHANGED).
    sysctl(`net.ipv6.conf.${hostDev}.disable_ipv6=1`);
    ip('link', 'set', nsDev, 'netns', ns);
    sysctl(`net.ipv6.conf.${nsDev}.disable_ipv6=1`, ns);
    ip('addr', 'add', `${net.hostAddr}/24`, 'dev', hostDev);
    ip('link', 'set', hostDev, 'up');
    ip('-n', ns, 'addr', 'add', `${net.serverAddr}/24`, 'dev', nsDev);
    ip('-n', ns, 'link', 'set', nsDev, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (err) {
    net.remove();
    throw err;
  }
  return net;
}

/**
 * A server in its own namespace (`args` are its extra flags) and a browser that reaches it
 * over the veth pair; runs `body({ net, server, browser, everyone })` as withServerAndBrowser
 * does (helpers.mjs), and removes the namespace afterwards.
 */
export async function withIsolatedServer(t, { args = [] }, body) {
  const net = isolatedNetwork();
  let server = null;
  let browser = null;
  t.after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
    net.remove();
  });
  server = await startServer({ netns: net.ns, host: net.serverAddr, args });
  browser = await launchBrowser({ args: [`--unsafely-treat-insecure-origin-as-secure=${server.url}`] });
  const everyone = [];
  try {
    await body({ net, server, browser, everyone });
  } catch (err) {
    console.log(await diagnostics(server, everyone.filter((p) => !p.page.isClosed())));
    throw err;
  }
}
