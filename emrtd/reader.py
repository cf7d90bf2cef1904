"""Reading a chip: open it with PACE where EF.CardAccess offers it and BAC otherwise, select the eMRTD
application, read EF.COM, DG1, DG2 and EF.SOD in chunks under secure messaging -- DG13, the name as written, and
DG14 and DG15, the chip's own keys, where EF.SOD lists them -- and check them: passive authentication, and Chip
and Active Authentication where offered (emrtd/checks/clones.py). The one entry point is `read_card`.

A chunk that fails in transit (an NFC field lost for a moment) is read again after the session is opened
afresh: the send sequence counter cannot be trusted after a lost answer, so the retry resets the card, opens it
again (PACE or BAC, then Chip Authentication if it passed before) and picks the file up at the same offset. After `attempts` failures the card is taken to be gone (`CardRemoved`); nothing is
kept of a half-read card. An error status is the card's answer, not a lost one: it ends the read at once with
the status, in a `StatusError` naming the file (a card that is there and answering is never told to come back).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from emrtd.checks.clones import (CLONE_SUSPECTED, FAILED, PASSED, ChipAuthentication, CloneChecks, CloneSuspected,
                                 Dg14, active_authentication, chip_authentication, parse_dg14)
from emrtd.checks.keys import parse_dg15
from emrtd.checks.passive import TAMPERED, PassiveAuthentication
from emrtd.checks.passive import authenticate as passive_authentication
from emrtd.checks.trust import TrustStore
from emrtd.files.dg1 import Mrz, parse_dg1
from emrtd.files.dg2 import FaceImage, parse_dg2
from emrtd.files.dg13 import full_name
from emrtd.files.sod import parse_sod
from emrtd.link.apdu import OK, AccessDenied, CardError, CardRemoved, StatusError, Transport, command, split
from emrtd.link.tlv import TlvError, read_header, read_tlv, tlv
from emrtd.opening import pace
from emrtd.opening.bac import BacKeys, mrz_information
from emrtd.opening.bac import authenticate as basic_access_control
from emrtd.opening.secure_messaging import SecureChannel, SecureMessagingError

AID = bytes.fromhex("A0000002471001")  # the eMRTD application (ICAO 9303 part 10)
FILES = {"COM": 0x011E, "DG1": 0x0101, "DG2": 0x0102, "SOD": 0x011D, "DG13": 0x010D, "DG14": 0x010E,
         "DG15": 0x010F}
CARD_ACCESS_SFI = 0x1C  # EF.CardAccess (011C), read by its short identifier before the chip is opened
STILL_OPEN = (0x6982, 0x6987, 0x6988)  # the card is still in an earlier reader's secure messaging
CHUNK = 0xE0  # bytes per READ BINARY: with secure messaging's framing the answer still fits 256 bytes
MAX_SHORT_OFFSET = 0x7FFF  # READ BINARY's offset in P1-P2 is 15 bits; beyond it the odd INS carries it in DO54
MAX_FILE = 0xFFFFFF
GONE = "the card was taken away before it was read; put it back and try again"


@dataclass
class LinkStats:
    """What crossed the link: commands, bytes each way, chunks read again."""

    apdus: int = 0
    sent: int = 0
    received: int = 0
    retries: int = 0


class _Counted:
    def __init__(self, transport: Transport, stats: LinkStats):
        self.transport, self.stats = transport, stats

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.transport.transmit(apdu)
        self.stats.apdus += 1
        self.stats.sent += len(apdu)
        self.stats.received += len(answer)
        return answer

    def reconnect(self) -> None:
        self.transport.reconnect()


def select_application(transport: Transport) -> None:
    """Select the eMRTD application in the clear (the card reset first if an earlier reader left it in secure
    messaging); CardError for a card that has none."""
    _, status = split(transport.transmit(command(0x00, 0xA4, 0x04, 0x0C, AID)))
    if status in STILL_OPEN:  # reset, try again
        transport.reconnect()
        _, status = split(transport.transmit(command(0x00, 0xA4, 0x04, 0x0C, AID)))
    if status != OK:
        raise CardError("this card has no ICAO travel document application (not a chip ID card?)")


class ChipSession:
    """The eMRTD application opened with PACE or BAC (or in the clear, `secure=False`: only a test card allows
    it, for the benchmark's baseline). `protocol` says which opened it; `notes` what was odd on the way."""

    def __init__(self, transport: Transport, mrz_info: str, secure: bool = True, attempts: int = 3):
        self.stats = LinkStats()
        self.link = _Counted(transport, self.stats)
        self.mrz_info, self.secure, self.attempts = mrz_info, secure, attempts
        self.channel: SecureChannel | None = None
        self.protocol = "none"
        self.notes: list[str] = []
        self._pace: list[pace.PaceInfo] | None = None  # EF.CardAccess's offer, read once per card
        self.chip_offer: ChipAuthentication | None = None  # once Chip Authentication passed: run on every reopen

    def open(self) -> None:
        """Open the application: PACE if the card offers a kind this reader runs, else BAC. AccessDenied if
        the card refuses the MRZ details."""
        if self.channel is not None:  # opened before: start from a reset card, not from its old session
            self.channel = None
            self.link.reconnect()
        if self.secure and self._pace is None:
            self._pace = self._card_access()
        chosen = pace.choose(self._pace) if self.secure else None
        if chosen is not None:
            try:
                self.channel = pace.authenticate(self.link, chosen, self.mrz_info,
                                                 ambiguous=len({i.parameter for i in self._pace}) > 1)
            except (AccessDenied, CardRemoved):
                raise
            except CardError as exc:  # open readers report cards whose PACE fails where BAC works
                self.notes.append(f"{chosen.describe()} failed ({exc}): BAC was used")
                self._pace, chosen = [], None
                self.link.reconnect()
        if chosen is not None:
            self.protocol = chosen.describe()
            _, status = self.exchange(0xA4, 0x04, 0x0C, AID)
            if status != OK:
                raise CardError("this card has no ICAO travel document application (not a chip ID card?)")
        else:
            self._open_with_bac()
        if self.chip_offer is not None:
            self.authenticate_chip(self.chip_offer)

    def _open_with_bac(self) -> None:
        select_application(self.link)
        self.channel = None
        if self.secure:
            self.channel = basic_access_control(self.link, BacKeys.from_mrz_information(self.mrz_info))
            self.protocol = "BAC"

    def authenticate_chip(self, offer: ChipAuthentication) -> None:
        """Chip Authentication (DG14), then one command under the keys it agreed -- selecting DG14 again, whose
        answer the chip must MAC: CloneSuspected if it cannot, i.e. it does not hold DG14's private key."""
        self.channel = chip_authentication(self.exchange, offer)
        try:
            self._select(FILES["DG14"], "DG14")
        except (SecureMessagingError, StatusError) as exc:
            raise CloneSuspected("the chip cannot go on under the keys its DG14 key agrees: it does not hold that "
                                 f"key ({exc})") from None
        self.chip_offer = offer

    def _card_access(self) -> list[pace.PaceInfo]:
        """The PACE entries of EF.CardAccess, read in the clear before anything is opened; none if the card
        has no such file (then BAC), and a note if the file does not parse or offers nothing this reader runs."""
        answer = command(0x00, 0xB0, 0x80 | CARD_ACCESS_SFI, 0x00, le=256)
        data, status = split(self.link.transmit(answer))
        if status in STILL_OPEN:
            self.link.reconnect()
            data, status = split(self.link.transmit(answer))
        if status not in (OK, 0x6282) or not data:
            return []
        try:
            end = _length_from_header(data, "EF.CardAccess")
            while len(data) < end:  # longer than one answer: the rest from the file now selected
                more, status = split(self.link.transmit(command(0x00, 0xB0, len(data) >> 8, len(data) & 0xFF,
                                                                le=min(CHUNK, end - len(data)))))
                if status not in (OK, 0x6282) or not more:
                    raise StatusError("reading EF.CardAccess", status)
                data += more
            offered = pace.pace_infos(data[:end])
        except (CardError, TlvError) as exc:
            self.notes.append(f"EF.CardAccess could not be read ({exc}): BAC was used")
            return []
        if offered and pace.choose(offered) is None:
            self.notes.append(f"the card offers {', '.join(i.describe() for i in offered)}, which this reader "
                              "does not run: BAC was used")
        return offered

    def exchange(self, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> tuple[bytes, int]:
        if self.channel is None:
            return split(self.link.transmit(command(0x00, ins, p1, p2, data, le)))
        return self.channel.unwrap(self.link.transmit(self.channel.wrap(0x00, ins, p1, p2, data, le)))

    def _select(self, fid: int, name: str) -> None:
        _, status = self.exchange(0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))
        if status != OK:
            raise StatusError(f"the card has no {name}", status)

    def _chunk(self, offset: int, size: int, name: str) -> bytes:
        if offset <= MAX_SHORT_OFFSET:
            data, status = self.exchange(0xB0, offset >> 8, offset & 0xFF, le=size)
        else:  # ISO 7816-4 READ BINARY B1: the offset in DO54, the data back in DO53
            data, status = self.exchange(0xB1, 0x00, 0x00, tlv(0x54, offset.to_bytes(3, "big")), le=size + 4)
            if data:
                try:
                    tag, data, _ = read_tlv(data)
                except TlvError:
                    tag = None
                if tag != 0x53:
                    raise CardError(f"reading {name} at byte {offset}: the card's answer is not DO53")
        if status not in (OK, 0x6282) or not data:  # 6282: end of file before Le, the data is still good
            raise StatusError(f"reading {name} at byte {offset}", status)
        return data

    def read_file(self, name: str) -> bytes:
        """The whole file `name` (COM, DG1, DG2, SOD): its length from the first bytes, then chunk by chunk."""
        fid, content, total, failures = FILES[name], bytearray(), None, 0
        self._select(fid, name)
        while total is None or len(content) < total:
            offset = len(content)
            size = 8 if total is None else min(CHUNK, total - offset)  # 8: any tag and length fit
            try:
                content += self._chunk(offset, size, name)
            except (CardRemoved, SecureMessagingError) as exc:
                failures += 1
                self.stats.retries += 1
                if failures >= self.attempts:
                    raise CardRemoved(GONE) from exc
                self.channel = None  # the session's counter is lost with the answer: reset the card, open afresh
                self.link.reconnect()
                self.open()
                self._select(fid, name)
                continue
            if total is None:
                total = _length_from_header(bytes(content), name)
        return bytes(content[:total])


def _length_from_header(head: bytes, name: str) -> int:
    try:
        _, length, start = read_header(head)
        end = start + length
    except TlvError as exc:
        raise CardError(f"{name} does not start like a chip file ({exc})") from None
    if end > MAX_FILE:
        raise CardError(f"{name} is {end} bytes, larger than this reader reads")
    return end


@dataclass
class CardRead:
    """What one read of a card gave: the MRZ, the portraits, the passive-authentication outcome, the raw
    files (to hash again or to store nowhere) and what crossed the link."""

    mrz: Mrz
    faces: list[FaceImage]
    passive: PassiveAuthentication
    files: dict[str, bytes] = field(repr=False)
    stats: LinkStats
    data_groups: tuple[int, ...] = ()  # as EF.COM lists them
    notes: tuple[str, ...] = ()  # what was odd about the card without failing the read (a malformed EF.COM)
    full_name: str | None = None  # DG13's, with its diacritics: only from a DG13 that EF.SOD covers
    protocol: str = "BAC"  # what opened the chip: BAC, or PACE with its mapping, suite and curve
    clone: CloneChecks = field(default_factory=CloneChecks)  # Chip and Active Authentication, where offered

    @property
    def outcome(self) -> str:
        """The card's verdict, the gravest: `tampered`, `clone_suspected`, or passive authentication's."""
        if self.passive.outcome != TAMPERED and self.clone.suspected:
            return CLONE_SUSPECTED
        return self.passive.outcome

    @property
    def name(self) -> str:
        """The holder's name as the card writes it (DG13), else DG1's ASCII one."""
        return self.full_name or self.mrz.name


def _listed_groups(com: bytes) -> tuple[int, ...]:
    """The data groups EF.COM lists; TlvError if it does not parse."""
    tag, value, _ = read_tlv(com)
    tags = {0x61: 1, 0x75: 2, 0x63: 3, 0x76: 4, 0x65: 5, 0x66: 6, 0x67: 7, 0x68: 8, 0x69: 9, 0x6A: 10, 0x6B: 11,
            0x6C: 12, 0x6D: 13, 0x6E: 14, 0x6F: 15, 0x70: 16}
    offset, listed = 0, ()
    while offset < len(value):
        inner_tag, inner, offset = read_tlv(value, offset)
        if inner_tag == 0x5C:
            listed = tuple(sorted(tags[b] for b in inner if b in tags))
    return listed


def read_card(transport: Transport, document: str, birth: str, expiry: str, trust: TrustStore,
              today: dt.date | None = None, secure: bool = True) -> CardRead:
    """Open the card with the three MRZ fields, read it and check it. ValueError for malformed fields,
    AccessDenied if the card refuses them, CardRemoved if it left, CardError (or TlvError, a ValueError) for a
    card whose files are not what ICAO 9303 says."""
    session = ChipSession(transport, mrz_information(document, birth, expiry), secure=secure)
    files, notes, clone = {}, session.notes, CloneChecks()
    try:
        session.open()
        # EF.COM only lists the data groups: the security object does not cover it and the check does not need
        # it, so a card whose EF.COM is missing or malformed is still read (and says so).
        try:
            files["COM"] = session.read_file("COM")
        except CardRemoved:
            raise
        except CardError as exc:
            notes.append(f"EF.COM could not be read ({exc}): the data groups it lists are unknown")
            session.open()  # after an error status, start the session afresh rather than trust its counter
        files |= {name: session.read_file(name) for name in ("DG1", "DG2", "SOD")}
        sod = parse_sod(files["SOD"])
        # A clone could leave out the files that would unmask it: one EF.SOD lists must be served.
        dg14 = None
        if 14 in sod.hashes and _read_signed(session, "DG14", files, clone):
            # Chip Authentication first: what is read after it is read under its keys
            dg14 = _chip_authentication(session, files["DG14"], clone, notes)
        if 13 in sod.hashes:  # the name as written, only where the issuer signed it (Vietnam's cards)
            files["DG13"] = session.read_file("DG13")
        if 15 in sod.hashes and _read_signed(session, "DG15", files, clone):
            _active_authentication(session, files["DG15"], dg14, clone, notes)
    except CardRemoved as exc:
        raise CardRemoved(GONE) from exc
    mrz = parse_dg1(files["DG1"])
    faces = parse_dg2(files["DG2"])
    groups = {1: files["DG1"], 2: files["DG2"]} | {n: files[f"DG{n}"] for n in (13, 14, 15) if f"DG{n}" in files}
    passive = passive_authentication(sod, groups, trust, mrz.expiry, today, issuing_state=mrz.issuing_state)
    name = None
    if "DG13" in files:
        try:
            name = full_name(files["DG13"])
        except TlvError as exc:
            notes.append(f"DG13 does not parse ({exc}): the name is DG1's")
    listed = ()
    if "COM" in files:
        try:
            listed = _listed_groups(files["COM"])
        except TlvError as exc:
            notes.append(f"EF.COM does not parse ({exc}): the data groups it lists are unknown")
    return CardRead(mrz, faces, passive, files, session.stats, listed, tuple(notes), name, session.protocol, clone)


def _read_signed(session: ChipSession, name: str, files: dict[str, bytes], clone: CloneChecks) -> bool:
    """Read DG14 or DG15, which EF.SOD lists; a chip that answers it has no such file fails the check the file
    is for (a clone leaving out what would unmask it), and the read goes on in a session opened afresh."""
    try:
        files[name] = session.read_file(name)
        return True
    except StatusError as exc:
        if name == "DG14":
            clone.chip = FAILED
        else:
            clone.active = FAILED
        clone.problems.append(f"EF.SOD lists {name}, but the chip does not serve it ({exc})")
        session.open()
        return False


def _chip_authentication(session: ChipSession, dg14_file: bytes, clone: CloneChecks,
                         notes: list[str]) -> Dg14 | None:
    """Run Chip Authentication where DG14 offers it; a chip that fails it is noted in `clone` and the read goes
    on in a session opened afresh (so the outcome says clone_suspected, not a broken link)."""
    try:
        dg14 = parse_dg14(dg14_file)
    except TlvError as exc:
        notes.append(f"DG14 does not parse ({exc}): Chip Authentication was not run")
        return None
    if dg14.chip_authentication is None:
        return dg14
    try:
        session.authenticate_chip(dg14.chip_authentication)
        clone.chip = PASSED
    except CloneSuspected as exc:
        clone.chip = FAILED
        clone.problems.append(str(exc))
        session.open()
    return dg14


def _active_authentication(session: ChipSession, dg15_file: bytes, dg14: Dg14 | None, clone: CloneChecks,
                           notes: list[str]) -> None:
    try:
        key = parse_dg15(dg15_file)
    except ValueError as exc:
        notes.append(f"DG15 does not parse ({exc}): Active Authentication was not run")
        return
    try:
        active_authentication(session.exchange, key, dg14.active_hash if dg14 else None)
        clone.active = PASSED
    except CloneSuspected as exc:
        clone.active = FAILED
        clone.problems.append(str(exc))
