// What the browser remembers between visits, in localStorage.
//
// - the last display name, to prefill the join form;
// - for rooms started in this browser, the student link. The server hands the student
//   link out only once, in the `POST /api/rooms` answer, and the teacher's room page
//   needs it later to show it. Only the newest MAX_ROOMS rooms are kept.
//
// localStorage can throw (Safari private mode, storage disabled by policy); then the
// client simply forgets, it never fails because of it.

const NAME_KEY = 'aula.name';
const ROOMS_KEY = 'aula.rooms';
const MAX_ROOMS = 20;

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

function rooms() {
  try {
    const list = JSON.parse(read(ROOMS_KEY) || '[]');
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** Remembers a room this browser created: `room` is the `POST /api/rooms` answer. */
export function rememberRoom(room) {
  const entry = { id: room.id, title: room.title || '', student_url: room.student_url };
  const others = rooms().filter((r) => r.id !== room.id);
  write(ROOMS_KEY, JSON.stringify([entry, ...others].slice(0, MAX_ROOMS)));
}

/** The remembered entry for room `id`, or null. */
export function recallRoom(id) {
  return rooms().find((r) => r.id === id) || null;
}
