// How the page applies the server's `encodings` to a sender (simulcast.js, setActive), without
// a browser: a fake RTCRtpSender that records what setParameters is given.
//
// - each encoding named by its rid gets the `active` the server sent; encodings not named
//   keep theirs; a rid the sender does not have is ignored;
// - rid "" is the one encoding of a sender without rids (a screen share, or a camera in a
//   browser that refused simulcast);
// - null (a track the server has just started: every encoding on) turns everything on;
// - setParameters is called only when something changes, with the object getParameters gave
//   (its transactionId), as the spec requires.
//
// And `camera_bitrate` (setLowestMaxBitrate): the camera's lowest encoding, whichever place it
// has in the list, is capped, never above its own cap, and null gives its own cap back; one
// encoding is never capped.
//
// Run: node --test web-client/tests/encodings-policy.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMERA_LAYERS, setActive, setLowestMaxBitrate } from '../static/simulcast.js';

/** A sender whose encodings are `encodings` ([{rid?, active}]). */
function fakeSender(encodings) {
  const sender = {
    encodings: encodings.map((e) => ({ ...e })),
    sets: [],
    transaction: 0,
    getParameters() {
      this.transaction += 1;
      return { transactionId: String(this.transaction), encodings: this.encodings.map((e) => ({ ...e })) };
    },
    async setParameters(params) {
      assert.equal(params.transactionId, String(this.transaction), 'the parameters of the latest getParameters');
      this.sets.push(params);
      this.encodings = params.encodings.map((e) => ({ ...e }));
    },
  };
  return sender;
}

const camera = () => fakeSender([{ rid: 'q', active: true }, { rid: 'h', active: true }, { rid: 'f', active: true }]);
const active = (sender) => sender.encodings.map((e) => [e.rid ?? '', e.active]);
const told = (...pairs) => new Map(pairs);

test('each rid the server names gets its state; the others keep theirs', async () => {
  const sender = camera();
  assert.equal(await setActive(sender, told(['f', false])), true);
  assert.deepEqual(active(sender), [['q', true], ['h', true], ['f', false]]);
  assert.equal(await setActive(sender, told(['q', true], ['h', false], ['f', false])), true);
  assert.deepEqual(active(sender), [['q', true], ['h', false], ['f', false]]);
  assert.equal(await setActive(sender, told(['f', true])), true);
  assert.deepEqual(active(sender), [['q', true], ['h', false], ['f', true]]);
});

test('nothing changes, nothing is set', async () => {
  const sender = camera();
  assert.equal(await setActive(sender, told(['q', true], ['h', true], ['f', true])), false);
  assert.equal(await setActive(sender, null), false);
  assert.equal(sender.sets.length, 0);
});

test('unknown rids are ignored', async () => {
  const sender = camera();
  assert.equal(await setActive(sender, told(['x', false], ['', false])), false, 'no such rid, and "" is not one of three');
  assert.deepEqual(active(sender), [['q', true], ['h', true], ['f', true]]);
  assert.equal(await setActive(sender, told(['x', false], ['h', false])), true);
  assert.deepEqual(active(sender), [['q', true], ['h', false], ['f', true]]);
});

test('rid "" is the one encoding of a sender without rids', async () => {
  const screen = fakeSender([{ active: true }]);
  assert.equal(await setActive(screen, told(['', false])), true);
  assert.deepEqual(active(screen), [['', false]]);
  assert.equal(await setActive(screen, told(['q', true])), false, 'a rid it does not have');
  assert.deepEqual(active(screen), [['', false]]);
});

test('null: every encoding on, as a new track starts', async () => {
  const sender = fakeSender([{ rid: 'q', active: false }, { rid: 'h', active: true }, { rid: 'f', active: false }]);
  assert.equal(await setActive(sender, null), true);
  assert.deepEqual(active(sender), [['q', true], ['h', true], ['f', true]]);
  assert.equal(sender.sets.length, 1);
});

test('camera_bitrate caps the lowest encoding only, never above its own cap, and null gives that back', async () => {
  // Listed largest first, as some browsers give them back.
  const sender = fakeSender([...CAMERA_LAYERS].reverse().map((l) => ({ ...l, active: true })));
  const rates = () => Object.fromEntries(sender.encodings.map((e) => [e.rid, e.maxBitrate]));
  assert.equal(await setLowestMaxBitrate(sender, 97_000), true);
  assert.deepEqual(rates(), { f: 1_200_000, h: 450_000, q: 97_000 });
  assert.equal(await setLowestMaxBitrate(sender, 97_000), false, 'no change, no setParameters');
  assert.equal(sender.sets.length, 1);
  assert.equal(await setLowestMaxBitrate(sender, 5_000_000), true);
  assert.equal(rates().q, 150_000, 'never above the layer’s own cap');
  await setLowestMaxBitrate(sender, 60_000);
  assert.equal(await setLowestMaxBitrate(sender, null), true);
  assert.deepEqual(rates(), { f: 1_200_000, h: 450_000, q: 150_000 }, 'lifted: its own cap again');
  for (const junk of [0, -1, NaN, 'x', undefined]) {
    await setLowestMaxBitrate(sender, 60_000);
    await setLowestMaxBitrate(sender, junk);
    assert.equal(rates().q, 150_000, `${String(junk)} lifts the cap`);
  }
  assert.ok(sender.encodings.every((e) => e.active), 'active untouched');

  const single = fakeSender([{ active: true }]);
  assert.equal(await setLowestMaxBitrate(single, 80_000), false);
  assert.equal(single.sets.length, 0, 'one encoding: everyone takes it, never capped');
});
