"""A card on a real PC/SC reader (issue 26): Debian's pcscd with the vsmartcard-vpcd driver, and the software card
(tests/emrtd_card.py) served to it over vpcd's protocol, so that the tests' reads take the path a kiosk's reader
takes: pyscard -> pcscd -> the reader driver -> the card.

vpcd's protocol (../shared/data/README.md): the card side connects to the driver's TCP port; each message is
framed by a 2-byte big-endian length; a 1-byte message is a control (0 power off, 1 power on, 2 reset, 4 send the
ATR), any other a command APDU, answered by the response APDU. Closing the connection takes the card away.

pcscd 1.9 listens only at /run/pcscd/pcscd.comm, so each test process runs its own in a mount namespace of its own
where a folder of the test's is /run/pcscd; pyscard finds it through PCSCLITE_CSOCK_NAME. Two test workers never
share a reader.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from emrtd.link.apdu import CardError, CardRemoved

DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
ATR = bytes.fromhex("3B80800101")  # an ISO/IEC 14443-4 card without historical bytes (T=1), as NFC readers report
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


def _free_ports() -> int:
    """A port free with the one after it: the vpcd driver listens on both (its two slots), and pcscd gives up
    the reader when either is taken."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("", port + 1))
            except OSError:
                continue
            return port


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


class VirtualReader:
    """pcscd with one vpcd reader (index 0 for `PcscTransport`), and `insert(card)` / `remove()` for the card."""

    def __init__(self, folder: Path):
        missing = [name for name, found in (("pcscd", shutil.which("pcscd")), ("vsmartcard-vpcd", DRIVER.exists()),
                                            ("unshare", shutil.which("unshare"))) if not found]
        if missing:
            raise RuntimeError(f"the PC/SC tests need Debian's {', '.join(missing)} (.ci/run installs them)")
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._socket: socket.socket | None = None
        self._removals = 0  # pcscd's count of removals when the card now on the reader was put there
        self.card = None
        for _ in range(3):  # another process may take a port between our look and pcscd's
            if self._start():
                return
        raise RuntimeError(f"pcscd did not start its reader: {self.log_path.read_text(errors='replace')[-2000:]}")

    def _start(self) -> bool:
        """pcscd on a fresh pair of ports; False if it could not open them (and has ended)."""
        self.port = _free_ports()
        conf, run = self.folder / "reader.conf.d", self.folder / "run"
        conf.mkdir(exist_ok=True)
        run.mkdir(exist_ok=True)
        (conf / "vpcd").write_text(f'FRIENDLYNAME "FaceGate virtual reader"\nDEVICENAME /dev/null:0x{self.port:X}\n'
                                   f"LIBPATH {DRIVER}\nCHANNELID 0x{self.port:X}\n")
        os.environ["PCSCLITE_CSOCK_NAME"] = str(run / "pcscd.comm")
        self.log_path = self.folder / "pcscd.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            # /run/pcscd is missing where pcscd's service has never run (a fresh machine, a container)
            ["unshare", "--mount", "sh", "-c", f'mkdir -p /run/pcscd && mount --bind "{run}" /run/pcscd && '
                                               f'exec pcscd --foreground --info --config "{conf}"'],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        def settled() -> bool:
            return (self.process.poll() is not None or b"Could not initialize" in self.log_path.read_bytes()
                    or self._reader_named())
        try:
            _wait(settled, 20, "pcscd and its virtual reader")
        except TimeoutError:
            self.close()
            raise
        if self.process.poll() is None and self._reader_named():
            return True
        self.close()
        return False

    @staticmethod
    def _reader_named() -> bool:
        from emrtd.link.pcsc import reader_names

        try:
            return any(name.startswith("FaceGate virtual reader") for name in reader_names())
        except CardError:
            return False

    def _seen(self, event: str) -> int:
        """How often pcscd's reader thread has logged `event` ("Card inserted into", "Card Removed From")."""
        return self.log_path.read_bytes().count(event.encode())

    def insert(self, card) -> None:
        """Put `card` (a SoftwareCard) on the reader, taking off the one there; returns once pcscd has seen it."""
        self.remove()
        self.card = card
        inserted, self._removals = self._seen("Card inserted into"), self._seen("Card Removed From")
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        connection.settimeout(None)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = connection
        threading.Thread(target=self._serve, args=(connection, card), daemon=True).start()
        _wait(lambda: self._seen("Card inserted into") > inserted, 10, "pcscd to see the card")

    def remove(self) -> None:
        """Take the card off the reader (if the card did not leave by itself); returns once pcscd's reader thread
        has seen it gone -- a card put back before that would go unseen."""
        if self._socket is not None:
            self._close(self._socket)
            self._socket = None
            _wait(lambda: self._seen("Card Removed From") > self._removals, 10, "pcscd to see the card gone")
        self.card = None

    @staticmethod
    def _close(connection: socket.socket) -> None:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        connection.close()

    def _serve(self, connection: socket.socket, card) -> None:
        def receive(size: int) -> bytes:
            data = b""
            while len(data) < size:
                # vpcd writes the length and the message apart: acknowledge at once, or each APDU waits for the
                # delayed ACK (40 ms a command)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                chunk = connection.recv(size - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            return data

        try:
            while True:
                (size,) = struct.unpack(">H", receive(2))
                message = receive(size)
                if size == 1:
                    if message[0] == GET_ATR:
                        connection.sendall(struct.pack(">H", len(ATR)) + ATR)
                    elif message[0] in (POWER_OFF, RESET):
                        card.reconnect_card()
                    continue
                try:
                    answer = card.transmit(message)
                except CardRemoved:  # the software card left (remove_after): off the reader, as a person pulls it
                    self._close(connection)
                    return
                connection.sendall(struct.pack(">H", len(answer)) + answer)
        except (EOFError, OSError):
            return

    def close(self) -> None:
        if self._socket is not None:
            self._close(self._socket)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
