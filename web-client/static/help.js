// The help page (/help): both languages are in the HTML; this shows the one the
// browser prefers (the same rule as i18n.js) and lets the reader switch. Without
// script the English text shows.

import { lang } from './i18n.js';

function showLanguage(code) {
  document.documentElement.lang = code;
  document.getElementById('help-en').hidden = code !== 'en';
  document.getElementById('help-de').hidden = code !== 'de';
  document.title = code === 'de' ? 'Aula — Hilfe' : 'Aula — help';
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === code));
  }
}

for (const button of document.querySelectorAll('[data-lang]')) {
  button.addEventListener('click', () => showLanguage(button.dataset.lang));
}
showLanguage(lang);
