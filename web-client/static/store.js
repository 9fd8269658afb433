// What the browser remembers between visits, in localStorage: the last display name,
// to prefill the join form, and per room the `session` the server gave in `joined` or
// `lobby` (docs/protocol.md, `join`), so a reload does not put a student back in the
// waiting room. Nothing else about rooms: the host's page gets the participant link
// from the server in `joined`, on whatever device the host joins from.
//
// localStorage can throw (Safari private mode, storage disabled by policy); then the
// client simply forgets, it never fails because of it.

const NAME_KEY = 'aula.name';
const SESSION_PREFIX = 'aula.session.';

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, value);
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

/** The session the server gave us in room `roomId`, or undefined. */
export function sessionFor(roomId) {
  return read(SESSION_PREFIX + roomId) || undefined;
}

export function rememberSession(roomId, session) {
  if (typeof session === 'string' && session) write(SESSION_PREFIX + roomId, session);
}
