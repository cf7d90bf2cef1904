"""A kiosk (issue 15): a chip reader and a camera at a ticket counter or an exam centre's check-in desk.

The gateway's kiosk page asks (a signed `cmd/card` with the MRZ details the person typed, or none: the kiosk
then reads the card's QR code with its camera and tries the few keys it allows, emrtd/access.py -- or, at an exam
room's door, the keys of the candidates expected there, from the council's list); the kiosk then

1. reads the chip (emrtd/): BAC, secure messaging, DG1, DG2, EF.SOD, and checks the files against the security
   object and its signature. It has no trust store: whether the issuing state is trusted is the gateway's call.
   A `read` event carries the outcome;
2. takes the live face from its camera, with liveness, combined over a few good frames, and matches it 1:1
   against the chip portrait. A `face` event carries the score, the liveness score and the outcome.

What the gateway needs to enrol the person -- DG1, EF.SOD, DG2's digest and the two templates -- travels sealed
with the device's key (wire/evidence.py). The portrait itself never leaves the kiosk, and the kiosk keeps
nothing of the card once the events are in its outbox. Any step that fails ends the read with a `failed` event
saying why, in words the page shows.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date

import cv2
import numpy as np

from edge.kiosk.card import NO_TRUST_STORE, chip_template
from edge.link.events import DeviceEvents
from edge.settings import EdgeConfig
from edge.vision.camera import Camera
from edge.vision.liveness import LivenessChecker
from emrtd.access import CardQr, access_candidates, parse_card_qr, probe_keys, read_card_trying
from emrtd.checks.clones import CLONE_SUSPECTED
from emrtd.checks.passive import EXPIRED_DOCUMENT, TAMPERED, expiry_date
from emrtd.checks.signatures import digest
from emrtd.files.sod import parse_sod
from emrtd.link.apdu import AccessDenied, CardError, CardRemoved, Transport
from emrtd.reader import CardRead, read_card
from models.faces import embed_faces, people_in_view
from models.pack import LoadedPack
from wire.commands import CardDetails, CardReadCommand, CommandRefused, FreshCommands
from wire.events import CardEvent
from wire.evidence import seal

log = logging.getLogger(__name__)

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class LiveFace:
    template: np.ndarray | None  # unit length, combined over the good frames; None: no usable face in time
    liveness: float | None  # mean live score; None without a liveness model


class Kiosk:
    """Runs the reads the gateway asks for, one at a time, on a worker thread of its own."""

    def __init__(self, config: EdgeConfig, pack: LoadedPack, liveness: LivenessChecker | None,
                 events: DeviceEvents, device: str, gallery_key: str, gateway_key: str,
                 reader: Callable[[], Transport], camera: Callable[[], Camera]):
        self.config, self.pack, self.liveness, self.events = config, pack, liveness, events
        self.device, self.gallery_key = device, gallery_key
        self.commands = FreshCommands(device, gateway_key, CardReadCommand)
        self.reader, self.camera = reader, camera
        self.threshold = config.kiosk.verify_threshold or pack.spec.verify_threshold
        self.refused: dict[str, int] = {}
        self._queue: queue.Queue[CardReadCommand | None] = queue.Queue(maxsize=1)
        self._faces = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-face")  # the face, during a read
        self._worker = threading.Thread(target=self._work, name="kiosk", daemon=True)
        self._worker.start()

    def command(self, payload: bytes) -> None:
        """A `cmd/card` payload (the MQTT thread): verified, then queued; refused ones are counted and logged."""
        try:
            command = self.commands.open(payload)
        except CommandRefused as exc:
            self.refused[exc.reason] = self.refused.get(exc.reason, 0) + 1
            log.warning("card command refused: %s", exc)
            return
        try:
            self._queue.put_nowait(command)
        except queue.Full:  # someone is at the kiosk already: the page asking twice is told so, not queued
            self._send(command.id, "failed", "busy", problem="the kiosk is busy with another card")

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=30)
        self._faces.shutdown(wait=True)

    def _work(self) -> None:
        while (command := self._queue.get()) is not None:
            try:
                self.run(command)
            except Exception as exc:  # noqa: BLE001 - a read that breaks must not end the kiosk
                log.exception("card read %s failed", command.id)
                self._send(command.id, "failed", "unreadable", problem=f"the kiosk failed: {type(exc).__name__}")

    def run(self, command: CardReadCommand) -> str:
        """One read, from the card to the live match; the outcome it ended with. Where the card's key does not
        come from the camera (typed, or an exam door's list), the live face is taken while the chip is read: the
        person is before the camera either way, and the door's answer comes a capture sooner. A face taken for a
        card that then fails is dropped, never sent."""
        started = time.monotonic()
        try:
            card = command.details(self.gallery_key)
        except CommandRefused as exc:
            self._send(command.id, "failed", "refused",
                       problem=f"the card details do not open with this kiosk's key ({exc.reason})")
            return "refused"
        face = None if card.from_qr else self._faces.submit(self._live_face)  # a QR code needs the camera first
        try:
            return self._run(command, card, started, face)
        finally:
            if face is not None:
                wait([face])  # the camera is let go before the next read

    def _run(self, command: CardReadCommand, card: CardDetails, started: float, face: Future | None) -> str:
        opened = self._read_card(command.id, card)
        if isinstance(opened, str):
            return opened
        read, attempts = opened
        read_ms = round((time.monotonic() - started) * 1000)  # from the command to the card read, attempts and all
        sod = parse_sod(read.files["SOD"])
        sealed = {"dg1": _b64(read.files["DG1"]), "sod": _b64(read.files["SOD"]),
                  "dg2_digest": digest(sod.hash_algorithm, read.files["DG2"]).hex(), "pack": self.pack.name}
        if "DG13" in read.files:  # the name as written: the gateway checks it against EF.SOD and takes only the name
            sealed["dg13"] = _b64(read.files["DG13"])
        # What only the chip could prove (the gateway holds it to what EF.SOD lists: DG14, DG15).
        sealed["clone"] = {"chip": read.clone.chip, "active": read.clone.active}
        # A card that cannot be enrolled whoever holds it: no face is matched or sent. The gateway confirms from the
        # sealed files (and decides trust, which the kiosk cannot).
        stop = read.outcome if read.outcome in (TAMPERED, CLONE_SUSPECTED) else \
            EXPIRED_DOCUMENT if expiry_date(read.mrz.expiry, date.today()) < date.today() else None
        problems = "; ".join([*read.passive.problems, *read.clone.problems])
        if stop:
            self._send(command.id, "read", stop, problems, sealed=sealed, access_attempts=attempts,
                       protocol=read.protocol, read_ms=read_ms)
            return stop
        portrait = chip_template(read, self.pack, self.config.quality)
        if isinstance(portrait, str):
            self._send(command.id, "failed", "portrait_unusable", problem=f"the chip's portrait: {portrait}")
            return "portrait_unusable"
        chip = portrait.embedding.astype(np.float32)
        self._send(command.id, "read", read.outcome, problems,
                   sealed=sealed | {"chip_template": _b64(chip.tobytes()), "chip_quality": portrait.quality},
                   access_attempts=attempts, protocol=read.protocol, read_ms=read_ms)
        live = face.result() if face is not None else self._live_face()
        if live.template is None:
            self._send(command.id, "face", "no_face", problem="no face was seen clearly enough in time")
            return "no_face"
        score = float(live.template @ chip)
        if self.liveness is not None and live.liveness is not None and live.liveness < self.liveness.threshold:
            outcome = "spoof_suspected"
        else:
            outcome = "matched" if score >= self.threshold else "mismatch"
        self._send(command.id, "face", outcome, score=round(score, 4), threshold=self.threshold,
                   liveness=None if live.liveness is None else round(live.liveness, 4),
                   sealed={"live_template": _b64(live.template.astype(np.float32).tobytes())})
        return outcome

    def _read_card(self, read_id: str, card: CardDetails) -> tuple[CardRead, int | None] | str:
        """The card read, with the keys its QR code took to open it (None: typed details); or the outcome of a
        read that ended (its `failed` event sent)."""
        try:
            if card.typed:
                return read_card(self.reader(), card.document, card.birth, card.expiry, NO_TRUST_STORE), None
            if card.keys is not None:  # an exam room's door: the keys of the candidates expected there
                return self._read_listed([tuple(key.split(",")) for key in card.keys])
            qr = self._card_qr()
            if qr is None:
                self._send(read_id, "failed", "no_qr", problem="the card's QR code was not seen in time")
                return "no_qr"
            opened = read_card_trying(self.reader(), access_candidates(qr, date.today()), NO_TRUST_STORE)
            return opened.read, opened.attempts
        except AccessDenied as exc:
            outcome, problem = "refused", str(exc)
        except CardRemoved as exc:
            outcome, problem = "interrupted", str(exc)
        except (CardError, ValueError) as exc:
            outcome, problem = "unreadable", f"the card could not be read: {exc}"
        self._send(read_id, "failed", outcome, problem=problem)
        return outcome

    def _read_listed(self, keys: list[tuple[str, str, str]]) -> tuple[CardRead, int]:
        """The card opened with whichever listed key it accepts: found with BAC's short handshake first, then read
        with the card's strongest protocol (a PACE-only card: a whole read per key)."""
        transport = self.reader()
        found = probe_keys(transport, keys)
        if found is None:
            opened = read_card_trying(transport, keys, NO_TRUST_STORE)
            return opened.read, opened.attempts
        return read_card(transport, *keys[found], NO_TRUST_STORE), found + 1

    def _card_qr(self) -> CardQr | None:
        """The card's QR code held before the camera, within `qr_s`; None if none was seen (a ticket's QR code, or
        any other, is passed over)."""
        detector = cv2.QRCodeDetector()
        deadline = time.monotonic() + self.config.kiosk.qr_s
        with self.camera() as camera:
            for frame in camera.frames():
                if time.monotonic() > deadline:
                    break
                text, _, _ = detector.detectAndDecode(frame.image)
                if text:
                    try:
                        return parse_card_qr(text)
                    except ValueError:
                        continue
        return None

    def _live_face(self) -> LiveFace:
        """The person before the camera: the first `capture_frames` frames showing one usable face, within
        `capture_s`."""
        settings = self.config.kiosk
        samples: list[tuple[np.ndarray, float | None]] = []
        deadline = time.monotonic() + settings.capture_s
        with self.camera() as camera:
            for frame in camera.frames():
                if time.monotonic() > deadline:
                    break
                # the desk's notion of a person before the camera, as at an exam desk
                faces = people_in_view(frame.image, self.pack, self.config.quality, self.config.exam.min_face_eye_px)
                if len(faces) != 1 or not faces[0].usable:
                    continue  # one person at a time, clearly
                face = faces[0]
                template = embed_faces(self.pack, [face])[0]
                live = float(self.liveness.scores(frame.image, face.box[None])[0]) if self.liveness else None
                samples.append((template, live))
                if len(samples) >= settings.capture_frames:
                    break
        if not samples:
            return LiveFace(None, None)
        combined = np.mean([t for t, _ in samples], axis=0)
        combined /= max(float(np.linalg.norm(combined)), 1e-12)
        lives = [v for _, v in samples if v is not None]
        return LiveFace(combined.astype(np.float32), float(np.mean(lives)) if lives else None)

    def _send(self, read: str, stage: str, outcome: str, problem: str = "", sealed: dict | None = None,
              **fields) -> None:
        nonce = box = ""
        if sealed is not None:
            nonce, box = seal(self.gallery_key, self.device, f"card:{read}:{stage}", json.dumps(sealed).encode())
        self.events.append(CardEvent, read=read, stage=stage, outcome=outcome, problem=problem[:500], nonce=nonce,
                           sealed=box, **fields)
        log.info("card read %s: %s %s %s", read, stage, outcome, problem)
