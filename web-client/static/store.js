// What the browser remembers between visits, in localStorage: the last display name, to
// prefill the join form, and per room the `creator_key` of a room this browser created
// (docs/protocol.md, `POST /api/rooms`), so the teacher who closes her tab and opens the host
// link again is still the room's lead; for CREATOR_TTL_MS. Nothing else about rooms: the
// host's page gets the participant link from the server in `joined`, on whatever device the
// host joins from.
//
// Per tab, in sessionStorage: the `session` the server gave in `joined` or `lobby`
// (docs/protocol.md, `join`), so a reload does not put a student back in the waiting room.
// A session lets its holder past the waiting room and the lock, and a school's lab PC has a
// new pupil every lesson: so it lives only as long as the tab (and a closed tab that the
// browser reopens, storage and all, does not get it back: keepTabStateOnlyOnReload), is
// forgotten when its holder leaves on purpose (the Leave button), and after SESSION_TTL_MS
// (a double lesson and a break) whatever happened.
//
// Per tab, in sessionStorage: the `resume` token of the latest `joined` in each room
// (docs/protocol.md, `resume`). sessionStorage, not localStorage, because the token is
// one seat in one tab: a reload of this tab takes the seat back, a second tab (or the
// same link tomorrow) joins as it always did. It is a secret: never logged.
//
// Per tab, in sessionStorage too: the room link's secret. The page takes it out of the
// address bar as soon as it has read it (a student could read a teacher's host link off a
// shared screen, and the address bar feeds the browser's history and its suggestions); a
// reload of the tab finds it here.
//
// Storage can throw (Safari private mode, storage disabled by policy); then the
// client simply forgets, it never fails because of it.

const NAME_KEY = 'aula.name';
const SESSION_PREFIX = 'aula.session.';
const SESSION_TTL_MS = 3 * 60 * 60 * 1000;
const CREATOR_PREFIX = 'aula.creator.';
// A school day: a room lives while someone is in it, and a class is not planned days ahead.
const CREATOR_TTL_MS = 12 * 60 * 60 * 1000;

const RESUME_PREFIX = 'aula.resume.';
// When the page last unloaded in a room (a reload: it joins again by itself if its seat is gone).
const UNLOADED_PREFIX = 'aula.unloaded.';
const SECRET_PREFIX = 'aula.secret.';

function read(key, storage = 'localStorage') {
  try {
    return window[storage].getItem(key);
  } catch {
    return null;
  }
}

function write(key, value, storage = 'localStorage') {
  try {
    if (value === null) window[storage].removeItem(key);
    else window[storage].setItem(key, value);
  } catch {
    // Storage unavailable: nothing to remember then.
  }
}

export function lastName() {
  return read(NAME_KEY) || '';
}

export function rememberName(name) {
  write(NAME_KEY, name);
}

/** `value` stored under `key` with the time, or null; expired or unreadable ones are removed. */
function readDated(key, field, ttl, storage) {
  const raw = read(key, storage);
  if (!raw) return null;
  try {
    const stored = JSON.parse(raw);
    const value = stored[field];
    if (typeof value === 'string' && value && Date.now() - stored.at < ttl) return value;
  } catch {
    // Not ours, or from an older version: forgotten like an expired one.
  }
  write(key, null, storage);
  return null;
}

/** This tab's session in room `roomId` from the last SESSION_TTL_MS, or undefined. */
export function sessionFor(roomId) {
  return readDated(SESSION_PREFIX + roomId, 'session', SESSION_TTL_MS, 'sessionStorage') || undefined;
}

/** Remembers `session` for room `roomId` in this tab, from now (each `joined` renews it). */
export function rememberSession(roomId, session) {
  if (typeof session === 'string' && session) {
    write(SESSION_PREFIX + roomId, JSON.stringify({ session, at: Date.now() }), 'sessionStorage');
  }
}

/** After leaving on purpose: the next person at this computer starts as anyone would. */
export function forgetSession(roomId) {
  write(SESSION_PREFIX + roomId, null, 'sessionStorage');
}

/** The creator key of room `roomId` if this browser created it (within CREATOR_TTL_MS), or null. */
export function creatorKeyFor(roomId) {
  return readDated(CREATOR_PREFIX + roomId, 'key', CREATOR_TTL_MS, 'localStorage');
}

/** Remembers that this browser created room `roomId` (the start page, after POST /api/rooms). */
export function rememberCreatorKey(roomId, key) {
  // The keys of rooms long over go, so a lab PC does not collect them.
  for (const stored of keysWith(CREATOR_PREFIX, 'localStorage')) {
    creatorKeyFor(stored.slice(CREATOR_PREFIX.length));
  }
  if (typeof key === 'string' && key) write(CREATOR_PREFIX + roomId, JSON.stringify({ key, at: Date.now() }));
}

/** The keys in `storage` that start with `prefix`. */
function keysWith(prefix, storage) {
  try {
    const keys = [];
    for (let i = 0; i < window[storage].length; i += 1) keys.push(window[storage].key(i));
    return keys.filter((k) => k && k.startsWith(prefix));
  } catch {
    return [];
  }
}

/**
 * What this tab holds for room `roomId` (its session and resume token) is its own only after a
 * reload: a browser brings a closed tab's sessionStorage back with it (Ctrl+Shift+T, a
 * restored session), and at a lab PC that is the previous pupil's seat. So the page keeps it
 * only when it was reloaded within `withinMs` of leaving the room. Also drops the sessions an
 * older version kept in localStorage.
 */
export function keepTabStateOnlyOnReload(roomId, withinMs) {
  for (const key of keysWith(SESSION_PREFIX, 'localStorage')) write(key, null);
  const nav = performance.getEntriesByType ? performance.getEntriesByType('navigation')[0] : null;
  if (nav && nav.type === 'reload' && unloadedWithin(roomId, withinMs)) return;
  forgetSession(roomId);
  forgetResume(roomId);
}

/**
 * The secret of the link this tab opened room `roomId` with: from the address's fragment
 * (`#k=…`), which is then removed from the address bar, or from this tab's storage after a
 * reload. '' if there is none.
 */
export function linkSecret(roomId) {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('k');
  if (fromUrl) {
    write(SECRET_PREFIX + roomId, fromUrl, 'sessionStorage');
    history.replaceState(history.state, '', location.pathname + location.search);
    return fromUrl;
  }
  return read(SECRET_PREFIX + roomId, 'sessionStorage') || '';
}

/** After the lead renewed the host link: a reload of this tab uses the new one. */
export function rememberLinkSecret(roomId, secret) {
  write(SECRET_PREFIX + roomId, secret, 'sessionStorage');
}

/** This tab's resume token for room `roomId`, or undefined. */
export function resumeTokenFor(roomId) {
  return read(RESUME_PREFIX + roomId, 'sessionStorage') || undefined;
}

export function rememberResume(roomId, token) {
  if (typeof token === 'string' && token) write(RESUME_PREFIX + roomId, token, 'sessionStorage');
}

/** After leaving on purpose, or once the seat is gone: a reload then shows the join form. */
export function forgetResume(roomId) {
  write(RESUME_PREFIX + roomId, null, 'sessionStorage');
  write(UNLOADED_PREFIX + roomId, null, 'sessionStorage');
}

/** The page is closing or reloading while in room `roomId`: when, for the next page. */
export function rememberUnload(roomId) {
  write(UNLOADED_PREFIX + roomId, String(Date.now()), 'sessionStorage');
}

/** Whether this tab left room `roomId` by closing or reloading within the last `ms`. */
export function unloadedWithin(roomId, ms) {
  const at = Number(read(UNLOADED_PREFIX + roomId, 'sessionStorage'));
  return Number.isFinite(at) && at > 0 && Date.now() - at <= ms;
}
