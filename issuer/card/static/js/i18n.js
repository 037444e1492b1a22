// What the card says, in the rider's language. The messages are English, marked with _() so
// that the catalogues in shared/locale carry their Vietnamese (the same catalogues as the
// pages); the page embeds the translations (#strings), so switching needs no network.
// Placeholders are {name}.

const HANOI = "Asia/Ho_Chi_Minh";
// A choice made while the issuer could not be told (offline): applied until it can.
const PENDING_KEY = "vexe-card-lang";
const LANGUAGES = ["vi", "en"];
const NAMES = { vi: "Tiếng Việt", en: "English" };

const TABLES = (() => {
  try {
    return JSON.parse(document.getElementById("strings")?.textContent || "{}");
  } catch (ignored) {
    return {};
  }
})();

function pending() {
  try {
    const chosen = localStorage.getItem(PENDING_KEY);
    return LANGUAGES.includes(chosen) ? chosen : null;
  } catch (ignored) {
    return null; // storage refused (private mode)
  }
}

// The page comes in the language the issuer chose for this browser (the vexe_lang cookie,
// else the browser's languages), as every other page does.
let lang = pending() ?? (document.documentElement.lang === "en" ? "en" : "vi");

export function current() {
  return lang;
}

export function other() {
  return lang === "vi" ? "en" : "vi";
}

export function nameOf(code) {
  return NAMES[code];
}

// Marks a message where it is written; _() says it where it is shown.
export const N_ = (text) => text;

// Why a pass was revoked and what to do, per reason code, in English (the issuer's list).
export function reasonWords(code) {
  return (TABLES.reasons && TABLES.reasons[code]) || null;
}

export function _(text, values = {}) {
  const template = (TABLES[lang] && TABLES[lang][text]) || text;
  return template.replace(/\{(\w+)\}/g, (whole, name) => String(values[name] ?? ""));
}

// The issuer remembers the choice (the same cookie as /lang/<code> on the other pages sets),
// and the worker's copy of the page is refreshed in it, for the card opened offline.
async function remember(code) {
  try {
    const answer = await fetch(`/lang/${code}?next=/card/time`, { credentials: "same-origin" });
    if (!answer.ok) return;
    try { localStorage.removeItem(PENDING_KEY); } catch (ignored) { /* nothing kept */ }
    await fetch("/card/", { credentials: "same-origin", cache: "no-store" });
  } catch (ignored) {
    // offline: kept on this phone until the issuer can be told
  }
}

export function toggle() {
  lang = other();
  try {
    localStorage.setItem(PENDING_KEY, lang);
  } catch (ignored) {
    // the choice is the issuer's cookie only
  }
  remember(lang);
  return lang;
}

// A choice made offline reaches the issuer once it answers.
export function settle() {
  if (pending()) remember(lang);
}

function parts(at, options) {
  const format = new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB",
                                         { timeZone: HANOI, ...options });
  return Object.fromEntries(format.formatToParts(new Date(at * 1000))
    .map((p) => [p.type, p.value]));
}

// A day, in Hanoi time: 02/12/2026, or 2 December 2026 (as shared/i18n.py writes them).
export function day(at) {
  if (lang === "vi") {
    const p = parts(at, { day: "2-digit", month: "2-digit", year: "numeric" });
    return `${p.day}/${p.month}/${p.year}`;
  }
  const p = parts(at, { day: "numeric", month: "long", year: "numeric" });
  return `${p.day} ${p.month} ${p.year}`;
}

// A moment, in Hanoi time: 20:25 ngày 02/12/2026, or 20:25, 2 December 2026.
export function moment(at) {
  const p = parts(at, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return lang === "vi" ? `${p.hour}:${p.minute} ngày ${day(at)}` : `${p.hour}:${p.minute}, ${day(at)}`;
}

// A month: tháng 12/2026, or December 2026.
export function month(at) {
  const p = parts(at, { month: "numeric", year: "numeric" });
  if (lang === "vi") return `tháng ${p.month}/${p.year}`;
  return `${parts(at, { month: "long" }).month} ${p.year}`;
}

// A month, short, for the pass chooser: 12/2026, or Dec 2026.
export function shortMonth(at) {
  const p = parts(at, { month: "numeric", year: "numeric" });
  if (lang === "vi") return `${p.month}/${p.year}`;
  return `${parts(at, { month: "short" }).month} ${p.year}`;
}

// How far a clock is off: seconds while that is what a rider can check against.
export function offBy(seconds) {
  const s = Math.round(Math.abs(seconds));
  return s < 120 ? _("{s} seconds", { s }) : duration(s);
}

export function duration(seconds) {
  const minutes = Math.max(0, Math.floor(seconds / 60));
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return _("{d} days {h} hours", { d, h });
  if (h > 0) return _("{h} hours {m} minutes", { h, m });
  return _("{m} minutes", { m });
}
