// What the server tells a Call about the room and the people in it (docs/protocol.md,
// `joined`, `participant_*`, `settings_updated`, `host_info`, `lobby_updated`,
// `link_renewed`, `chat`, `speakers`): the Call's `you`, `room`, `settings`, `members`,
// `waiting`, `participantSecret`, `chat` and `speakers`, and the tiles that show them.
// Each function takes the Call, changes its state and tells the page with call.emit().

// The room keeps its latest 500 chat messages; so do we.
const CHAT_LIMIT = 500;

/** Takes the room as `joined` describes it (a first join, or again on a resume). */
export function applyRoomState(call, msg) {
  call.you = msg.you;
  // The room's lead (its creator; until she comes, the first with the host link): may
  // remove and demote other host-link holders and renew the host link.
  call.lead = msg.lead === true;
  call.room = msg.room || null;
  call.settings = msg.settings || {};
  call.spotlight = typeof msg.spotlight === 'string' ? msg.spotlight : null;
  call.chat = Array.isArray(msg.chat) ? msg.chat.slice(-CHAT_LIMIT) : [];
  const list = Array.isArray(msg.participants) ? msg.participants : [];
  const ids = new Set(list.map((p) => p.id));
  for (const id of [...call.members.keys()]) if (!ids.has(id)) handleLeft(call, id);
  for (const p of list) upsertMember(call, p);
}

/** Hosts get the participant link and the lobby from `joined`; others have neither. */
export function syncHostInfo(call, msg) {
  if (call.isHost) {
    handleHostInfo(call, msg);
  } else if (call.participantSecret || call.waiting.length) {
    call.waiting = [];
    call.participantSecret = null;
    call.emit('link', null);
    call.emit('waiting', { waiting: [], arrived: [] });
  }
}

function upsertMember(call, p) {
  call.members.set(p.id, p);
  call.grid.upsert(p);
}

export function handleParticipant(call, p) {
  if (!p || !p.id) return;
  if (call.you && p.id === call.you.id) {
    const wasHost = call.isHost;
    call.you = { ...call.you, ...p };
    call.agree(call.you);
    call.grid.setSelfState(call.you);
    if (wasHost && !call.isHost) syncHostInfo(call, {});
    call.emit('self', call.you);
    return;
  }
  const before = call.members.get(p.id);
  const up = (q) => Boolean(q) && q.hand !== null && q.hand !== undefined;
  upsertMember(call, p);
  if (up(p) !== up(before) && (before || up(p))) call.emit('hand', { participant: p, raised: up(p) });
  // Media for a participant can arrive before the message that announces them.
  call.grid.setTracks(call.remoteTracks);
  call.emit('members');
}

export function handleLeft(call, id) {
  const gone = call.members.get(id);
  if (!call.members.delete(id)) return;
  if (gone && gone.hand !== null && gone.hand !== undefined) call.emit('hand', { participant: gone, raised: false });
  call.grid.remove(id);
  call.emit('members');
}

export function handleSettings(call, settings) {
  call.settings = settings || {};
  call.emit('settings', call.settings);
}

export function handleHostInfo(call, msg) {
  // The room's creator came: a stand-in lead (the first with the host link) is one no longer.
  if (typeof msg.lead === 'boolean') call.lead = msg.lead;
  handleLink(call, msg.participant_secret);
  handleWaiting(call, msg.waiting || []);
}

/**
 * A `lobby_updated`: everyone waiting by id, names only for who arrived since the last one
 * (docs/protocol.md); the others' names we have from before.
 */
export function handleLobbyUpdate(call, msg) {
  const names = new Map(call.waiting.map((w) => [w.id, w.name]));
  for (const w of Array.isArray(msg.arrived) ? msg.arrived : []) names.set(w.id, w.name);
  const ids = Array.isArray(msg.waiting) ? msg.waiting : [];
  handleWaiting(call, ids.filter((id) => names.has(id)).map((id) => ({ id, name: names.get(id) })));
}

export function handleWaiting(call, waiting) {
  const before = new Set(call.waiting.map((w) => w.id));
  call.waiting = Array.isArray(waiting) ? waiting : [];
  const arrived = call.waiting.filter((w) => !before.has(w.id)).map((w) => w.id);
  call.emit('waiting', { waiting: call.waiting, arrived });
}

/** Our new host link (we are the lead and renewed it): rejoins and copies use it. */
export function handleHostLink(call, secret) {
  if (typeof secret !== 'string' || !secret) return;
  call.secret = secret;
  call.emit('hostLink', secret);
}

export function handleLink(call, secret) {
  if (typeof secret !== 'string') return;
  call.participantSecret = secret;
  call.emit('link', secret);
}

export function handleChat(call, message) {
  if (!message) return;
  call.chat.push(message);
  if (call.chat.length > CHAT_LIMIT) call.chat.shift();
  call.emit('chat', message);
}

export function handleSpeakers(call, msg) {
  call.speakers = {
    speaking: Array.isArray(msg.speaking) ? msg.speaking : [],
    dominant: msg.dominant ?? null,
  };
  call.grid.setSpeaking(call.speakers.speaking, call.you && call.you.id);
  call.emit('speakers', call.speakers);
}
