// FaceGate pages: a few helpers shared by every page. No framework, nothing from a CDN.
"use strict";
// The login cookie (HttpOnly) authenticates every call; a change also echoes the CSRF cookie in a header,
// which another site's page cannot read.
class SafeHTML { constructor(text) { this.text = text; } }  // HTML known to be safe: only FG.html makes it
// The page's one Trusted Types policy (its CSP names no other, and allows it once): the only way HTML reaches the
// page, and only FG.fill uses it. Browsers without Trusted Types fall back to the plain assignment.
const HTML_POLICY = window.trustedTypes ? trustedTypes.createPolicy("facegate", {createHTML: text => text}) : null;
const FG = {
  csrf() { return (document.cookie.split("; ").find(c => c.startsWith("facegate_csrf=")) || "").slice(14); },
  async api(path, options = {}) {
    const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
    if ((options.method || "GET") !== "GET") headers["X-CSRF-Token"] = FG.csrf();
    // A page refreshing itself is not someone working: it must not keep an idle session alive.
    if (options.background) headers["X-FaceGate-Background"] = "1";
    const {background, ...init} = options;
    const response = await fetch(path, Object.assign(init, {headers}));
    if (response.status === 401 && path !== "/api/auth/token") { FG.toLogin(true); throw new Error("not logged in"); }
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
    if (!response.ok) throw new Error(typeof body === "object" ? FG.plainError(body.detail) : body);
    return body;
  },
  // An API refusal in words: a validator's list becomes "note: String should have at least 1 character".
  plainError(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map(d => (d.loc ? d.loc[d.loc.length - 1] + ": " : "") + d.msg).join("; ");
    return JSON.stringify(detail);
  },
  // The login page, which comes back here afterwards (and says the session expired, when it did).
  toLogin(expired) {
    const query = new URLSearchParams({next: location.pathname + location.search});
    if (expired) query.set("expired", "1");
    location.replace("/login?" + query);
  },
  esc(value) { return String(value ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); },
  // HTML is only ever built with this tag: every ${value} is escaped -- whoever typed it, a device, a visitor or an
  // operator -- unless it is a fragment this tag made (or an array of them), which is inserted as it is.
  html(strings, ...values) {
    const piece = v => v instanceof SafeHTML ? v.text : Array.isArray(v) ? v.map(piece).join("") : FG.esc(v);
    return new SafeHTML(strings.reduce((out, s, i) => out + piece(values[i - 1]) + s));
  },
  // ... and only ever put into a page with this one, which takes nothing else.
  fill(element, fragment) {
    if (!(fragment instanceof SafeHTML)) throw new TypeError("FG.fill takes HTML made with FG.html");
    element.innerHTML = HTML_POLICY ? HTML_POLICY.createHTML(fragment.text) : fragment.text;
  },
  time(iso) { return iso ? new Date(iso).toLocaleTimeString() : ""; },
  async header(active) {
    const me = await FG.api("/api/me");
    const links = {operator: [["Live gate", "/gate"]], supervisor: [["Live gate", "/gate"], ["Exam review", "/exam"]],
      admin: [["Live gate", "/gate"], ["Exam review", "/exam"], ["Devices & people", "/admin"], ["Audit", "/audit"]],
      auditor: [["Audit", "/audit"]]}[me.role] || [];
    FG.fill(document.querySelector("header"), FG.html`<strong>FaceGate</strong>${
      links.map(([name, href]) => FG.html`<a href="${href}" class="${href === active ? "active" : ""}">${name}</a>`)
    }<span class="who">${me.name} (${me.role}) · <a href="#" id="logout">log out</a></span>`);
    document.getElementById("logout").onclick = async (event) => {  // the server revokes the session and clears the cookies
      event.preventDefault();
      try { await FG.api("/api/auth/logout", {method: "POST"}); } finally { location.href = "/login"; }
    };
    return me;
  },
  beep() {
    try { const ctx = new AudioContext(), osc = ctx.createOscillator(); osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.25); } catch (e) { /* no audio device */ }
  },
};
