// When the page tries a new socket (web-client/static/reconnect.js), checked against
// docs/protocol.md ("Reconnect backoff") with a made-up random source: no browser.
//
// Run: node --test web-client/tests/reconnect-backoff.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKOFF_CAP_MS, STALLED_RETRY_MS, backoffDelay, nextSchedule, stalledDelay,
} from '../static/reconnect.js';

const MIDDLE = () => 0.5;

test('after a closed socket: 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s', () => {
  const delays = [0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(n, MIDDLE));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

test('the jitter spreads each delay over 0.5..1.5 of it', () => {
  assert.equal(backoffDelay(3, () => 0), 2000);
  assert.ok(Math.abs(backoffDelay(3, () => 0.999999) - 6000) < 0.01);
  assert.ok(backoffDelay(50, () => 0.999999) < BACKOFF_CAP_MS * 1.5, 'capped, also for long outages');
});

test('after a stall: a steady 2 s, ±25 %', () => {
  assert.equal(stalledDelay(() => 0), STALLED_RETRY_MS * 0.75);
  assert.equal(stalledDelay(MIDDLE), STALLED_RETRY_MS);
  assert.ok(stalledDelay(() => 0.999999) < STALLED_RETRY_MS * 1.25);
});

test('a stall starts the stalled schedule; only a close from the server ends it', () => {
  assert.equal(nextSchedule('backoff', { stalled: true, opened: true }), 'stalled');
  assert.equal(nextSchedule('stalled', { opened: false }), 'stalled', 'attempts into a dead path');
  assert.equal(nextSchedule('stalled', { opened: true }), 'backoff', 'the server is reachable and closed us');
  assert.equal(nextSchedule('backoff', { opened: false }), 'backoff');
  assert.equal(nextSchedule('backoff', { opened: true }), 'backoff');
});
