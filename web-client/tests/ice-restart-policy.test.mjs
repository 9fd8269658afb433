// When a peer connection restarts ICE (web-client/static/icewatch.js), checked against
// docs/protocol.md ("Staying in a lesson when the network does not", 1.) with made-up
// times: no browser, no clock, no timers.
//
// Run: node --test web-client/tests/ice-restart-policy.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISCONNECTED_GRACE_MS, IceWatch, RETRY_MS } from '../static/icewatch.js';

/** A watch on a connection that is up, at time 0. */
function connected() {
  const w = new IceWatch();
  w.handleState('checking', 0);
  w.handleState('connected', 0);
  return w;
}

/** Asks at `now` and, if it says restart, records that the restart went out. */
function restartsAt(w, now) {
  if (!w.handleTimeout(now)) return false;
  w.handleRestarted(now);
  return true;
}

test('a connected connection has nothing due', () => {
  const w = connected();
  assert.equal(w.pollTimeout(), null);
  assert.equal(w.handleTimeout(1e9), false);
});

test('a connection that is only being set up is left alone', () => {
  const w = new IceWatch();
  w.handleState('checking', 0);
  assert.equal(w.pollTimeout(), null, 'no restart before it ever failed');
});

test('disconnected for 3 s restarts; a shorter blip heals by itself', () => {
  const w = connected();
  w.handleState('disconnected', 1000);
  assert.equal(w.pollTimeout(), 1000 + DISCONNECTED_GRACE_MS);
  assert.equal(restartsAt(w, 1000 + DISCONNECTED_GRACE_MS - 1), false);
  w.handleState('connected', 2500);
  assert.equal(w.pollTimeout(), null, 'back before the grace: no restart');
  w.handleState('disconnected', 5000);
  assert.equal(restartsAt(w, 5000 + DISCONNECTED_GRACE_MS), true);
});

test('failed restarts at once', () => {
  const w = connected();
  w.handleState('failed', 7000);
  assert.equal(restartsAt(w, 7000), true);
});

test('a restart waiting for its answer is not repeated', () => {
  const w = connected();
  w.handleState('failed', 0);
  assert.equal(restartsAt(w, 0), true);
  assert.equal(w.pollTimeout(), null, 'in flight');
  assert.equal(restartsAt(w, 60_000), false);
});

test('retries every 5 s while the connection is not back', () => {
  const w = connected();
  w.handleState('failed', 0);
  restartsAt(w, 0);
  w.handleNegotiated();
  w.handleState('checking', 100);
  assert.equal(w.pollTimeout(), RETRY_MS);
  assert.equal(restartsAt(w, RETRY_MS - 1), false);
  assert.equal(restartsAt(w, RETRY_MS), true);
  w.handleNegotiated();
  // Failing again right after a restart still waits for the spacing.
  w.handleState('failed', RETRY_MS + 200);
  assert.equal(restartsAt(w, RETRY_MS + 200), false);
  assert.equal(restartsAt(w, 2 * RETRY_MS), true);
  w.handleNegotiated();
  w.handleState('connected', 2 * RETRY_MS + 300);
  assert.equal(w.pollTimeout(), null, 'back: no more retries');
});

test('nothing while signaling is down; at once when it is back', () => {
  const w = connected();
  w.handleSignaling(false);
  w.handleState('failed', 1000);
  assert.equal(w.pollTimeout(), null);
  assert.equal(restartsAt(w, 20_000), false);
  w.handleSignaling(true);
  assert.equal(restartsAt(w, 20_001), true);
});

test('a restart lost with the old socket is asked for again on the new one', () => {
  const w = connected();
  w.handleState('failed', 0);
  restartsAt(w, 0);
  w.handleSignaling(false);
  w.handleSignaling(true);
  assert.equal(restartsAt(w, 10), true, 'no 5 s wait after a resume');
});

test('the browser going online restarts even a connected connection, once', () => {
  const w = connected();
  w.handleOnline();
  assert.equal(restartsAt(w, 100), true);
  w.handleNegotiated();
  assert.equal(w.pollTimeout(), null, 'still connected: nothing more');
});

test('a closed connection is never restarted', () => {
  const w = connected();
  w.handleState('failed', 0);
  w.handleState('closed', 1);
  w.handleOnline();
  assert.equal(w.pollTimeout(), null);
});
