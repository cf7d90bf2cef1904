"""Secure messaging after BAC or PACE (ICAO 9303 part 11, 9.8): every command and answer encrypted and MACed
under the session keys, with a send sequence counter that both sides step once per command and once per answer,
so a replayed, dropped or altered message fails its MAC. The cipher suite (3DES or AES, emrtd/opening/crypto.py)
sets the block, the counter's size and how the IV is made.
"""

from __future__ import annotations

from emrtd.link.apdu import OK, CardError, split
from emrtd.link.tlv import TlvError, read_tlv, tlv
from emrtd.opening import crypto
from emrtd.opening.crypto import TRIPLE_DES, Suite

SM_FAILED = (0x6987, 0x6988)  # expected secure-messaging objects missing, or incorrect: the session is over


class SecureMessagingError(CardError):
    """An answer whose MAC or framing is wrong: the channel cannot be trusted any more."""


def split_protected(body: bytes) -> tuple[dict[int, bytes], bytes, bytes | None]:
    """(data objects by tag, the bytes the MAC covers, the MAC) of a protected command's or answer's body: every
    data object but DO8E is MACed, as it stands. TlvError if the body is not BER-TLV."""
    fields, macd, mac, offset = {}, b"", None, 0
    while offset < len(body):
        start = offset
        tag, value, offset = read_tlv(body, offset)
        if tag == 0x8E:
            mac = value
        else:
            fields[tag] = value
            macd += body[start:offset]
    return fields, macd, mac


class SecureChannel:
    """The reader's half of a secure-messaging session: the session keys, the counter (from BAC's randoms, zero
after PACE and after Chip Authentication) and the suite they belong to."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: bytes, suite: Suite = TRIPLE_DES):
        self.ks_enc, self.ks_mac, self.suite = ks_enc, ks_mac, suite
        self._ssc = int.from_bytes(ssc, "big")

    @property
    def ssc(self) -> bytes:
        return self._ssc.to_bytes(self.suite.block, "big")

    def _step(self) -> bytes:
        self._ssc = (self._ssc + 1) % (1 << (8 * self.suite.block))
        return self.ssc

    def wrap(self, cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
        """The protected APDU of a plain command: data in DO87 (an even INS: a padding-indicator byte, then the
        cryptogram) or DO85 (an odd INS, whose data are BER-TLV objects: the cryptogram alone, ISO/IEC 7816-4
        10.2), Le in DO97, their MAC in DO8E."""
        header = bytes((cla | 0x0C, ins, p1, p2))
        suite, ssc, body = self.suite, self._step(), b""
        if data:
            cryptogram = suite.encrypt(self.ks_enc, crypto.pad(data, suite.block), ssc)
            body += tlv(0x85, cryptogram) if ins & 1 else tlv(0x87, b"\x01" + cryptogram)
        if le is not None:
            body += tlv(0x97, bytes((le & 0xFF,)))
        mac = suite.mac(self.ks_mac, ssc + crypto.pad(header, suite.block) + body)
        body += tlv(0x8E, mac)
        return header + bytes((len(body),)) + body + b"\x00"

    def unwrap(self, response: bytes) -> tuple[bytes, int]:
        """(plain data, status) of a protected answer, or of an error status the card answered in the clear
        (cards do: 6A82 for a file it does not have). SecureMessagingError if its MAC is wrong, or if the card
        says secure messaging itself failed (6987, 6988); the counter steps either way, as the card's did."""
        ssc = self._step()
        raw, status = split(response)
        if not raw:
            if status in SM_FAILED:
                raise SecureMessagingError(f"the card left secure messaging ({status:04X})")
            if status == OK:
                raise SecureMessagingError("an answer without secure messaging")
            return b"", status
        try:
            fields, macd, mac = split_protected(raw)
        except TlvError as exc:
            raise SecureMessagingError(f"an answer that is not secure messaging ({exc})") from None
        if mac is None or not crypto.same_mac(mac, self.suite.mac(self.ks_mac, ssc + macd)):
            raise SecureMessagingError("an answer whose MAC is wrong (altered, or not from this card)")
        if 0x99 in fields:
            status = int.from_bytes(fields[0x99], "big")
        data = b""
        if 0x87 in fields:
            encrypted = fields[0x87]
            if encrypted[:1] != b"\x01":
                raise SecureMessagingError("encrypted data without its padding indicator")
            data = crypto.unpad(self.suite.decrypt(self.ks_enc, encrypted[1:], ssc))
        elif 0x85 in fields:  # the answer to an odd INS: BER-TLV data, no padding indicator
            data = crypto.unpad(self.suite.decrypt(self.ks_enc, fields[0x85], ssc))
        return data, status
