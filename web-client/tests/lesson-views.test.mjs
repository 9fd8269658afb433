// The lesson as a teacher lives it (issue 14): Leave asks her whether the lesson goes on or
// ends for everyone, in view on a laptop and on a phone; her lecture view puts a student on
// the stage, never her own video, which is small in the corner and can be hidden; anyone may
// pin a tile to the stage or put it in full screen; the link
// bar folds into an "Invite" button after the first copy; notices go by themselves and no
// more than three show at once.
//
// Run: node --test web-client/tests/   (AULA_BIN overrides target/debug/aula)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  WAIT, createRoom, joinAs, openPeople, poll, withServerAndBrowser,
} from './helpers.mjs';

const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

/** Whether `selector`'s box lies wholly inside the viewport. */
function inView(page, selector) {
  return page.evaluate((sel) => {
    const box = document.querySelector(sel).getBoundingClientRect();
    return box.width > 0 && box.top >= 0 && box.left >= 0
      && box.bottom <= window.innerHeight && box.right <= window.innerWidth;
  }, selector);
}

for (const [size, viewport] of [['laptop', LAPTOP], ['phone', PHONE]]) {
  test(`Leave as a teacher offers both choices, in view (${size})`, async (t) => {
    await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
      const room = await createRoom(server.url, '8c Physik', { kind: 'class', lobby: false });
      const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber', { viewport });
      const { p: colleague } = await joinAs(browser, everyone, room.host_url, 'Herr Jung', { viewport, locale: 'de-DE' });
      const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna', { viewport });

      // A student leaves at once: no question.
      await anna.page.click('#leave-button');
      await anna.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
      assert.equal(await anna.page.isVisible('#leave-dialog'), false);

      // The teacher is asked; Cancel keeps her in.
      await teacher.page.click('#leave-button');
      await teacher.page.waitForSelector('#leave-dialog', { state: 'visible', timeout: WAIT });
      for (const id of ['#leave-only', '#leave-end', '#leave-cancel']) {
        assert.ok(await inView(teacher.page, id), `${id} in view at ${viewport.width}×${viewport.height}`);
      }
      assert.equal(await teacher.page.textContent('#leave-only'), 'Leave (the lesson goes on)');
      assert.equal(await teacher.page.textContent('#leave-end'), 'End for everyone');
      await teacher.page.keyboard.press('Escape');
      await teacher.page.waitForSelector('#leave-dialog', { state: 'hidden', timeout: WAIT });
      assert.equal(await teacher.page.isVisible('#screen-call'), true, 'still in the lesson');

      // Her colleague (German) leaves, and the lesson goes on for the teacher.
      await colleague.page.click('#leave-button');
      await colleague.page.waitForSelector('#leave-dialog', { state: 'visible', timeout: WAIT });
      assert.equal(await colleague.page.textContent('#leave-only'), 'Verlassen (der Unterricht läuft weiter)');
      await colleague.page.click('#leave-only');
      await colleague.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
      assert.equal(await colleague.page.getAttribute('#screen-ended', 'data-reason'), 'left');
      await poll(async () => (await teacher.page.evaluate(() => window.aula.participants().length)) === 0,
        { message: 'the colleague gone from the teacher\'s page' });
      assert.equal(await teacher.page.isVisible('#screen-call'), true, 'the lesson goes on');

      // Then she ends it for everyone from the same dialog.
      await teacher.page.click('#leave-button');
      await teacher.page.click('#leave-end');
      await teacher.page.waitForSelector('#screen-ended', { state: 'visible', timeout: WAIT });
      assert.equal(await teacher.page.getAttribute('#screen-ended', 'data-reason'), 'ended');
      assert.equal(await teacher.page.textContent('#ended-text'), 'You ended the lesson for everyone.');
      for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
    });
  });
}

test('the teacher sees her class on the stage, her own video small and hideable; tiles pin and go full screen', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8c Physik', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber', { viewport: LAPTOP });
    const { p: anna, me: annaMe } = await joinAs(browser, everyone, room.participant_url, 'Anna', { viewport: LAPTOP });
    const { p: ben, me: benMe } = await joinAs(browser, everyone, room.participant_url, 'Ben');
    const page = teacher.page;
    assert.equal(await page.evaluate(() => window.aula.layout), 'lecture');

    const stageId = () => page.evaluate(() => {
      const stage = document.querySelector('#tiles .tile.stage');
      return stage ? stage.dataset.participantId || stage.dataset.self || null : null;
    });
    await poll(async () => [annaMe.id, benMe.id].includes(await stageId()), { message: 'a student on her stage' });
    const self = page.locator('#tiles .tile.self');
    assert.equal(await self.evaluate((n) => n.classList.contains('pip')), true, 'own video in the corner');
    const [selfBox, stageBox] = [await self.boundingBox(), await page.locator('#tiles .tile.stage').boundingBox()];
    assert.ok(selfBox.width * selfBox.height < stageBox.width * stageBox.height / 4,
      `own video small: ${JSON.stringify(selfBox)} against ${JSON.stringify(stageBox)}`);

    // Ben raises his hand: he comes on her stage.
    await ben.page.click('#toggle-hand');
    await poll(async () => (await stageId()) === benMe.id, { message: 'the raised hand on the stage' });

    // She hides her own video, and shows it again; the choice outlives a layout switch.
    await self.hover();
    await page.click('#hide-self');
    await page.waitForSelector('#tiles .tile.self', { state: 'hidden', timeout: WAIT });
    await page.waitForSelector('#show-self', { state: 'visible', timeout: WAIT });
    await page.click('#toggle-layout');
    assert.equal(await page.isVisible('#tiles .tile.self'), false, 'hidden in the gallery too');
    await page.click('#show-self');
    await page.waitForSelector('#tiles .tile.self', { state: 'visible', timeout: WAIT });
    assert.equal(await page.isVisible('#show-self'), false);

    // A student's lecture view has the teacher on the stage, not the student herself.
    const annaStage = () => anna.page.evaluate(() => {
      const stage = document.querySelector('#tiles .tile.stage');
      return stage ? stage.dataset.participantId : null;
    });
    const teacherId = await page.evaluate(() => window.aula.you.id);
    await poll(async () => (await annaStage()) === teacherId, { message: 'the teacher on Anna\'s stage' });

    // Anna pins Ben: he is on her stage until she unpins him.
    const benTile = `#tiles [data-participant-id="${benMe.id}"]`;
    await anna.page.hover(benTile);
    await anna.page.click(`${benTile} .tile-pin`);
    await poll(async () => (await annaStage()) === benMe.id, { message: 'Ben pinned to Anna\'s stage' });
    assert.equal(await anna.page.getAttribute(`${benTile} .tile-pin`, 'aria-pressed'), 'true');
    await anna.page.click(`${benTile} .tile-pin`);
    await poll(async () => (await annaStage()) === teacherId, { message: 'unpinned: the teacher again' });

    // Full screen, and back.
    await anna.page.hover(benTile);
    await anna.page.click(`${benTile} .tile-full`);
    await poll(async () => anna.page.evaluate((id) => document.fullscreenElement
      && document.fullscreenElement.dataset.participantId === id, benMe.id), { message: 'Ben in full screen' });
    await anna.page.click(`${benTile} .tile-full`);
    await poll(async () => anna.page.evaluate(() => document.fullscreenElement === null), { message: 'full screen left' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('the link bar folds into Invite after the first copy; notices go by themselves, three at most', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8c Physik', { kind: 'class', lobby: false });
    const { p: teacher } = await joinAs(browser, everyone, room.host_url, 'Frau Weber', { viewport: LAPTOP });
    const page = teacher.page;
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    const barHeight = async () => (await page.locator('#invite').boundingBox()).height;
    const open = await barHeight();

    await page.click('#copy-link');
    await page.waitForSelector('#invite-expand', { state: 'visible', timeout: WAIT });
    assert.equal(await page.isVisible('#participant-link'), false, 'the link folded away');
    const folded = await barHeight();
    assert.ok(folded < open / 2, `the bar shrinks: ${open} px -> ${folded} px`);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), room.participant_url);
    await page.click('#invite-expand');
    await page.waitForSelector('#participant-link', { state: 'visible', timeout: WAIT });
    assert.equal(await page.getAttribute('#invite-expand', 'aria-expanded'), 'true');
    await page.click('#invite-collapse');
    await page.waitForSelector('#participant-link', { state: 'hidden', timeout: WAIT });

    // Five notices in a row (each student who raises a hand is one; these are the page's
    // own, raised the way a module does): three show, the rest fold into "2 more"; then
    // they go by themselves.
    await page.evaluate(async () => {
      // The page's own module (its address carries the build's version).
      const { showNotice } = await import(new URL('ui.js', document.querySelector('script[type=module]').src));
      for (let i = 1; i <= 5; i += 1) showNotice(`notice ${i}`, { id: `test-notice-${i}` });
    });
    const shown = () => page.evaluate(() => [...document.querySelectorAll('#notices .notice')]
      .filter((n) => !n.hidden).map((n) => n.textContent));
    await poll(async () => (await shown()).length === 3, { message: 'three notices shown' });
    const texts = await shown();
    assert.ok(texts.every((s) => /notice [345]/.test(s)), `the newest three: ${texts}`);
    await poll(async () => (await page.locator('#notices .notice').count()) === 0,
      { timeout: 20_000, message: 'the notices gone by themselves' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

/** The boxes of the visible tiles and of their name labels, and the tiles container's. */
function boxes(page) {
  return page.evaluate(() => {
    const rect = (n) => { const r = n.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; };
    const tiles = [...document.querySelectorAll('#tiles .tile')].filter((n) => n.checkVisibility());
    return {
      area: rect(document.getElementById('tiles')),
      tiles: tiles.map((n) => ({ tile: rect(n), label: rect(n.querySelector('.label')) })),
      viewport: { w: window.innerWidth, h: window.innerHeight },
    };
  });
}

function overlaps(a, b) {
  return a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1;
}

function checkNoOverlap({ tiles, viewport }, what) {
  for (let i = 0; i < tiles.length; i += 1) {
    for (let j = i + 1; j < tiles.length; j += 1) {
      assert.ok(!overlaps(tiles[i].tile, tiles[j].tile), `${what}: tiles ${i} and ${j} overlap`);
    }
    const { label, tile } = tiles[i];
    assert.ok(label.x >= tile.x - 1 && label.y >= tile.y - 1 && label.x + label.w <= tile.x + tile.w + 1
      && label.y + label.h <= tile.y + tile.h + 1, `${what}: label ${i} inside its tile`);
    assert.ok(label.x + label.w <= viewport.w + 1, `${what}: label ${i} on screen`);
  }
}

test('the gallery fills the space, and a side panel makes tiles smaller, never overlapping', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, 'Fachkonferenz', { kind: 'meeting', lobby: false });
    // Without cameras and microphones: this is about where tiles sit, and six encoders would
    // only slow a two-core machine down.
    const noDevices = { useVideo: false, useAudio: false };
    const { p: host } = await joinAs(browser, everyone, room.host_url, 'Frau Weber', { viewport: LAPTOP, devices: noDevices });
    for (const name of ['Herr Jung', 'Frau Özdemir', 'Herr Nguyen', 'Frau Schmidt', 'Herr Kowalski']) {
      await joinAs(browser, everyone, room.participant_url, name, { devices: noDevices });
    }
    const page = host.page;
    await poll(async () => (await page.evaluate(() => window.aula.participants().length)) === 5, { message: 'six in the meeting' });
    assert.equal(await page.evaluate(() => window.aula.layout), 'gallery');
    await poll(async () => {
      const b = await boxes(page);
      const used = b.tiles.reduce((sum, x) => sum + x.tile.w * x.tile.h, 0);
      return b.tiles.length === 6 && used >= 0.5 * b.area.w * b.area.h;
    }, { message: 'six tiles using at least half the gallery' });
    checkNoOverlap(await boxes(page), 'laptop');

    for (const [size, viewport] of [['laptop', LAPTOP], ['phone', PHONE]]) {
      await page.setViewportSize(viewport);
      await page.click('#open-people');
      await page.waitForSelector('#people-panel', { state: 'visible', timeout: WAIT });
      await poll(async () => (await boxes(page)).tiles.length > 0 || size === 'phone', { message: 'tiles' });
      checkNoOverlap(await boxes(page), `${size}, People open`);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#side-panel', { state: 'hidden', timeout: WAIT });
      checkNoOverlap(await boxes(page), `${size}, People closed`);
    }
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});

test('the teacher spotlights a student: everyone sees him large, until she stops', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const room = await createRoom(server.url, '8c Physik', { kind: 'class', lobby: false });
    const { p: teacher, me: teacherMe } = await joinAs(browser, everyone, room.host_url, 'Frau Weber');
    const { p: anna } = await joinAs(browser, everyone, room.participant_url, 'Anna');
    const { p: ben, me: benMe } = await joinAs(browser, everyone, room.participant_url, 'Ben');
    const stageOf = (page) => page.evaluate(() => {
      const stage = document.querySelector('#tiles .tile.stage');
      return stage ? stage.dataset.participantId : null;
    });
    // Anna looks at the gallery: the spotlight brings her the stage.
    await anna.page.click('#toggle-layout');
    await poll(async () => (await anna.page.evaluate(() => window.aula.layout)) === 'gallery', { message: 'gallery' });
    assert.equal(await anna.page.locator('[data-action="spotlight"]').count(), 0, 'students cannot');

    await openPeople(teacher.page);
    await teacher.page.click(`[data-member-id="${benMe.id}"] [data-action="spotlight"]`);
    await poll(async () => (await stageOf(anna.page)) === benMe.id, { message: 'Ben on Anna\'s stage' });
    assert.equal(await anna.page.evaluate(() => window.aula.layout), 'lecture');
    await ben.page.waitForSelector('#spotlight-notice', { state: 'visible', timeout: WAIT });
    assert.equal(await ben.page.textContent('#spotlight-notice span'), 'A host shows you large for everyone.');

    // Stopped: Anna's stage has the teacher again.
    await teacher.page.click(`[data-member-id="${benMe.id}"] [data-action="spotlight"]`);
    await poll(async () => (await stageOf(anna.page)) === teacherMe.id, { message: 'the teacher back on Anna\'s stage' });
    for (const p of everyone) assert.deepEqual(p.errors, [], `no uncaught errors on ${p.label}'s page`);
  });
});
