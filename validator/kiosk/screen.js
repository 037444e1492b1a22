"use strict";
// The passenger screen. What it shows comes from the validator's /kiosk/events stream; the
// clock is this device's own, shown in Hanoi time. No library: the page must load from the
// validator alone, with no network.

const SHOWN_FOR_MS = 4000; // a decision stays this long (the validator says the same)
const FRESH_FOR_MS = 1500; // a decision older than this on arrival gets no sound
const LOST_AFTER_MS = 3000; // the stream has been down this long: say so
const TIME_ZONE = "Asia/Ho_Chi_Minh";

const $ = (id) => document.getElementById(id);
const sounds = {
  accept: new Audio("/kiosk/sounds/accept.wav"),
  refuse: new Audio("/kiosk/sounds/refuse.wav"),
};
Object.values(sounds).forEach((audio) => { audio.preload = "auto"; });

let shownScan = null; // the number of the scan on the panel (or last heard)
let hideTimer = null;
let lostTimer = null;
let current = null; // the last state from the validator
const storageFull = { vi: $("storage-vi").textContent, en: $("storage-en").textContent };

const fmt = (locale, options) => new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, ...options });
const clockFormat = fmt("vi-VN", { hour: "2-digit", minute: "2-digit", hour12: false });
const dateVi = fmt("vi-VN", { weekday: "long", day: "numeric", month: "numeric", year: "numeric" });
const dateEn = fmt("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric" });

function tick() {
  const now = new Date();
  $("clock").textContent = clockFormat.format(now);
  $("date-vi").textContent = dateVi.format(now);
  $("date-en").textContent = dateEn.format(now);
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
  $("message-vi").textContent = scan.message.vi;
  $("message-en").textContent = scan.message.en;
  $("product-vi").textContent = scan.product_label ? scan.product_label.vi : "";
  $("product-en").textContent = scan.product_label ? scan.product_label.en : "";
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
    const text = current.storage === "full" || !current.storage_message ? storageFull : current.storage_message;
    $("storage-vi").textContent = text.vi;
    $("storage-en").textContent = text.en;
  }
  $("storage").hidden = !full;
  setState(full ? "storage" : "idle");
}

function render(s) {
  current = s;
  const alighting = s.mode === "alight";
  document.body.dataset.mode = s.mode;
  $("route-vi").textContent = s.route;
  $("route-en").textContent = s.route;
  $("mode-vi").textContent = alighting ? "XUỐNG XE" : "LÊN XE";
  $("mode-en").textContent = alighting ? "Alighting" : "Boarding";
  $("prompt-vi").textContent = alighting ? "Mời quét mã QR khi xuống xe" : "Mời quét mã QR trên ứng dụng";
  $("prompt-en").textContent = alighting ? "Please scan your QR code as you get off" : "Please scan the QR code in the app";
  $("stop").textContent = s.stop ? `Điểm dừng ${s.stop} · Stop ${s.stop}` : "";
  $("device").textContent = `${s.vehicle} · ${s.validator}`;

  const trips = `${s.backlog} trip${s.backlog === 1 ? "" : "s"}`;
  const status = $("status");
  status.className = "status " + (s.online ? "online" : "offline");
  if (s.backlog === null) { // a journal too damaged to count in
    $("net-vi").textContent = s.online ? "Trực tuyến" : "Ngoại tuyến";
    $("net-en").textContent = s.online ? "Online" : "Offline";
  } else if (s.online) {
    $("net-vi").textContent = s.backlog ? `Trực tuyến · đang gửi ${s.backlog} lượt` : "Trực tuyến";
    $("net-en").textContent = s.backlog ? `Online · sending ${trips}` : "Online";
  } else {
    $("net-vi").textContent = `Ngoại tuyến · ${s.backlog} lượt chờ đồng bộ`;
    $("net-en").textContent = `Offline · ${trips} waiting to sync`;
  }
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
