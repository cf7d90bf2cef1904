"""Real readers (USB contact or NFC) through PC/SC: pyscard over the system's pcscd.

pyscard is an optional extra (`pip install 'facegate[reader]'`; it builds against libpcsclite, Debian:
`apt install pcscd libpcsclite-dev swig`), imported only when a reader is used, so the gateway and the tests run
without it.
"""

from __future__ import annotations

from emrtd.link.apdu import CardError, CardRemoved


def _pyscard():
    try:
        from smartcard import Exceptions, System
    except ImportError:
        raise CardError("reading a card needs pyscard: pip install 'facegate[reader]', and pcscd running") from None
    return System, Exceptions


def _readers(System, Exceptions) -> list:
    from smartcard.pcsc.PCSCExceptions import BaseSCardException  # pcscd not there: "Service not available"

    try:
        return System.readers()
    except (Exceptions.SmartcardException, BaseSCardException) as exc:
        raise CardError(f"PC/SC is not available ({exc}); is pcscd running?") from None


def reader_names() -> list[str]:
    """The readers pcscd knows, in the order `--reader N` counts them. CardError if pcscd is not there."""
    return [str(r) for r in _readers(*_pyscard())]


class PcscTransport:
    """The card on reader `index`, as a Transport (emrtd/link/apdu.py)."""

    def __init__(self, index: int = 0):
        System, self._errors = _pyscard()
        found = _readers(System, self._errors)
        if not 0 <= index < len(found):
            raise CardError(f"no reader {index}: {len(found)} reader(s) connected")
        self.name = str(found[index])
        self.connection = found[index].createConnection()
        self._connect()

    def _connect(self) -> None:
        try:
            self.connection.connect()
        except self._errors.NoCardException:
            raise CardRemoved(f"no card on {self.name}: put the card on the reader") from None
        except self._errors.CardConnectionException as exc:
            raise CardRemoved(f"the card on {self.name} does not answer ({exc})") from None

    def transmit(self, apdu: bytes) -> bytes:
        try:
            data, sw1, sw2 = self.connection.transmit(list(apdu))
        except self._errors.CardConnectionException as exc:
            raise CardRemoved(f"the link to the card failed ({exc})") from None
        return bytes(data) + bytes((sw1, sw2))

    def reconnect(self) -> None:
        try:
            self.connection.disconnect()
        except self._errors.CardConnectionException:
            pass
        self._connect()

    def close(self) -> None:
        try:
            self.connection.disconnect()
        except self._errors.CardConnectionException:
            pass
