// What the publish connection encodes for each source (docs/protocol.md, `publish`,
// "Simulcast"): the camera as three simulcast layers, so that the SFU can send each
// subscriber the one that fits the size its page shows the picture at (`view`); the
// microphone and the screen as one encoding each.
//
// The camera's layers, smallest first, as the protocol names them. The camera is captured at
// 1280×720 where it has that (media.js); each layer is that scaled down by a power of two.
// The bitrate caps are below what Chromium takes by itself for these sizes (about 0.2, 0.7
// and 2.5 Mbit/s in libwebrtc's simulcast table), because the uplink of a teacher at home
// or of a school with thirty pupils on camera is the scarce thing, not the picture:
// - q, 320×180 at up to 150 kbit/s: a tile in the strip or in a class's gallery, the size
//   most pictures are shown at; 150 kbit/s is the budget for a student's camera.
// - h, 640×360 at up to 450 kbit/s: a gallery tile of a small group, a phone's stage.
// - f, 1280×720 at up to 1.2 Mbit/s: the stage on a laptop or a projector.
// All three together (1.8 Mbit/s) take less than Chromium's default for the 720p layer alone.
// A browser that cannot simulcast (or a camera too small for it) sends fewer layers; the
// layers we announce come from what the sender really has (layersOf), never from this list.
//
// The screen share is one layer at the size captured, not two. That is reasoned, not
// measured: a share is nearly always shown large (the stage of the lecture view, a double
// tile in the gallery), so a smaller second layer would rarely be the one chosen; slides
// are text, which a smaller layer blurs; and it would be a fourth encoder on the teacher's
// laptop beside the camera's three.
//
// The server switches off an encoding nobody takes, and on again when somebody needs it
// (protocol.md, `encodings`): setActive() applies what it said to a sender.

export const CAMERA_LAYERS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 450_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];

/** The size the camera is asked for (an ideal: a camera without it gives what it has). */
export const CAMERA_CAPTURE = { width: { ideal: 1280 }, height: { ideal: 720 } };

/** The sendEncodings for a new transceiver of `source`, or undefined for one encoding. */
export function sendEncodings(source) {
  return source === 'camera' ? CAMERA_LAYERS.map((layer) => ({ ...layer })) : undefined;
}

/**
 * The `layers` of a simulcast m-line for `publish`, smallest first: each encoding the
 * sender has, with the size it encodes `track` at. Null without simulcast (one encoding,
 * or none with a rid). The sizes come from the track's capture size, so a camera that
 * gives 640×480 announces 160×120, 320×240 and 640×480.
 */
export function layersOf(sender, track) {
  const params = sender.getParameters();
  const encodings = (params.encodings || []).filter((e) => typeof e.rid === 'string' && e.rid);
  if (encodings.length < 2) return null;
  const settings = track && track.getSettings ? track.getSettings() : {};
  const width = settings.width || 1280;
  const height = settings.height || 720;
  return encodings
    .map((e) => ({ rid: e.rid, scale: Math.max(1, e.scaleResolutionDownBy || 1) }))
    .sort((a, b) => b.scale - a.scale)
    .map(({ rid, scale }) => ({
      rid,
      width: Math.max(1, Math.round(width / scale)),
      height: Math.max(1, Math.round(height / scale)),
    }));
}

/** The key of an encoding in `encodings`: its rid, '' for the one encoding of a sender without rids. */
function ridOf(encoding) {
  return encoding.rid || '';
}

/**
 * Caps the one encoding of a screen share's `sender` at `maxBitrate` bit/s (null: no cap),
 * from the server's `screen_bitrate`: a subscriber cannot take the share whole. Screen
 * content (contentHint 'detail', media.js) keeps its resolution and loses frame rate; the
 * degradation preference says so to every browser. Returns whether the parameters changed.
 * The caller serializes calls for one sender, as for setActive.
 */
export async function setMaxBitrate(sender, maxBitrate) {
  const params = sender.getParameters();
  const encoding = (params.encodings || [])[0];
  if (!encoding) return false;
  const want = Number.isFinite(maxBitrate) && maxBitrate > 0 ? Math.round(maxBitrate) : undefined;
  if (encoding.maxBitrate === want && params.degradationPreference === 'maintain-resolution') return false;
  if (want === undefined) delete encoding.maxBitrate;
  else encoding.maxBitrate = want;
  params.degradationPreference = 'maintain-resolution';
  await sender.setParameters(params);
  return true;
}

/**
 * Caps the lowest encoding of a camera's `sender` (the one scaled down most) at `maxBitrate`
 * bit/s, from the server's `camera_bitrate`: a subscriber on a thin link cannot take even
 * that layer whole, and the teacher's picture capped beats the teacher's picture paused. Never
 * above the layer's own cap in CAMERA_LAYERS; null gives that back. Size and degradation
 * preference stay the browser's. Without simulcast nothing is capped: everyone takes the one
 * encoding (the server does not ask). Returns whether the parameters changed. The caller
 * serializes calls for one sender, as for setActive.
 */
export async function setLowestMaxBitrate(sender, maxBitrate) {
  const params = sender.getParameters();
  const encodings = params.encodings || [];
  if (encodings.length < 2) return false;
  const scale = (e) => e.scaleResolutionDownBy || 1;
  const lowest = encodings.reduce((a, b) => (scale(b) > scale(a) ? b : a));
  const layer = CAMERA_LAYERS.find((l) => l.rid === lowest.rid);
  const own = layer ? layer.maxBitrate : undefined;
  const asked = Number.isFinite(maxBitrate) && maxBitrate > 0 ? Math.round(maxBitrate) : undefined;
  const want = asked === undefined ? own : Math.min(asked, own ?? asked);
  if (lowest.maxBitrate === want) return false;
  if (want === undefined) delete lowest.maxBitrate;
  else lowest.maxBitrate = want;
  await sender.setParameters(params);
  return true;
}

/**
 * Sets `active` on each of `sender`'s encodings as `wanted` says (rid -> boolean, from the
 * server's `encodings`; null: all on, as every new track starts). An encoding `wanted` does
 * not name keeps its state; a rid the sender does not have is ignored. Returns whether the
 * sender's parameters changed. The caller serializes calls for one sender: a getParameters
 * and its setParameters must not interleave with another pair.
 */
export async function setActive(sender, wanted) {
  const params = sender.getParameters();
  const encodings = params.encodings || [];
  let changed = false;
  for (const encoding of encodings) {
    const active = wanted ? wanted.get(ridOf(encoding)) : true;
    if (active === undefined || encoding.active === active) continue;
    encoding.active = active;
    changed = true;
  }
  if (changed) await sender.setParameters(params);
  return changed;
}
