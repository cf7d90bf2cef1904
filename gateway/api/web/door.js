// The exam room's door (issue 27): a kiosk set up to check the room's listed candidates in. The candidate reads the
// notice and answers it (or, where the exam rules are the basis, reads it and starts), puts their chip ID card on
// the reader and looks at the camera; nothing is typed -- the gateway sends the door the keys of the candidates it
// expects. The answer is the room and seat in large letters, or why not and that a supervisor will see them (who
// checks them in by hand: the face is never the only way in). Signed in as the door's own login the screen is the
// candidate's alone and goes back to the start after each one. Untrusted strings (names from the council's list,
// rooms, seats, the device's findings) only reach the page through FG.html or textContent.
"use strict";
const $ = id => document.getElementById(id);
const OWN = FG_PAGE.kiosk || null;  // the door's own login: its device
const BACK_MS = (FG_PAGE.back_s || 10) * 1000, IDLE_MS = (FG_PAGE.idle_s || 60) * 1000;
let device = OWN, setup = null, current = null, polling = null, backTimer = null, ticking = null, idleTimer = null;
const doorPath = (...parts) => "/api/kiosks/" + [device, ...parts].map(encodeURIComponent).join("/");

// Why a candidate was not checked in, in their words; each ends with the supervisor.
const WHY = {
  not_listed: FG.t("Your card is not on this room's list for today."),
  face_elsewhere: FG.t("Your face is already registered under another card."),
  face_refused: FG.t("You chose not to have your face checked."),
  not_matched: FG.t("Your face does not match the photo on your card."),
  photo_not_matched: FG.t("Your face does not match the photo on the exam list."),
  photo_unusable: FG.t("The photo on the exam list cannot be used for a face check."),
  not_live: FG.t("The camera could not confirm a live person."),
  tampered: FG.t("Your card failed its authenticity check."),
  clone_suspected: FG.t("Your card's chip could not prove it is the original."),
  expired_document: FG.t("Your card has expired."),
  untrusted_issuer: FG.t("Your card's issuer is not trusted here."),
  not_read: FG.t("Your card was not read."),
  refused: FG.t("Your card is not on this room's list for today."),
  interrupted: FG.t("The card was taken away before it was read."),
  unreadable: FG.t("The card could not be read."),
  portrait_unusable: FG.t("The photo on your card cannot be used for a face check."),
  busy: FG.t("The door is busy with another card."),
  no_face: FG.t("Your face was not seen clearly."),
  mismatch: FG.t("Your face does not match the photo on your card."),
  spoof_suspected: FG.t("The camera could not confirm a live person."),
  no_answer: FG.t("The door's reader did not answer."),
};

function show(section) {
  for (const name of ["notice", "reading", "result"]) $(name).hidden = name !== section;
}
async function begin() {
  $("start-error").textContent = "";
  clearTimers();
  try {
    current = await FG.api(doorPath("checkins"), {method: "POST", body: "{}"});
  } catch (err) { $("start-error").textContent = err.message; if (err.status === 409) refreshSetup(); return; }
  show("reading");
  $("progress").textContent = FG.t("Put your ID card on the reader and leave it there, then look at the camera…");
  poll();
}
function poll() {
  clearTimeout(polling);
  polling = setTimeout(async () => {
    try { current = await FG.api(doorPath("reads", current.read), {background: true}); }
    catch (err) { return ended(null, err.message); }
    if (current.stage === "asked" && !current.device_online) return ended("no_answer");
    if (current.stage === "failed") return ended(current.outcome);
    if (current.stage === "read" && !current.refusal) $("progress").textContent = FG.t("Card checked. Now look at the camera…");
    if (current.stage === "face" || current.refusal) return decide();
    poll();
  }, 600);
}
async function decide() {
  try {
    const done = await FG.api(doorPath("reads", current.read, "checkin"), {method: "POST",
      body: JSON.stringify({agree: setup.basis === "consent" ? true : null})});
    if (done.outcome !== "checked_in") return ended(done.reason);
    show("result");
    $("why").textContent = "";
    // "Phòng 2 · máy 14": where to go, readable from across the corridor.
    $("where").textContent = done.seat ? FG.t("{room} · seat {seat}", {room: done.room, seat: done.seat})
      : FG.t("{room}: a supervisor will show you your seat", {room: done.room});
    $("who").textContent = FG.t("{name} (candidate {number}), you are checked in.", {name: done.name, number: done.number});
    $("next").focus();
    backSoon();
  } catch (err) { ended(null, err.message); }
}
function ended(reason, words) {
  show("result");
  $("where").textContent = FG.t("Please see the supervisor");
  $("who").textContent = "";
  $("why").textContent = words || WHY[reason] || FG.t("You could not be checked in here.");
  $("next").focus();
  backSoon();
}
function clearTimers() {
  clearTimeout(polling); clearTimeout(backTimer); clearInterval(ticking);
  $("countdown").textContent = "";
}
function restart() {
  clearTimers();
  current = null;
  if (OWN && FG_PAGE.lang !== FG_PAGE.default_lang) { location.replace(`/door?lang=${FG_PAGE.default_lang}`); return; }
  show("notice");
}
function backSoon() {
  if (!OWN) return;
  clearTimeout(backTimer); clearInterval(ticking);
  let left = Math.round(BACK_MS / 1000);
  const say = () => { $("countdown").textContent = FG.t("Back to the start in {n} s.", {n: left}); };
  say();
  ticking = setInterval(() => { left -= 1; if (left > 0) say(); }, 1000);
  backTimer = setTimeout(restart, BACK_MS);
}
function touched() {
  clearTimeout(idleTimer);
  if (OWN) idleTimer = setTimeout(() => { if ($("notice").hidden && !current) restart(); else touched(); }, IDLE_MS);
}
async function refreshSetup() {
  if (!device) return;
  try { setup = await FG.api(doorPath("setup"), {background: true}); } catch (err) { return; }
  if (setup.mode !== "checkin" && OWN) { location.replace("/kiosk"); return; }  // set up to enrol again
  $("offline").hidden = setup.online;
  $("room-name").textContent = setup.room ? `— ${setup.room}` : "";
  const rules = setup.basis === "exam_rules";
  $("basis-rules").hidden = !rules;
  $("agree").hidden = $("decline").hidden = rules;
  $("go").hidden = !rules;
  $("agree").disabled = $("go").disabled = !setup.online || setup.mode !== "checkin";
  const state = $("setup-state");
  if (state) state.textContent = setup.mode === "checkin" ? "" : FG.t("This kiosk is not set up as a door (staff set it up on the Kiosk page).");
}

(async () => {
  if (!OWN) {
    await FG.header("/door");
    const kiosks = await FG.api("/api/kiosks");
    const select = document.querySelector("#pick select");
    FG.fill(select, FG.html`${kiosks.map(k => FG.html`<option value="${k.device}">${k.device} (${k.site})${k.online ? "" : " — " + FG.t("offline")}</option>`)}`);
    device = select.value || null;
    select.onchange = () => { device = select.value; refreshSetup(); };
  }
  $("agree").onclick = begin;
  $("go").onclick = begin;
  $("decline").onclick = () => ended("face_refused");
  $("next").onclick = restart;
  for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, touched);
  show("notice");
  touched();
  await refreshSetup();
  setInterval(refreshSetup, 5000);
})();
