// The errors after which the server closes the socket are written down twice: in the
// server (signaling/src/protocol/mod.rs, ErrorCode::is_fatal) and in the web client
// (static/errors.js, CLOSING_ERRORS), which must not reconnect after them. This test reads
// the server's source so the two cannot drift apart unnoticed.
//
// Run: node --test web-client/tests/closing-errors.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CLOSING_ERRORS } from '../static/errors.js';
import { REPO } from './helpers.mjs';

test('the web client closes on exactly the errors the server closes on', async () => {
  const source = await readFile(path.join(REPO, 'signaling/src/protocol/mod.rs'), 'utf8');
  const names = new Map([...source.matchAll(/ErrorCode::(\w+) => "(\w+)"/g)].map(([, variant, code]) => [variant, code]));
  const fatal = /fn is_fatal\(self\) -> bool \{\s*matches!\(\s*self,([^)]*)\)/.exec(source);
  assert.ok(fatal, 'ErrorCode::is_fatal found in signaling/src/protocol/mod.rs');
  const variants = [...fatal[1].matchAll(/ErrorCode::(\w+)/g)].map(([, v]) => v);
  assert.ok(variants.length > 0 && variants.every((v) => names.has(v)), 'every fatal code has a wire name');
  // As wire codes: two variants may share one (LobbyFull is `room_full` with its own message).
  const codes = new Set(variants.map((v) => names.get(v)));
  assert.deepEqual([...CLOSING_ERRORS].sort(), [...codes].sort());
});
