// The card on the screen, built with DOM calls (no HTML strings, no inline script or style).

import * as i18n from "./i18n.js";

const { t } = i18n;
const SVG = "http://www.w3.org/2000/svg";
const PHOTO = "/api/me/photo";
const ACCOUNT = "/my/";
const BUY = "/my/buy";
const FREE = "/my/free";
const SIGNIN = "/signin?next=/card/";

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
  document.title = t("title");
  document.getElementById("title").textContent = t("title");
  const toggle = document.getElementById("lang");
  toggle.textContent = t("other_language");
  toggle.lang = lang === "vi" ? "en" : "vi";
  const network = document.getElementById("network");
  network.textContent = online ? t("online") : t("offline");
  network.className = `network ${online ? "online" : "offline"}`;
  document.getElementById("account-link").textContent = t("account");
}

export function announce(text) {
  const region = document.getElementById("announce");
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
  main().replaceChildren(el("p", { class: "loading", id: "loading", text: t("loading") }));
}

export function signIn() {
  main().replaceChildren(notice("signin", "info", t("signin_title"), [t("signin_body")],
                                [actionLink(SIGNIN, t("signin"), "signin")]));
}

export function failed(reason, onRetry) {
  main().replaceChildren(notice("error", "bad", t("error_title"), [t("error_body", { reason })],
                                [actionButton("retry", t("retry"), onRetry)]));
}

export function noPasses() {
  main().replaceChildren(notice("no_pass", "info", t("no_pass_title"), [t("no_pass_body")],
                                [actionLink(BUY, t("buy"), "buy"),
                                 actionLink(FREE, t("free"), "free")]));
}

function productName(pass, categories) {
  const name = t(`product_${pass.product}`);
  const category = categories.find((c) => c.code === pass.category);
  if (!category) return name;
  return `${name} · ${i18n.current() === "vi" ? category.name_vi : category.name_en}`;
}

function routeName(pass, routes) {
  if (!pass.route) return t("all_routes");
  const route = routes.find((r) => r.code === pass.route);
  return route ? `${t("route", { code: route.code })} · ${route.name}` : t("route", { code: pass.route });
}

function validity(pass) {
  if (pass.product !== "free") return i18n.month(pass.valid_from);
  // valid_until is the first second after the pass: the last day is the one before it.
  return t("period", { from: i18n.day(pass.valid_from), to: i18n.day(pass.valid_until - 1) });
}

// A word for a pass that can't ride now, so that two passes of one month tell apart.
function choiceNote(pass, now) {
  if (pass.status === "revoked") return t("choice_revoked");
  if (now >= pass.valid_until) return t("choice_expired");
  if (now < pass.valid_from) return t("choice_later");
  return null;
}

function switcher(passes, selected, categories, onSelect, now) {
  if (passes.length < 2) return null;
  return el("nav", { class: "switcher", "aria-label": t("your_passes") },
            ...passes.map((p) => el("button", {
              type: "button", class: "pass-choice", "aria-pressed": String(p.id === selected),
              "data-pass": p.id, onclick: () => onSelect(p.id),
              text: [productName(p, categories), validity(p), choiceNote(p, now)]
                .filter(Boolean).join(" · "),
            })));
}

function holder(account) {
  const photo = el("img", { class: "photo", src: PHOTO, width: "96", height: "128",
                            alt: t("photo_of", { name: account.full_name }) });
  photo.addEventListener("error", () => { photo.hidden = true; });
  const [year, month, day] = account.birth_date.split("-");
  return el("div", { class: "holder" }, photo,
            el("div", {},
               el("p", { class: "name", id: "holder-name", text: account.full_name }),
               el("p", { class: "born", text: `${t("born")}: ${day}/${month}/${year}` })));
}

function facts(pass, snapshot) {
  const row = (label, value, cls) => el("div", { class: cls },
                                        el("dt", { text: label }), el("dd", { text: value }));
  return el("dl", { class: "facts" },
            row(t("kind"), productName(pass, snapshot.categories), "fact-kind"),
            row(t("routes"), routeName(pass, snapshot.routes), "fact-routes"),
            row(t("valid"), validity(pass), "fact-valid"),
            row(t("pass_number"), pass.id, "fact-id"));
}

function qrArea(custodial) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("id", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("qr_label"));
  svg.setAttribute("shape-rendering", "crispEdges");
  return el("div", { class: "code" },
            el("figure", { class: "qr" }, svg),
            el("p", { class: "countdown", id: "countdown" }),
            custodial ? el("p", { class: "note", id: "custodial-note", text: t("custodial_note") })
              : el("p", { class: "offline-until", id: "offline-until" }));
}

// The words a state says, for the screen and for the screen reader.
export function stateTitle(state) {
  switch (state.kind) {
    case "show": case "custodial": return t("qr_label");
    case "activate": return t("activate_title");
    case "offline_too_long": return t("offline_long_title");
    default: return t(`${state.kind}_title`);
  }
}

function stateArea(state, model) {
  const { busy, message, online, handlers, pass } = model;
  const activateButton = (label) => actionButton(
    "activate", busy ? t("activating") : label, () => handlers.activate(pass), busy);
  switch (state.kind) {
    case "show": return qrArea(false);
    case "custodial": return qrArea(true);
    case "activate":
      return notice("activate", "info", t("activate_title"),
                    [t("activate_body"), state.elsewhere && t("activate_elsewhere"),
                     !online && t("activate_offline"), message],
                    [activateButton(t("activate"))]);
    case "not_yet_valid":
      return notice(state.kind, "info", stateTitle(state),
                    [t("not_yet_valid_body", { date: i18n.day(state.at) })]);
    case "expired": {
      const free = pass.product === "free";
      // valid_until is the first second after the pass: its last day is the one before.
      return notice(state.kind, "bad", stateTitle(state),
                    [t("expired_body", { date: i18n.day(state.at - 1) }),
                     t(free ? "expired_free" : "expired_monthly")],
                    [free ? actionLink(FREE, t("free"), "free") : actionLink(BUY, t("buy"), "buy")]);
    }
    case "revoked":
      return notice(state.kind, "bad", stateTitle(state),
                    [t("revoked_body"), state.reason && t("revoked_reason", { reason: state.reason }),
                     t("revoked_next")]);
    case "replaced": case "removed":
      return notice(state.kind, "bad", stateTitle(state),
                    [t(`${state.kind}_body`), message], [activateButton(t("activate_again"))]);
    case "clock":
      return notice(state.kind, "warn", stateTitle(state),
                    [t(state.offset > 0 ? "clock_slow" : "clock_fast", { by: i18n.offBy(state.offset) }),
                     t("clock_body")],
                    [actionButton("check-clock", t("check_again"), handlers.checkClock)]);
    case "offline_too_long":
      return notice(state.kind, "warn", stateTitle(state),
                    [t("offline_long_body", { time: i18n.moment(state.at) })]);
    case "renewing":
      return notice(state.kind, "info", stateTitle(state), [t("renewing_body")]);
    case "custodial_offline":
      return notice(state.kind, "warn", stateTitle(state), [t("custodial_offline_body")]);
    default:
      return null;
  }
}

export function card(model) {
  const { snapshot, pass, state, passes, handlers, now } = model;
  main().replaceChildren(
    switcher(passes, pass.id, snapshot.categories, handlers.select, now) ?? "",
    el("section", { class: "card", id: "card", "data-state": state.kind, "data-pass": pass.id,
                    "aria-labelledby": "holder-name" },
       el("p", { class: "card-band", "aria-hidden": "true", text: t("title") }),
       holder(snapshot.account),
       facts(pass, snapshot),
       stateArea(state, model)));
}

// Updated in place every tick, so the screen reader is not interrupted by a rebuild.
export function countdown(seconds) {
  const node = document.getElementById("countdown");
  if (node) node.textContent = t("countdown", { n: seconds });
}

export function offlineUntil(at, now) {
  const node = document.getElementById("offline-until");
  if (node) node.textContent = t("offline_until", { time: i18n.moment(at), left: i18n.duration(at - now) });
}

export function qrSvg() {
  return document.getElementById("qr");
}
