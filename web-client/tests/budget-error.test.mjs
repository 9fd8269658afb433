// A `rate_limited` without `re` is the socket's message budget (docs/protocol.md, "Message
// budget"): it answers no request of the page's, so errors.js must not take it for the answer
// to the latest one (a publish taken for refused would be rolled back). Pure logic, in node.
//
// Run: node --test web-client/tests/budget-error.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { handleError } from '../static/errors.js';

/** A call whose latest request was a publish still waiting for its answer. */
function callAfterPublish() {
  const seen = { refusals: [], settled: [], publishRefused: [] };
  const call = {
    phase: 'joined',
    lastRequest: { type: 'publish' },
    lastSent: { type: 'publish' },
    link: { settle: (kind) => seen.settled.push(kind) },
    rtc: {
      publishWaiting: true,
      handlePublishRefused: (code) => seen.publishRefused.push(code),
      handleRestartRefused: () => {},
    },
    emit: (kind, detail) => kind === 'refusal' && seen.refusals.push(detail),
  };
  return { call, seen };
}

test('the message budget\'s rate_limited is shown, and answers no publish', () => {
  const { call, seen } = callAfterPublish();
  const warn = console.warn;
  console.warn = () => {};
  try {
    handleError(call, { type: 'error', code: 'rate_limited', message: 'too many messages; some were dropped' });
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(seen.publishRefused, []);
  assert.deepEqual(seen.settled, []);
  assert.equal(seen.refusals.length, 1);
  assert.equal(seen.refusals[0].key, 'error.rate_limited');
  assert.equal(seen.refusals[0].request, null);
});

test('a publish refused with re still is', () => {
  const { call, seen } = callAfterPublish();
  const warn = console.warn;
  console.warn = () => {};
  try {
    handleError(call, { type: 'error', code: 'rate_limited', message: 'm', re: 'publish' });
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(seen.publishRefused, ['rate_limited']);
});
