// The page for an address Aula does not have: what went wrong, in the reader's language, and
// the way to the start page.

import { applyI18n } from './i18n.js';

applyI18n();
