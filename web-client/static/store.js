// What the browser remembers between visits, in localStorage: the last display name,
// to prefill the join form. (Nothing about rooms: the teacher's page gets the student
// link from the server in `joined`, on whatever device the teacher joins from.)
//
// localStorage can throw (Safari private mode, storage disabled by policy); then the
// client simply forgets, it never fails because of it.

const NAME_KEY = 'aula.name';

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
