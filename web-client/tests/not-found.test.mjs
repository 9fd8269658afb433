// An address Aula does not have (a mistyped or cut-off link) gets a page that says so, in the
// reader's language, with the way to the start page; the API answers JSON.
//
// Run: AULA_BIN=$PWD/target/debug/aula node --test --test-concurrency=1 web-client/tests/not-found.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openParticipant, withServerAndBrowser } from './helpers.mjs';

test('an unknown address gets a page with the way back, the API a JSON 404', async (t) => {
  await withServerAndBrowser(t, async ({ server, browser, everyone }) => {
    const visitor = await openParticipant(browser, 'visitor', { locale: 'de-DE' });
    everyone.push(visitor);
    const response = await visitor.page.goto(`${server.url}/raum/7b-mathe`);
    assert.equal(response.status(), 404);
    assert.equal(await visitor.page.textContent('#not-found-heading'), 'Diese Seite gibt es nicht');
    assert.equal(await visitor.page.getAttribute('#not-found-start', 'href'), '/');
    await Promise.all([visitor.page.waitForURL(`${server.url}/`), visitor.page.click('#not-found-start')]);

    const api = await fetch(`${server.url}/api/nothing`);
    assert.equal(api.status, 404);
    assert.equal((await api.json()).code, 'not_found');
    assert.deepEqual(visitor.errors, [], 'no uncaught errors');
  });
});
