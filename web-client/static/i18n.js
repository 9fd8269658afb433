// Every user-visible string of the web client, in English and German.
//
// The language comes from the browser (navigator.languages): anything starting with
// "de" gets German, everything else English. There is no switcher on purpose: school
// devices are set up in the pupils' language already.
//
// HTML marks translatable text with data-i18n="key" (text content),
// data-i18n-placeholder, data-i18n-title and data-i18n-aria-label; applyI18n() fills them.

const STRINGS = {
  en: {
    'app.name': 'Aula',
    'start.title': 'Aula — video lessons',
    'start.tagline': 'Video lessons for your class, on your school’s own server.',
    'start.roomTitle': 'Class title (optional)',
    'start.roomTitlePlaceholder': 'e.g. 7b Maths',
    'start.button': 'Start a class',
    'start.starting': 'Starting…',
    'start.failed': 'The class could not be started. Please try again.',
    'room.pageTitle': 'Aula — class',
    'prejoin.heading': 'Join the class',
    'prejoin.name': 'Your name',
    'prejoin.namePlaceholder': 'First name',
    'prejoin.join': 'Join',
    'prejoin.joining': 'Joining…',
    'prejoin.nameInvalid': 'Please enter a name of 1 to 40 characters.',
    'invite.label': 'Student link',
    'invite.hint': 'Send this link to your students.',
    'invite.copy': 'Copy',
    'invite.copied': 'Copied',
    'controls.micOff': 'Turn microphone off',
    'controls.micOn': 'Turn microphone on',
    'controls.camOff': 'Turn camera off',
    'controls.camOn': 'Turn camera on',
    'controls.leave': 'Leave',
    'tile.you': '{name} (you)',
    'tile.teacher': 'Teacher',
    'tile.muted': 'Microphone off',
    'tile.enableSound': 'Tap to turn on sound',
    'notice.noCamera': 'No camera available — you joined without video.',
    'notice.noMic': 'No microphone available — you joined without sound.',
    'notice.noMedia': 'Camera and microphone are not available — you can watch and listen only.',
    'notice.dismiss': 'Dismiss',
    'left.heading': 'You left the class',
    'left.rejoin': 'Rejoin',
    'lost.heading': 'Connection lost',
    'lost.text': 'The connection to the server was interrupted.',
    'fatal.heading': 'Cannot join',
    'fatal.tryAgain': 'Try again',
    'people.count': '{n} in class',
    'error.unknown_room': 'This class has ended or the link is wrong.',
    'error.bad_secret': 'This link is not valid for this class. Please ask your teacher for the link again.',
    'error.no_secret': 'This link is incomplete. Please open the full link you were sent.',
    'error.room_full': 'This class is full.',
    'error.server_busy': 'The server is busy right now. Please try again in a moment.',
    'error.unsupported_version': 'This page is out of date. Please reload it.',
    'error.bad_name': 'Please enter a name of 1 to 40 characters.',
    'error.too_many_tracks': 'Too many cameras or microphones for this class.',
    'error.bad_sdp': 'The video connection could not be set up.',
    'error.media': 'The video connection could not be set up.',
    'error.connect': 'The server cannot be reached. Please check your connection.',
    'error.generic': 'Something went wrong: {message}',
  },
  de: {
    'app.name': 'Aula',
    'start.title': 'Aula — Videounterricht',
    'start.tagline': 'Videounterricht für deine Klasse, auf dem eigenen Server der Schule.',
    'start.roomTitle': 'Titel der Stunde (optional)',
    'start.roomTitlePlaceholder': 'z. B. 7b Mathe',
    'start.button': 'Unterricht starten',
    'start.starting': 'Wird gestartet…',
    'start.failed': 'Der Unterricht konnte nicht gestartet werden. Bitte versuche es noch einmal.',
    'room.pageTitle': 'Aula — Unterricht',
    'prejoin.heading': 'Dem Unterricht beitreten',
    'prejoin.name': 'Dein Name',
    'prejoin.namePlaceholder': 'Vorname',
    'prejoin.join': 'Beitreten',
    'prejoin.joining': 'Wird verbunden…',
    'prejoin.nameInvalid': 'Bitte gib einen Namen mit 1 bis 40 Zeichen ein.',
    'invite.label': 'Link für Schüler:innen',
    'invite.hint': 'Schicke diesen Link an deine Klasse.',
    'invite.copy': 'Kopieren',
    'invite.copied': 'Kopiert',
    'controls.micOff': 'Mikrofon ausschalten',
    'controls.micOn': 'Mikrofon einschalten',
    'controls.camOff': 'Kamera ausschalten',
    'controls.camOn': 'Kamera einschalten',
    'controls.leave': 'Verlassen',
    'tile.you': '{name} (du)',
    'tile.teacher': 'Lehrkraft',
    'tile.muted': 'Mikrofon aus',
    'tile.enableSound': 'Tippen, um den Ton einzuschalten',
    'notice.noCamera': 'Keine Kamera verfügbar — du bist ohne Bild beigetreten.',
    'notice.noMic': 'Kein Mikrofon verfügbar — du bist ohne Ton beigetreten.',
    'notice.noMedia': 'Kamera und Mikrofon sind nicht verfügbar — du kannst nur zusehen und zuhören.',
    'notice.dismiss': 'Schließen',
    'left.heading': 'Du hast den Unterricht verlassen',
    'left.rejoin': 'Wieder beitreten',
    'lost.heading': 'Verbindung unterbrochen',
    'lost.text': 'Die Verbindung zum Server wurde unterbrochen.',
    'fatal.heading': 'Beitritt nicht möglich',
    'fatal.tryAgain': 'Noch einmal versuchen',
    'people.count': '{n} im Unterricht',
    'error.unknown_room': 'Dieser Unterricht ist beendet oder der Link ist falsch.',
    'error.bad_secret': 'Dieser Link gilt nicht für diesen Unterricht. Bitte frage deine Lehrkraft noch einmal nach dem Link.',
    'error.no_secret': 'Dieser Link ist unvollständig. Bitte öffne den ganzen Link, den du bekommen hast.',
    'error.room_full': 'Dieser Unterricht ist voll.',
    'error.server_busy': 'Der Server ist gerade ausgelastet. Bitte versuche es gleich noch einmal.',
    'error.unsupported_version': 'Diese Seite ist veraltet. Bitte lade sie neu.',
    'error.bad_name': 'Bitte gib einen Namen mit 1 bis 40 Zeichen ein.',
    'error.too_many_tracks': 'Zu viele Kameras oder Mikrofone für diesen Unterricht.',
    'error.bad_sdp': 'Die Videoverbindung konnte nicht aufgebaut werden.',
    'error.media': 'Die Videoverbindung konnte nicht aufgebaut werden.',
    'error.connect': 'Der Server ist nicht erreichbar. Bitte prüfe deine Verbindung.',
    'error.generic': 'Etwas ist schiefgegangen: {message}',
  },
};

/** 'de' or 'en', from the browser's preferred languages (first entry wins). */
export function pickLanguage(languages) {
  const first = (languages && languages[0]) || '';
  return first.toLowerCase().startsWith('de') ? 'de' : 'en';
}

export const lang = pickLanguage(
  navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language],
);

/** The string for `key`, with {placeholders} replaced from `params`. */
export function t(key, params = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

/** Friendly text for a server error code; unknown codes show the server's own message. */
export function errorText(code, message) {
  const key = `error.${code}`;
  if (STRINGS.en[key]) return t(key);
  return t('error.generic', { message: message || code });
}

/** Fills every data-i18n* attribute below `root` and sets <html lang>. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const attrs = { i18nPlaceholder: 'placeholder', i18nTitle: 'title', i18nAriaLabel: 'aria-label' };
  for (const [data, attr] of Object.entries(attrs)) {
    const sel = `[data-${data.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}]`;
    for (const el of root.querySelectorAll(sel)) el.setAttribute(attr, t(el.dataset[data]));
  }
}
