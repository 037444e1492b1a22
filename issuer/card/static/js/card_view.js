// The card on the screen, built with DOM calls (no HTML strings, no inline script or style).
// The QR comes first: at the bus door it must be on the screen without scrolling, whatever
// the number of passes; the holder and the pass's facts follow it.

import * as i18n from "./i18n.js";

const { _, N_ } = i18n;
const SVG = "http://www.w3.org/2000/svg";
const PHOTO = "/api/me/photo";
const ACCOUNT = "/my/";
const BUY = "/my/buy";
const FREE = "/my/free";
const SIGNIN = "/signin?next=/card/";

const PRODUCTS = {
  single: N_("Monthly pass, one route"),
  multi: N_("Monthly pass, all routes"),
  free: N_("Free pass"),
};
// Short, for the pass chooser.
const PRODUCTS_SHORT = {
  single: N_("One route"),
  multi: N_("Multi-route"),
  free: N_("Free"),
};

// Why a pass was revoked and what to do, when the pass carries no reason code the page knows
// (the issuer's list, issuer/passes/revocation.py, comes with the page: i18n.reasonWords).
// Read from the recorded text: "cloned QR: alert 12", "refund: ...", a code; an operator's
// own sentence is shown as written.
const REVOKED_WHY = {
  fraud: N_("The pass's QR code was used on two phones at the same time. To protect you, the pass was stopped."),
  refund: N_("The pass was refunded."),
  mistake: N_("The pass was stopped by mistake. It can be restored."),
  lost: N_("The pass was stopped because it was reported lost."),
  other: N_("The bus operator stopped this pass."),
};
const REVOKED_WHAT = {
  fraud: N_("Bring your citizen ID card to a ticket counter: a clerk will check and decide."),
  refund: N_("Buy a new pass when you need one."),
  mistake: N_("Go to a ticket counter or call the operator to have it restored."),
  lost: N_("Go to a ticket counter with your citizen ID card for a new pass."),
  other: N_("Go to a ticket counter with your citizen ID card."),
};

export function revocation(reason) {
  const text = String(reason ?? "").trim();
  const code = text.toLowerCase();
  const kind = (
    code.startsWith("cloned") || ["fraud", "clone", "cloned_qr"].includes(code) ? "fraud"
      : code.startsWith("refund") ? "refund"
        : ["mistake", "error", "by_mistake"].includes(code) ? "mistake"
          : ["lost", "lost_phone"].includes(code) ? "lost"
            : "other");
  // A short code nobody wrote for a rider is not shown; a sentence written for one is.
  const note = kind === "other" && text && !/^[a-z_]+(:.*)?$/.test(text) ? text : null;
  return { kind, note };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const main = () => document.getElementById("main");

// The header, the network line and the footer: what does not depend on the pass.
export function chrome({ online }) {
  const lang = i18n.current();
  document.documentElement.lang = lang;
  document.title = _("Bus pass");
  document.getElementById("title").textContent = _("Bus pass");
  const toggle = document.getElementById("lang");
  if (toggle) {
    const other = i18n.other();
    toggle.textContent = i18n.nameOf(other);
    toggle.lang = other;
    toggle.hreflang = other;
    toggle.href = `/lang/${other}?next=/card/`;
  }
  const network = document.getElementById("network");
  network.textContent = online ? _("Online") : _("No internet");
  network.className = `network ${online ? "online" : "offline"}`;
  document.getElementById("account-link").textContent = _("Account, buy a pass");
}

export function announce(text) {
  const region = document.getElementById("announce");
  // In the card's language, so that the screen reader speaks it with the right voice.
  region.lang = i18n.current();
  // Emptied first, so that the same words said twice are read twice.
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}

function notice(kind, tone, title, paragraphs, actions = []) {
  return el("div", { class: `notice ${tone}`, id: "notice", "data-state": kind },
            el("h2", { text: title }),
            ...paragraphs.filter(Boolean).map((text) => el("p", { text })),
            ...actions);
}

function actionLink(href, text, id) {
  return el("a", { class: "action", href, id, text });
}

function actionButton(id, text, onclick, disabled = false) {
  return el("button", { class: "action", type: "button", id, onclick, disabled, text });
}

export function loading() {
  main().replaceChildren(el("p", { class: "loading", id: "loading", text: _("Loading the card…") }));
}

export function signIn() {
  main().replaceChildren(notice("signin", "info", _("Sign in to see your pass"),
                                [_("Sign in with your national e-ID account (VNeID).")],
                                [actionLink(SIGNIN, _("Sign in"), "signin")]));
}

export function failed(reason, onRetry) {
  main().replaceChildren(notice("error", "bad", _("The card could not load"),
                                [_("{reason}. Please try again later.", { reason })],
                                [actionButton("retry", _("Try again"), onRetry)]));
}

export function noPasses() {
  main().replaceChildren(notice("no_pass", "info", _("You have no pass yet"),
                                [_("Buy a monthly pass, or get a free pass if you are eligible.")],
                                [actionLink(BUY, _("Buy a monthly pass"), "buy"),
                                 actionLink(FREE, _("Get a free pass"), "free")]));
}

function categoryName(pass, categories) {
  const category = categories.find((c) => c.code === pass.category);
  if (!category) return null;
  return i18n.current() === "vi" ? category.name_vi : category.name_en;
}

function productName(pass, categories) {
  const name = PRODUCTS[pass.product] ? _(PRODUCTS[pass.product]) : pass.product;
  const category = categoryName(pass, categories);
  return category ? `${name} · ${category}` : name;
}

function routeName(pass, routes) {
  if (!pass.route) return _("All routes");
  const route = routes.find((r) => r.code === pass.route);
  const code = _("Route {code}", { code: pass.route });
  return route ? `${code} · ${route.name}` : code;
}

function validity(pass) {
  if (pass.product !== "free") return i18n.month(pass.valid_from);
  // valid_until is the first second after the pass: the last day is the one before it.
  return _("{from} to {to}", { from: i18n.day(pass.valid_from), to: i18n.day(pass.valid_until - 1) });
}

// A word for a pass that can't ride now, so that two passes of one month tell apart.
function choiceNote(pass, now) {
  if (pass.status === "revoked") return _("revoked");
  if (now >= pass.valid_until) return _("expired");
  if (now < pass.valid_from) return _("not yet valid");
  return null;
}

// The passes as compact tabs, short words each: the full name is on the card below.
function switcher(passes, selected, categories, onSelect, now) {
  if (passes.length < 2) return null;
  return el("nav", { class: "switcher", "aria-label": _("Your passes") },
            ...passes.map((p) => {
              const note = choiceNote(p, now);
              const when = i18n.shortMonth(p.valid_from);
              const short = _(PRODUCTS_SHORT[p.product] ?? p.product);
              const category = categoryName(p, categories);
              return el("button", {
                type: "button", class: "pass-choice", "aria-pressed": String(p.id === selected),
                "data-pass": p.id, onclick: () => onSelect(p.id),
              }, el("span", { class: "choice-name", text: short }),
              el("span", { class: "choice-when", text: note ? `${when} · ${note}` : when }),
              // Heard, not shown: the tab is too small for the fare category.
              category && el("span", { class: "visually-hidden", text: ` · ${category}` }));
            }));
}

function holder(account) {
  const photo = el("img", { class: "photo", src: PHOTO, width: "96", height: "128",
                            alt: _("Photo of {name}", { name: account.full_name }) });
  photo.addEventListener("error", () => { photo.hidden = true; });
  const [year, month, day] = account.birth_date.split("-");
  const born = i18n.current() === "vi" ? `${day}/${month}/${year}`
    : i18n.day(Date.UTC(Number(year), Number(month) - 1, Number(day), 12) / 1000);
  return el("div", { class: "holder" }, photo,
            el("div", {},
               el("p", { class: "name", id: "holder-name", text: account.full_name }),
               el("p", { class: "born", text: _("Born: {date}", { date: born }) })));
}

function facts(pass, snapshot) {
  const row = (label, value, cls) => el("div", { class: cls },
                                        el("dt", { text: label }), el("dd", { text: value }));
  return el("dl", { class: "facts" },
            row(_("Pass"), productName(pass, snapshot.categories), "fact-kind"),
            row(_("Routes"), routeName(pass, snapshot.routes), "fact-routes"),
            row(_("Valid"), validity(pass), "fact-valid"),
            row(_("Pass no."), pass.id, "fact-id"));
}

function qrArea(custodial) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("id", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", qrLabel());
  svg.setAttribute("shape-rendering", "crispEdges");
  return el("div", { class: "code" },
            el("figure", { class: "qr" }, svg),
            el("p", { class: "countdown", id: "countdown" }),
            custodial ? el("p", { class: "note", id: "custodial-note",
                                  text: _("This phone cannot make the QR code itself. The code comes from the ticket system and shows only when online.") })
              : el("p", { class: "offline-until", id: "offline-until" }));
}

const qrLabel = () => _("The pass's QR code. Hold it to the validator when you board.");

// The words a state says, for the screen and for the screen reader.
export function stateTitle(state) {
  switch (state.kind) {
    case "show": case "custodial": return qrLabel();
    case "activate": return _("The pass is not on this phone yet");
    case "not_yet_valid": return _("The pass is not valid yet");
    case "expired": return _("The pass has expired");
    case "revoked": return _("The pass has been revoked");
    case "replaced": return _("The pass was activated on another phone");
    case "removed": return _("The pass was taken off this phone");
    case "clock": return _("The phone's clock is wrong");
    case "offline_too_long": return _("Connect to the internet to renew the pass");
    case "renewing": return _("Renewing the pass…");
    case "custodial_offline": return _("The QR code needs the internet");
    default: return "";
  }
}

// What to do about a revoked pass: the hotline where the operator has one.
function callOrCome(hotline) {
  return hotline ? _("If you have questions, go to a ticket counter or call the hotline {number}.", { number: hotline })
    : _("If you have questions, go to a ticket counter or contact the bus operator.");
}

function hotlineLink(hotline) {
  if (!hotline) return null;
  return actionLink(`tel:${hotline.replace(/[^\d+]/g, "")}`, _("Call {number}", { number: hotline }), "hotline");
}

function stateArea(state, model) {
  const { busy, message, online, handlers, pass, hotline } = model;
  const activateButton = (label) => actionButton(
    "activate", busy ? _("Activating…") : label, () => handlers.activate(pass), busy);
  switch (state.kind) {
    case "show": return qrArea(false);
    case "custodial": return qrArea(true);
    case "activate":
      return notice("activate", "info", stateTitle(state),
                    [_("Press the button below to use the pass on this phone. A pass works on one phone at a time."),
                     state.elsewhere && _("The pass is on another phone. If you activate it here, it stops working on the other phone."),
                     !online && _("Activating needs the internet. Turn on Wi-Fi or mobile data."), message],
                    [activateButton(_("Activate the pass on this phone"))]);
    case "not_yet_valid":
      return notice(state.kind, "info", stateTitle(state),
                    [_("It can be used from {date}. From then, its QR code shows here.", { date: i18n.day(state.at) })]);
    case "expired": {
      const free = pass.product === "free";
      // valid_until is the first second after the pass: its last day is the one before.
      return notice(state.kind, "bad", stateTitle(state),
                    [_("It could be used until the end of {date}.", { date: i18n.day(state.at - 1) }),
                     free ? _("Ask for your free pass again.") : _("Buy a new monthly pass.")],
                    [free ? actionLink(FREE, _("Get a free pass"), "free")
                      : actionLink(BUY, _("Buy a monthly pass"), "buy")]);
    }
    case "revoked": {
      // The issuer's words for the reason's code; a pass kept from before codes (or a card
      // page older than the list) falls back to reading the recorded text.
      const words = i18n.reasonWords(state.code);
      if (words) {
        return notice(state.kind, "bad", stateTitle(state),
                      [_("Its QR code no longer works."), _(words.rider), _(words.todo),
                       callOrCome(hotline)],
                      [hotlineLink(hotline)].filter(Boolean));
      }
      const { kind, note } = revocation(state.reason);
      return notice(state.kind, "bad", stateTitle(state),
                    [_("Its QR code no longer works."),
                     note ? _("Reason: {reason}", { reason: note }) : _(REVOKED_WHY[kind]),
                     _(REVOKED_WHAT[kind]), callOrCome(hotline)],
                    [hotlineLink(hotline)].filter(Boolean));
    }
    case "replaced":
      return notice(state.kind, "bad", stateTitle(state),
                    [_("The QR code on this phone no longer works. To use the pass on this phone, activate it again; the other phone will stop."),
                     message], [activateButton(_("Activate again on this phone"))]);
    case "removed":
      return notice(state.kind, "bad", stateTitle(state),
                    [_("The pass was taken off this phone (reported lost). If you found the phone again, activate the pass again."),
                     message], [activateButton(_("Activate again on this phone"))]);
    case "clock":
      return notice(state.kind, "warn", stateTitle(state),
                    [state.offset > 0 ? _("The phone is {by} slow.", { by: i18n.offBy(state.offset) })
                      : _("The phone is {by} fast.", { by: i18n.offBy(state.offset) }),
                     _("Validators will refuse the QR code. Go to Settings › Date & time, turn on automatic time, then press Check again.")],
                    [actionButton("check-clock", _("Check again"), handlers.checkClock)]);
    case "offline_too_long":
      return notice(state.kind, "warn", stateTitle(state),
                    [_("The card has been without internet too long and stopped working at {time}. Turn on Wi-Fi or mobile data; the card renews itself.",
                       { time: i18n.moment(state.at) })]);
    case "renewing":
      return notice(state.kind, "info", stateTitle(state), [_("Please wait a moment.")]);
    case "custodial_offline":
      return notice(state.kind, "warn", stateTitle(state),
                    [_("This phone cannot make the QR code itself; the ticket system sends it when online. Turn on Wi-Fi or mobile data.")]);
    default:
      return null;
  }
}

// The reminder to renew (renewal.js) in words, for the screen and the screen reader.
// `ends` is the first second after the pass: its last day is the one before.
export function reminderText(reminder) {
  if (!reminder) return "";
  const values = { day: i18n.day(reminder.ends - 1), month: i18n.month(reminder.ends) };
  switch (reminder.kind) {
    case "due": return _("Your pass ends on {day}. Renew it for {month}.", values);
    case "ordered": return _("Your pass ends on {day}. The renewal for {month} is waiting for payment.", values);
    case "ready": return _("Next month: ready. {month} is on this phone and shows here at 00:00 by itself.", values);
    default: return "";
  }
}

// Under the QR, never above it: at the bus door the code stays where it always is. Renewing
// is the account page's one-tap form, posted from here with the session's CSRF token; it
// needs the network, so offline the button waits.
function renewalArea(reminder, online) {
  if (!reminder) return null;
  const text = el("p", { text: reminderText(reminder) });
  if (reminder.kind === "ready") {
    return el("div", { class: "renew ready", id: "renewal", "data-renewal": "ready" }, text);
  }
  if (reminder.kind === "ordered") {
    return el("div", { class: "renew", id: "renewal", "data-renewal": "ordered" }, text,
              actionLink(`/my/orders/${encodeURIComponent(reminder.order)}`, _("Pay for the renewal"), "renew-pay"));
  }
  const form = el("form", { method: "post", action: `/my/passes/${encodeURIComponent(reminder.pass)}/renew` },
                  el("input", { type: "hidden", name: "csrf_token", value: document.body.dataset.csrf }),
                  el("button", { class: "action", type: "submit", id: "renew", disabled: !online,
                                 text: _("Renew for next month") }));
  return el("div", { class: "renew", id: "renewal", "data-renewal": "due" }, text, form,
            !online && el("p", { class: "renew-offline", text: _("Renewing needs the internet.") }));
}

export function card(model) {
  const { snapshot, pass, state, passes, handlers, now, reminder, online } = model;
  main().replaceChildren(
    switcher(passes, pass.id, snapshot.categories, handlers.select, now) ?? "",
    el("section", { class: "card", id: "card", "data-state": state.kind, "data-pass": pass.id,
                    "aria-labelledby": "holder-name" },
       el("p", { class: "card-band", "aria-hidden": "true", text: _("Bus pass") }),
       stateArea(state, model),
       renewalArea(reminder, online),
       holder(snapshot.account),
       facts(pass, snapshot)));
}

// Updated in place every tick, so the screen reader is not interrupted by a rebuild.
export function countdown(seconds) {
  const node = document.getElementById("countdown");
  if (node) node.textContent = _("New code in {n} s", { n: seconds });
}

export function offlineUntil(at, now) {
  const node = document.getElementById("offline-until");
  if (node) {
    node.textContent = _("Works without internet until {time} ({left} left).",
                         { time: i18n.moment(at), left: i18n.duration(at - now) });
  }
}

export function qrSvg() {
  return document.getElementById("qr");
}
