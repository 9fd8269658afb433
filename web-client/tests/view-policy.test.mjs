// The rules of view.js that need no browser: at what size a tile draws its picture (what a
// `view` reports), and when a new view differs enough from the last one to be sent
// (docs/protocol.md, `view`: a tile more or fewer, or a side changed by more than a fifth).
//
// Run: node --test web-client/tests/view-policy.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differs, drawnSize } from '../static/view.js';

const WIDE = 16 / 9;

test('contain draws the whole picture inside the box', () => {
  // The stage of a wide window: the picture is as high as the box, narrower.
  assert.deepEqual(drawnSize('contain', { width: 1248, height: 480 }, WIDE), { width: 480 * WIDE, height: 480 });
  // A phone's stage: as wide as the box, lower.
  assert.deepEqual(drawnSize('contain', { width: 304, height: 400 }, WIDE), { width: 304, height: 171 });
});

test('cover draws a picture as large as needed to fill the box, cropped', () => {
  // A strip tile across the whole width and 160 pixels high shows a band of a 702-line picture.
  assert.deepEqual(drawnSize('cover', { width: 1248, height: 160 }, WIDE), { width: 1248, height: 702 });
  assert.deepEqual(drawnSize('cover', { width: 160, height: 160 }, WIDE), { width: 160 * WIDE, height: 160 });
});

test('fill (and anything else) is the box', () => {
  assert.deepEqual(drawnSize('fill', { width: 300, height: 100 }, WIDE), { width: 300, height: 100 });
});

const view = (...tiles) => new Map(tiles.map(([key, width, height]) => [key, { width, height }]));

test('a first view, and a tile more or fewer, are sent', () => {
  assert.equal(differs(null, view()), true, 'the first view, even an empty one');
  assert.equal(differs(view(['p1:camera', 320, 180]), view()), true);
  assert.equal(differs(view(), view(['p1:camera', 320, 180])), true);
  assert.equal(differs(view(['p1:camera', 320, 180]), view(['p2:camera', 320, 180])), true, 'another tile');
});

test('a side that changes by more than a fifth is sent, less is not', () => {
  const before = view(['p1:camera', 1000, 500]);
  assert.equal(differs(before, view(['p1:camera', 1000, 500])), false);
  assert.equal(differs(before, view(['p1:camera', 1200, 600])), false, 'exactly a fifth larger');
  assert.equal(differs(before, view(['p1:camera', 800, 400])), false, 'exactly a fifth smaller');
  assert.equal(differs(before, view(['p1:camera', 1201, 500])), true);
  assert.equal(differs(before, view(['p1:camera', 1000, 399])), true);
});
