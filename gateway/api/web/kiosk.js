// The kiosk page (issues 15, 26): a person shows their chip card's QR code or types its details, the kiosk reads
// and checks the card and matches their face, they read the consent and answer. Signed in as the kiosk's own login
// the screen is the visitor's alone -- no pages, no staff name, no log out -- and goes back to the start after each
// person and after a minute untouched; what the kiosk enrols for and until when is its set-up, which staff make
// (signed in as themselves, on this page) and the visitor cannot change. Everything the card gave is deleted at the
// gateway when the person answers. Untrusted strings (device names, sites, the card's name, the device's findings)
// only reach the page through FG.html or textContent.
"use strict";
const steps = ["card", "check", "consent", "done"];
const form = document.getElementById("details");
const $ = id => document.getElementById(id);
const OWN = FG_PAGE.kiosk || null;  // a kiosk's own login: its device
// Untouched this long: back to the start; after an ending, this soon ([gateway.kiosk] idle_s, back_to_start_s).
const IDLE_MS = (FG_PAGE.idle_s || 60) * 1000, BACK_MS = (FG_PAGE.back_s || 10) * 1000;
let device = OWN, current = null, polling = null, setup = null, idleTimer = null, backTimer = null, ticking = null;
let typedLast = true;  // how the last read was asked for: typed details, or the QR code
const kioskPath = (...parts) => "/api/kiosks/" + [device, ...parts].map(encodeURIComponent).join("/");

const FAILED = {
  refused: FG.t("The card did not accept these details. Check the document number and the two dates, then try again."),
  interrupted: FG.t("The card was taken away before it was read. Put it back on the reader and try again."),
  unreadable: FG.t("The card could not be read. Try again; if it fails again, ask at the counter."),
  portrait_unusable: FG.t("The photo on the card cannot be used for a face check. Please ask at the counter."),
  busy: FG.t("The kiosk is busy with another card. Try again in a moment."),
  no_face: FG.t("Your face was not seen clearly. Stand in front of the camera, look at it, and try again."),
  no_qr: FG.t("The QR code on your card was not seen. Hold it up to the camera, or type the details from the card."),
  mismatch: FG.t("Your face does not match the photo on the card. Try again, or ask at the counter."),
  spoof_suspected: FG.t("The camera could not confirm a live person. Remove hats or glasses and try again."),
  no_answer: FG.t("The kiosk did not answer. Please ask at the counter."),
};
const REFUSAL = {
  tampered: FG.t("This card failed its authenticity check. It cannot be used here; please ask at the counter."),
  clone_suspected: FG.t("This card's chip could not prove it is the original. It cannot be used here; please ask at the counter."),
  expired_document: FG.t("This card has expired. Please use a valid card."),
  untrusted_issuer: FG.t("This card's issuer is not trusted at this site. Please ask at the counter."),
  not_read: FG.t("The card was not read."),
  not_matched: FG.t("Your face does not match the photo on the card. Try again, or ask at the counter."),
  not_live: FG.t("The camera could not confirm a live person. Remove hats or glasses and try again."),
};
const PASSIVE = {genuine: FG.t("genuine"), untrusted_issuer: FG.t("issuer not trusted"), tampered: FG.t("tampered"),
                 clone_suspected: FG.t("copy suspected"), expired_document: FG.t("expired")};
const PURPOSE = {gate: FG.t("entering through the gates of this site"), exam: FG.t("checking your identity at the exam")};

function show(step) {
  for (const name of steps) $(name).hidden = name !== step;
  for (const li of document.querySelectorAll(".steps li")) {
    li.classList.toggle("current", li.dataset.step === step);
    if (li.dataset.step === step) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
  }
}
// dd/mm/yyyy as the MRZ writes it: YYMMDD.
function mrzDate(text) {
  const [y, m, d] = FG.parseLocal(text);
  return `${String(y).slice(2)}${String(m).padStart(2, "0")}${String(d).padStart(2, "0")}`;
}
function fact(label, value, cls = "") {
  const li = document.createElement("li");
  FG.fill(li, FG.html`${label}: <b class="${cls}">${value}</b>`);
  $("facts").append(li);
}

// A read the person leaves (to correct their details, to read again, for the next person) is declined at once, so
// what the card gave is deleted now rather than when the gateway's 15 minutes run out.
function abandon() {
  if (!current || $("done").hidden === false) return;
  const read = current.read;
  current = null;
  FG.api(kioskPath("reads", read, "decision"), {method: "POST", body: JSON.stringify({agree: false})})
    .catch(() => {});  // answered or purged already
}
// Typed details, or none: the kiosk reads the card's QR code with its camera.
async function start(event, typed = true) {
  event?.preventDefault();
  abandon();
  clearTimeout(backTimer);
  clearInterval(ticking);
  $("countdown").textContent = "";
  $("form-error").textContent = "";
  typedLast = typed;
  const f = form.elements;
  const body = typed ? {document: f.document.value.trim().toUpperCase(), birth: mrzDate(f.birth.value),
                        expiry: mrzDate(f.expiry.value)} : {};
  try {
    current = await FG.api(kioskPath("reads"), {method: "POST", body: JSON.stringify(body)});
  } catch (err) {
    $("form-error").textContent = err.message;
    if (err.status === 409) { refreshSetup(); backSoon(); }  // the kiosk device is offline: say so, start again
    return;
  }
  $("facts").replaceChildren();
  $("findings").replaceChildren();
  $("problem").textContent = "";
  $("retry").hidden = $("restart").hidden = true;
  show("check");
  $("progress").textContent = typed ? "" : FG.t("Hold your card's QR code up to the camera…");
  render(current);
  poll();
}
function poll() {
  clearTimeout(polling);
  polling = setTimeout(async () => {
    try {
      current = await FG.api(kioskPath("reads", current.read), {background: true});
    } catch (err) { finish(err.message, {}, false); return; }
    if (render(current)) poll();
  }, 700);
}
// The read as it stands; true while there is more to wait for.
function render(r) {
  const progress = $("progress");
  if (r.stage === "asked" && !r.device_online) return finish(FG.t("This kiosk is not available right now. Please ask at the counter."), r, false);
  if (r.stage === "asked") {
    if (!progress.textContent) progress.textContent = FG.t("Place your card on the reader and leave it there. Reading the chip…");
    return true;
  }
  if (r.stage === "failed" && r.outcome === "refused" && !typedLast)  // the keys its QR code allows did not open it
    return finish(FG.t("The card did not open with the key from its QR code. Type the details from the card instead."), r, false);
  if (r.stage === "failed") return finish(FAILED[r.outcome] || FG.t("The card could not be read."), r, r.outcome !== "no_answer");
  if (!$("facts").childElementCount && r.passive) {
    fact(FG.t("Card"), PASSIVE[r.passive] || r.passive, r.passive === "genuine" ? "ok" : "error");
    if (r.name) fact(FG.t("Name on the card"), r.name);
  }
  if (r.refusal && r.refusal !== "not_matched" && r.stage === "read") return finish(REFUSAL[r.refusal], r, false);
  if (r.stage === "read") { progress.textContent = FG.t("Card checked. Now look at the camera…"); return true; }
  if (r.score !== null) fact(FG.t("Face match"), FG.t("{score} (needs {threshold})", {score: r.score.toFixed(2),
       threshold: Number(r.threshold).toFixed(2)}), r.score >= r.threshold ? "ok" : "error");
  if (r.refusal) return finish(r.outcome !== "matched" ? FAILED[r.outcome] : REFUSAL[r.refusal], r, true);
  progress.textContent = FG.t("Card and face checked.");
  consent(r);
  return false;
}
function finish(message, r, retry = true) {
  $("progress").textContent = "";
  $("problem").textContent = message;
  // The card's or the kiosk's own words (English), for the counter's staff, folded away below the person's message.
  FG.fill($("findings"), r.problems?.length ? FG.html`<details><summary>${FG.t("technical details")}</summary><p class="muted">${r.problems.join("; ")}</p></details>` : FG.html``);
  $("retry").hidden = !retry;
  $("restart").hidden = false;
  (retry ? $("retry") : $("restart")).focus();
  backSoon();
  return false;
}
function consent(r) {
  $("consent-title").textContent = FG.t("Consent to use your face at {site}", {site: r.site});
  const until = !r.valid_until ? FG.t("until you withdraw it")
    : r.purpose === "exam" ? FG.t("until {when} (the end of your exam day's ticket); then it is erased from every device",
                                  {when: FG.dateTime(r.valid_until)})
    : FG.t("until {when} (the end of your ticket); then it is erased from every gate", {when: FG.dateTime(r.valid_until)});
  FG.fill($("consent-text"), FG.html`
    <p><b>${FG.t("Purpose")}:</b> ${FG.t("your face is used only for {purpose}.", {purpose: PURPOSE[r.purpose]})}</p>
    <p><b>${FG.t("What is kept")}:</b> ${FG.t("your name as on the card ({name}), one face template made from today's picture and the card's picture, and a code standing for your card number. The pictures and the card's other data are not kept.", {name: r.name || ""})}</p>
    <p><b>${FG.t("For how long")}:</b> ${until}.</p>
    <p><b>${FG.t("Your rights")}:</b> ${FG.t("you may withdraw this consent at any time at the counter; your data is then erased from every device. Saying no changes nothing else: you can still enter with staff.")}</p>
    ${r.already_enrolled ? FG.html`<p class="notice">${FG.t("You are already enrolled: agreeing extends your consent; nothing is added twice.")}</p>` : ""}
    <p class="muted">${FG.t("Personal data protection: Decree 13/2023/NĐ-CP and Law 91/2025/QH15.")}</p>`);
  show("consent");
  $("agree").focus();
}
async function decide(agree) {
  $("consent-error").textContent = "";
  try {
    const d = await FG.api(kioskPath("reads", current.read, "decision"), {method: "POST", body: JSON.stringify({agree})});
    $("done-text").textContent = d.outcome === "enrolled" ? FG.t("Thank you, {name}: you are enrolled. You can use the gate now.", {name: current.name})
      : d.outcome === "extended" ? FG.t("Thank you, {name}: your consent now runs to your new ticket's end.", {name: current.name})
      : FG.t("Nothing was kept. Please see the staff to enter.");
    show("done");
    $("next").focus();
    backSoon();
  } catch (err) { $("consent-error").textContent = err.message; }
}
// Back to the start for the next person: on the kiosk, in the kiosk's own language.
function restart() {
  clearTimeout(polling);
  clearTimeout(backTimer);
  clearInterval(ticking);
  $("countdown").textContent = "";
  abandon();
  if (OWN && FG_PAGE.lang !== FG_PAGE.default_lang) { location.replace(`/kiosk?lang=${FG_PAGE.default_lang}`); return; }
  form.reset();  // the next person's card
  $("form-error").textContent = "";
  show("card");
  $("scan").focus();
}
// After an ending, back to the start in a few seconds (on the kiosk: nobody else will press "Next person").
function backSoon() {
  if (!OWN) return;
  clearTimeout(backTimer);
  clearInterval(ticking);
  let left = Math.round(BACK_MS / 1000);
  const say = () => { $("countdown").textContent = FG.t("Back to the start in {n} s.", {n: left}); };
  say();
  ticking = setInterval(() => { left -= 1; if (left > 0) say(); }, 1000);
  backTimer = setTimeout(restart, BACK_MS);
}
// Untouched for a minute away from the start (or with details half typed): back to the start; a read under way is
// declined, as the person who left it would.
function touched() {
  clearTimeout(idleTimer);
  if (!OWN) return;
  idleTimer = setTimeout(() => { if ($("card").hidden || form.elements.document.value) { clearTimeout(polling); restart(); } else touched(); }, IDLE_MS);
}
const PURPOSE_SHORT = {gate: FG.t("the gates of this site"), exam: FG.t("the exam")};
async function refreshSetup() {
  if (!device) return;
  try { setup = await FG.api(kioskPath("setup"), {background: true}); } catch (err) { return; }
  if (OWN && setup.mode === "checkin") { location.replace("/door"); return; }  // set up as an exam room's door
  $("offline").hidden = setup.online;
  $("scan").disabled = form.querySelector("button[type=submit]").disabled = !setup.online;
  $("ticket").textContent = FG.t("This kiosk enrols you for {purpose}, until {when}.",
                                 {purpose: PURPOSE_SHORT[setup.purpose] || setup.purpose, when: FG.dateTime(setup.valid_until)});
  const staff = document.getElementById("setup");
  if (staff && document.activeElement?.form !== staff) {  // not while staff are changing it
    staff.elements.purpose.value = setup.purpose;
    staff.elements.ticket_days.value = setup.ticket_days;
    staff.elements.mode.value = setup.mode;
    staff.elements.room.value = setup.room || "";
    staff.elements.basis.value = setup.basis;
  }
}
async function staffSetup() {
  await FG.header("/kiosk");
  const kiosks = await FG.api("/api/kiosks");
  const staff = $("setup"), select = staff.elements.kiosk;
  FG.fill(select, FG.html`${kiosks.map(k => FG.html`<option value="${k.device}">${k.device} (${k.site})${k.online ? "" : " — " + FG.t("offline")}</option>`)}`);
  device = select.value || null;
  select.onchange = () => { device = select.value; refreshSetup(); };
  staff.onsubmit = async event => {
    event.preventDefault();
    try {
      setup = await FG.api(kioskPath("setup"), {method: "PUT", body: JSON.stringify(
        {purpose: staff.elements.purpose.value, ticket_days: Number(staff.elements.ticket_days.value),
         mode: staff.elements.mode.value, room: staff.elements.room.value.trim() || null, basis: staff.elements.basis.value})});
      $("setup-state").textContent = FG.t("saved");
      refreshSetup();
    } catch (err) { $("setup-state").textContent = err.message; }
  };
  if (!kiosks.length) $("form-error").textContent = FG.t("No kiosk is provisioned yet (an admin adds one on the Devices & people page).");
}

(async () => {
  if (!OWN) await staffSetup();
  FG.dayFields(form);
  form.onsubmit = start;
  $("scan").onclick = () => start(null, false);
  // Details the card refused are the person's to correct: back to the form, as typed. Anything else: read again.
  $("retry").onclick = () => {
    if (current?.outcome === "refused" && typedLast) {
      clearTimeout(backTimer); clearInterval(ticking); $("countdown").textContent = "";
      abandon(); show("card"); form.elements.document.focus();
    } else start(null, typedLast);
  };
  $("restart").onclick = restart;
  $("next").onclick = restart;
  $("agree").onclick = () => decide(true);
  $("decline").onclick = () => decide(false);
  for (const kind of ["pointerdown", "keydown", "input"]) document.addEventListener(kind, touched);
  show("card");
  touched();
  await refreshSetup();
  setInterval(refreshSetup, 5000);
})();
