"use strict";
// The passenger screen. What it shows comes from the validator's /kiosk/events stream; the
// clock is this device's own, shown in Hanoi time. No library: the page must load from the
// validator alone, with no network.
//
// Its words are English, marked with _() / N_() for the catalogues in shared/locale;
// the validator puts their translations and its languages (the [kiosk] languages setting:
// one, or two with the first large) into #strings.

const SHOWN_FOR_MS = 4000; // a decision stays this long (the validator says the same)
const FRESH_FOR_MS = 1500; // a decision older than this on arrival gets no sound
const LOST_AFTER_MS = 3000; // the stream has been down this long: say so
const TIME_ZONE = "Asia/Ho_Chi_Minh";
const LOCALES = { vi: "vi-VN", en: "en-GB" };

const N_ = (text) => text;
// The words of the page itself (its data-say attributes), marked here for the catalogues.
N_("Route");
N_("Boarding");
N_("Please scan the QR code in the app");
N_("Not accepting tickets");
N_("The validator's storage is full. Please tell the driver.");
N_("Validator not responding");
N_("Connecting…");
N_("Clock changed, not yet checked");

const $ = (id) => document.getElementById(id);
const { languages: LANGUAGES, tables: TABLES } = JSON.parse($("strings").textContent);
document.documentElement.lang = LANGUAGES[0];

// ``text`` in ``lang``, its {name} placeholders filled from ``values``.
function _(text, values = {}, lang = LANGUAGES[0]) {
  const template = (TABLES[lang] && TABLES[lang][text]) || text;
  return template.replace(/\{(\w+)\}/g, (whole, name) => String(values[name] ?? ""));
}

// The node says ``words(lang)`` in each of the screen's languages: the first as the node's
// own text, the second in a smaller line of its own, marked with its language.
function say(node, words) {
  const parts = LANGUAGES.map((lang, index) => {
    const span = document.createElement("span");
    span.className = index === 0 ? "l1" : "l2";
    span.lang = lang;
    span.textContent = words(lang);
    return span;
  }).filter((span) => span.textContent);
  node.replaceChildren(...parts);
}

const sayText = (node, text, values = {}) => say(node, (lang) => _(text, values, lang));
// A message the validator sent in every language: {"vi": ..., "en": ...}.
const sayEach = (node, message) => say(node, (lang) => (message ? message[lang] || "" : ""));

document.querySelectorAll("[data-say]").forEach((node) => sayText(node, node.dataset.say));
document.title = LANGUAGES.map((lang) => _("Validator", {}, lang)).join(" · ");

const sounds = {
  accept: new Audio("/kiosk/sounds/accept.wav"),
  refuse: new Audio("/kiosk/sounds/refuse.wav"),
};
Object.values(sounds).forEach((audio) => { audio.preload = "auto"; });

let shownScan = null; // the number of the scan on the panel (or last heard)
let hideTimer = null;
let lostTimer = null;
let current = null; // the last state from the validator

const fmt = (locale, options) => new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, ...options });
const clockFormat = fmt("vi-VN", { hour: "2-digit", minute: "2-digit", hour12: false });
const dateFormats = Object.fromEntries(LANGUAGES.map((lang) => [lang, fmt(LOCALES[lang] || lang, {
  weekday: "long", day: "numeric", month: lang === "vi" ? "numeric" : "long", year: "numeric" })]));

function tick() {
  const now = new Date();
  $("clock").textContent = clockFormat.format(now);
  say($("date"), (lang) => dateFormats[lang].format(now));
}

function setState(name) {
  document.body.className = "state-" + name;
}

function play(name) {
  const audio = sounds[name];
  document.body.dataset.lastSound = name;
  document.body.dataset.sounds = String(Number(document.body.dataset.sounds || 0) + 1);
  try {
    audio.currentTime = 0;
    const playing = audio.play();
    if (playing) playing.catch((err) => { document.body.dataset.soundError = err.name; });
  } catch (err) {
    document.body.dataset.soundError = err.name;
  }
}

function showScan(scan, ageMs) {
  const accepted = scan.decision === "accept";
  $("mark").textContent = accepted ? "✓" : "✕";
  sayEach($("message"), scan.message);
  sayEach($("product"), scan.product_label);
  $("panel").hidden = false;
  $("storage").hidden = true;
  setState(accepted ? "accept" : "refuse");
  document.body.dataset.scan = String(scan.n);
  if (ageMs < FRESH_FOR_MS) play(accepted ? "accept" : "refuse");
  clearTimeout(hideTimer);
  hideTimer = setTimeout(hideScan, Math.max(SHOWN_FOR_MS - ageMs, 1000));
}

function hideScan() {
  hideTimer = null;
  $("panel").hidden = true;
  renderIdle();
}

function renderIdle() {
  if (hideTimer) return; // a decision is on the screen
  const full = current && current.storage !== "ok";
  if (full) {
    // A full disk has its own words; anything else, the validator says what it is.
    if (current.storage === "full" || !current.storage_message) {
      sayText($("storage-why"), "The validator's storage is full. Please tell the driver.");
    } else {
      sayEach($("storage-why"), current.storage_message);
    }
  }
  $("storage").hidden = !full;
  setState(full ? "storage" : "idle");
}

function network(s) {
  const n = s.backlog;
  if (n === null) return s.online ? N_("Online") : N_("Offline"); // a journal too damaged to count in
  if (s.online) {
    if (!n) return N_("Online");
    return n === 1 ? N_("Online · sending 1 trip") : N_("Online · sending {n} trips");
  }
  return n === 1 ? N_("Offline · 1 trip waiting to sync") : N_("Offline · {n} trips waiting to sync");
}

function render(s) {
  current = s;
  const alighting = s.mode === "alight";
  document.body.dataset.mode = s.mode;
  $("route").textContent = s.route;
  sayText($("mode"), alighting ? N_("Alighting") : "Boarding");
  sayText($("prompt"), alighting ? N_("Please scan your QR code as you get off")
    : "Please scan the QR code in the app");
  if (s.stop) sayText($("stop"), N_("Stop {stop}"), { stop: s.stop });
  else $("stop").replaceChildren();
  $("device").textContent = `${s.vehicle} · ${s.validator}`;

  const status = $("status");
  status.className = "status " + (s.online ? "online" : "offline");
  sayText($("net"), network(s), { n: s.backlog });
  // The device clock was stepped and Redis has not yet confirmed the time.
  $("clock-state").hidden = s.clock !== "stepped";

  if (s.scan && s.scan.n !== shownScan) {
    shownScan = s.scan.n;
    showScan(s.scan, Math.max(0, s.now_ms - s.scan.at_ms));
  } else if (!s.scan && hideTimer) {
    clearTimeout(hideTimer);
    hideScan();
  } else {
    renderIdle();
  }
}

function connect() {
  const events = new EventSource("/kiosk/events");
  events.addEventListener("state", (event) => {
    clearTimeout(lostTimer);
    lostTimer = null;
    $("lost").hidden = true;
    delete document.body.dataset.lost;
    render(JSON.parse(event.data));
  });
  events.onerror = () => {
    // EventSource reconnects by itself; only a long silence is shown to riders.
    if (!lostTimer) {
      lostTimer = setTimeout(() => {
        $("lost").hidden = false;
        document.body.dataset.lost = "1";
      }, LOST_AFTER_MS);
    }
  };
}

tick();
setInterval(tick, 1000);
connect();
