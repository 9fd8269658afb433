// The words of the German pages, as schools must write them (issue 14): no gender characters
// ("Schüler·innen" is not allowed in official school communication in several states; the
// pages say "Schülerinnen und Schüler" or "Lernende"), and a host's actions say what they do
// ("Kamera ausschalten", not "Kamera aus", which reads like a state). Reads the files; no
// browser needed.
//
// Run: node --test web-client/tests/words.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers.mjs';

const STATIC = path.join(REPO, 'web-client/static');

test('no gender characters in any page or string', () => {
  for (const file of fs.readdirSync(STATIC).filter((f) => /\.(js|html)$/.test(f))) {
    const text = fs.readFileSync(path.join(STATIC, file), 'utf8');
    const found = text.match(/\p{L}[·*:_]innen\b|\p{L}·in\b/gu);
    assert.equal(found, null, `${file}: ${found}`);
  }
});

test('host actions in German are verbs', () => {
  const text = fs.readFileSync(path.join(STATIC, 'i18n.js'), 'utf8');
  const german = text.slice(text.indexOf('\n  de: {'));
  assert.match(german, /'host\.stopVideo': 'Kamera ausschalten'/);
  assert.match(german, /'host\.mute': 'Stumm schalten'/);
});

test('the German interface says "Sie", as Jitsi and BigBlueButton do', () => {
  const text = fs.readFileSync(path.join(STATIC, 'i18n.js'), 'utf8');
  const german = text.slice(text.indexOf('\n  de: {'));
  const du = german.split('\n')
    .filter((line) => /\b(du|Du|dich|dir|dein|deine|deinen|deiner|Dein|Deine)\b/.test(line));
  assert.deepEqual(du, [], 'strings that say "du"');
  assert.match(german, /'prejoin\.name': 'Ihr Name'/);
  // The teachers' part of the help page too (the pupils' part speaks to children).
  const help = fs.readFileSync(path.join(STATIC, 'help.html'), 'utf8');
  const teachers = help.slice(help.indexOf('id="lehrkraefte"'), help.indexOf('id="schueler"'));
  assert.ok(teachers.length > 1000, 'the teachers\' section found');
  const found = teachers.match(/\b(du|Du|dich|dir|dein|deine|deinen|deiner|Dein|Deine)\b/g);
  assert.equal(found, null, `help.html, teachers: ${found}`);
});
