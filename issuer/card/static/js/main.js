// The rider's card: keeps this phone's key and credential per pass, signs a proof every
// rotation period and draws the QR, with or without the network.

import * as api from "./api.js";
import { decide, SHOW } from "./card_state.js";
import * as view from "./card_view.js";
import * as deviceKey from "./device_key.js";
import { draw } from "./draw_qr.js";
import * as i18n from "./i18n.js";
import * as nextMonth from "./next_month.js";
import * as renewal from "./renewal.js";
import { credentialClaims, fromBase64url, proofMessage, qrText } from "./qr_text.js";
import * as store from "./store.js";

const settings = document.body.dataset;
const ROTATION = Number(settings.rotation);
const FRESHNESS = Number(settings.freshness);
const REFRESH_AFTER = Number(settings.refreshAfter);
const SYNC_EVERY = 60000; // ms: how soon an open card hears of a revocation or a new phone
const FORGET_AFTER = 31 * 86400; // a pass over for longer leaves the card's list
const SELECTED_KEY = "vexe-card-pass";
const HOTLINE = settings.hotline ?? "";
const { _ } = i18n;

const app = {
  snapshot: null, // {account, passes, routes, categories, fetched_at}: the last one online
  devices: new Map(), // pass id -> this phone's record for it
  online: navigator.onLine,
  signedIn: null, // unknown until the issuer answers
  clockOffset: null, // issuer minus phone, seconds; measured online only
  custodial: !deviceKey.supported(),
  selected: null,
  busy: false,
  message: null,
  error: null,
  syncing: null,
  shownKey: null, // what the screen was last built for
  shownT: null, // the proof time of the QR on the screen
  said: null, // what the screen reader was last told
};

const nowSeconds = () => Date.now() / 1000;

// The rider's passes, those that ride today first, then those still to come, then the rest.
function passes() {
  if (!app.snapshot) return [];
  const now = nowSeconds() + (app.clockOffset ?? 0);
  const rank = (p) => {
    if (p.status !== "active" || p.valid_until <= now) return 2;
    return p.valid_from > now ? 1 : 0;
  };
  return app.snapshot.passes.filter((p) => p.valid_until > now - FORGET_AFTER)
    .map((p, index) => ({ p, index }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.index - b.index)
    .map(({ p }) => p);
}

function storedChoice() {
  try {
    return localStorage.getItem(SELECTED_KEY);
  } catch (ignored) {
    return null; // storage refused: the default choice below
  }
}

// The pass picked on this page, else the one in the address (?pass=), else the last picked.
function choosePass(list) {
  for (const wanted of [app.selected, new URLSearchParams(location.search).get("pass"),
                        storedChoice()]) {
    const found = list.find((p) => p.id === wanted);
    if (found) return nextMonth.following(found, list, nowSeconds());
  }
  // Otherwise the pass this phone rides with, else any still running.
  const now = nowSeconds();
  const running = list.filter((p) => p.status === "active" && p.valid_until > now);
  return running.find((p) => app.devices.has(p.id)) ?? running[0] ?? list[0];
}

function stateOf(pass) {
  return decide({
    pass, device: app.devices.get(pass.id) ?? null, custodial: app.custodial,
    online: app.online, clockOffset: app.clockOffset, freshness: FRESHNESS, now: nowSeconds(),
  });
}

// -- the screen --------------------------------------------------------------------------

const handlers = {
  activate: (pass) => activate(pass),
  select: (passId) => {
    app.selected = passId;
    try { localStorage.setItem(SELECTED_KEY, passId); } catch (ignored) { /* this page only */ }
    redraw();
  },
  checkClock: () => sync({ renew: true }),
};

function redraw() {
  app.shownKey = null;
  tick();
}

function tick() {
  const list = passes();
  const pass = app.snapshot ? choosePass(list) : null;
  const state = pass ? stateOf(pass) : null;
  const reminder = pass ? renewal.reminder(pass, list, app.devices, nowSeconds() + (app.clockOffset ?? 0)) : null;
  const key = JSON.stringify([i18n.current(), app.online, app.signedIn, app.busy, app.message,
                              app.error, pass, state && { ...state, until: undefined },
                              list.map((p) => p.id), app.snapshot?.account, reminder]);
  if (key !== app.shownKey) {
    app.shownKey = key;
    app.shownT = null;
    build(pass, state, list, reminder);
  }
  // Said aloud when what the card means changes, not at every rebuild or rotation.
  const said = state && `${pass.id} ${state.kind} ${app.online} ${reminder?.kind}`;
  if (said && said !== app.said) {
    app.said = said;
    view.announce([view.stateTitle(state), app.online ? "" : _("No internet"),
                   view.reminderText(reminder)].filter(Boolean).join(". "));
  }
  if (state && (state.kind === SHOW || state.kind === "custodial")) rotate(pass, state);
}

function build(pass, state, list, reminder) {
  view.chrome({ online: app.online });
  if (app.signedIn === false && !app.snapshot) return view.signIn();
  if (!app.snapshot) {
    if (app.error) return view.failed(app.error, () => sync());
    if (!app.online && app.signedIn === null) return view.failed(_("No internet"), () => sync());
    return view.loading();
  }
  if (!pass) return view.noPasses();
  return view.card({ snapshot: app.snapshot, pass, state, passes: list, handlers,
                     busy: app.busy, message: app.message, online: app.online, hotline: HOTLINE,
                     now: nowSeconds() + (app.clockOffset ?? 0), reminder });
}

function rotate(pass, state) {
  // The proof time is the issuer's time where the page has measured it: a phone a little
  // slow would otherwise show, late in each period, a proof older than validators accept
  // (one period plus the offset). Beyond the freshness window the card warns instead.
  const now = nowSeconds() + (app.clockOffset ?? 0);
  // Periods start on multiples of the rotation: a QR is never older than one period.
  const t = Math.floor(now / ROTATION) * ROTATION;
  view.countdown(Math.max(1, Math.ceil(t + ROTATION - now)));
  if (state.kind === SHOW) view.offlineUntil(state.until, now);
  // Online and not yet measured, the issuer's time is a moment away: a proof timed by this
  // phone's own clock could be a period off the issuer's, and older than validators accept.
  if (state.kind === SHOW && app.clockOffset === null && app.syncing) return;
  if (t === app.shownT) return;
  app.shownT = t;
  const made = state.kind === SHOW ? signedQr(app.devices.get(pass.id), t) : issuerQr(pass);
  made.then((text) => {
    if (app.shownT === t && text) draw(view.qrSvg(), text);
  }).catch((error) => {
    // Never leave the last period's QR up: a blank one is honest, an old one is refused.
    if (app.shownT === t) view.qrSvg()?.replaceChildren();
    if (error instanceof api.Offline) {
      app.online = false;
      redraw();
    }
  });
}

async function signedQr(record, t) {
  const signature = await deviceKey.sign(record.keys.privateKey, proofMessage(t, record.jti));
  return qrText(record.head, t, signature);
}

// A phone that can't keep a key shows the QR the issuer makes for it, at the issuer's time.
function issuerQr(pass) {
  return api.getText(`/api/passes/${encodeURIComponent(pass.id)}/qr?format=text`);
}

// -- the issuer --------------------------------------------------------------------------

async function sync({ renew = false } = {}) {
  if (app.syncing) return app.syncing;
  app.syncing = (async () => {
    try {
      const [account, mine, catalogue] = await Promise.all([
        api.getJson("/api/me"), api.getJson("/api/me/passes"), api.getJson("/api/catalogue")]);
      app.online = true;
      app.signedIn = true;
      app.error = null;
      app.snapshot = { account, passes: mine.passes, routes: catalogue.routes,
                       categories: catalogue.categories, fetched_at: nowSeconds() };
      if (store.available()) await store.snapshot.put(app.snapshot);
      app.clockOffset = await api.clockOffset("/card/time");
      for (const pass of app.snapshot.passes) {
        const record = app.devices.get(pass.id);
        if (record) await renewCredential(pass, record, renew);
      }
      await nextMonth.adopt(app.snapshot.passes, app.devices,
                            (pass, record) => renewCredential(pass, record, true));
    } catch (error) {
      if (error instanceof api.Offline) {
        app.online = false;
      } else if (error instanceof api.Refused && error.status === 401) {
        // Signed out (or the session ended): the card is the issuer's to show again only
        // after sign-in; this phone's keys stay for the rider who comes back.
        app.online = true;
        app.signedIn = false;
        app.snapshot = null;
        if (store.available()) await store.snapshot.clear();
      } else {
        app.online = true;
        app.error = error.message;
      }
    } finally {
      app.syncing = null;
      redraw();
    }
  })();
  return app.syncing;
}

// A new credential, quietly, when the one held is getting old (or on coming back online).
async function renewCredential(pass, record, force) {
  if (pass.status !== "active" || !pass.device || pass.device.key !== record.device_key) return;
  const now = nowSeconds();
  if (pass.valid_until <= now) return;
  if (!force && now - record.nbf < REFRESH_AFTER && now < record.expires) return;
  try {
    const issued = await api.postJson(`/api/passes/${encodeURIComponent(pass.id)}/credential`);
    if (issued.device_key !== record.device_key) {
      // The pass moved to another phone in between: that phone's credential is no use here.
      pass.device = { key: issued.device_key, custodial: issued.custodial };
      return;
    }
    await keepCredential(record, issued);
    await nextMonth.carried(record, issued, keepCredential);
  } catch (error) {
    if (error instanceof api.Offline) app.online = false;
    // A refusal (revoked, ended) shows on the card from the pass itself at the next sync.
  }
}

async function keepCredential(record, issued) {
  const claims = credentialClaims(issued.credential);
  Object.assign(record, {
    credential: issued.credential, head: fromBase64url(issued.qr_body_head), jti: claims.jti,
    nbf: claims.nbf, expires: issued.expires,
  });
  await store.devices.put(record);
  app.devices.set(record.pass_id, record);
}

function deviceLabel() {
  const ua = navigator.userAgent;
  const system = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"].find((s) => ua.includes(s));
  const name = system ?? _("Phone");
  return `${name} · ${i18n.day(nowSeconds())}`;
}

async function activate(pass) {
  app.busy = true;
  app.message = null;
  redraw();
  try {
    if (!app.custodial) {
      let pair = null;
      try {
        pair = await deviceKey.create();
      } catch (ignored) {
        app.custodial = true; // a browser without P-256: the issuer's QR, as for no WebCrypto
      }
      if (pair) {
        const issued = await api.postJson(`/api/passes/${encodeURIComponent(pass.id)}/device`, {
          public_key: await deviceKey.publicPoint(pair), label: deviceLabel() });
        await keepCredential({ pass_id: pass.id, account_id: app.snapshot.account.id,
                               keys: pair, device_key: issued.device_key }, issued);
      }
    }
    if (app.custodial) {
      await api.postJson(`/api/passes/${encodeURIComponent(pass.id)}/custodial`);
    }
  } catch (error) {
    app.message = error instanceof api.Offline
      ? _("Activating needs the internet. Turn on Wi-Fi or mobile data.")
      : _("Not activated: {reason}. Please try again.", { reason: error.message });
  } finally {
    app.busy = false;
  }
  await sync();
}

// -- start -------------------------------------------------------------------------------

async function start() {
  // The switch is a link to /lang/<code> (it works with JavaScript off); here it switches
  // in place, the issuer is told, and the screen reader hears the card again in the new
  // language.
  document.getElementById("lang")?.addEventListener("click", (event) => {
    event.preventDefault();
    i18n.toggle();
    app.said = null;
    redraw();
  });
  i18n.settle();
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/card/sw.js", { scope: "/card/" }).catch(() => {
      // The card still works while the page is open; it just won't open offline.
    });
  }
  if (store.available()) {
    try {
      app.snapshot = (await store.snapshot.get()) ?? null;
      for (const record of await store.devices.all()) app.devices.set(record.pass_id, record);
    } catch (ignored) {
      // storage refused: the card works online, as a phone without a key does
      app.custodial = true;
    }
  }
  // Asked before the first drawing, so that the card waits the moment it takes for the
  // issuer's time instead of drawing a QR on this phone's own clock (rotate).
  const first = sync();
  redraw();
  window.addEventListener("online", () => sync({ renew: true }));
  window.addEventListener("offline", () => {
    app.online = false;
    redraw();
  });
  setInterval(tick, 250);
  setInterval(() => {
    if (document.visibilityState === "visible") sync();
  }, SYNC_EVERY);
  await first;
}

start();
