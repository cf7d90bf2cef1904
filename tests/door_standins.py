"""Software stand-ins for door hardware, speaking the real protocols: a USB relay board and a Numato USB GPIO
module on pseudo-terminals (this kernel has no gpio-sim), and a Hikvision access controller's ISAPI behind
digest authentication. Each keeps what it was told, and when."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import select
import threading
import time
import tty
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stack import wait_for


class PtyDevice:
    """A serial device on a pseudo-terminal: `handle(data)` gets what the host wrote."""

    def __init__(self):
        self.master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes pass as they are (pyserial does the same on open)
        self.path = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def handle(self, data: bytes) -> None:
        raise NotImplementedError

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.master, 256)
                except OSError:
                    return
                self.handle(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


class RelayBoard(PtyDevice):
    """A USB relay board: reads the four-byte frames (checking each checksum) and keeps what each relay did."""

    def __init__(self):
        self.switched: list[tuple[float, int, bool]] = []  # (monotonic time, channel, on)
        self.bad_frames = 0
        self._buffer = b""
        super().__init__()

    def handle(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            frame, self._buffer = self._buffer[:4], self._buffer[4:]
            if frame[0] != 0xA0 or frame[3] != sum(frame[:3]) & 0xFF or frame[2] not in (0, 1):
                self.bad_frames += 1
                continue
            self.switched.append((time.monotonic(), frame[1], frame[2] == 1))

    def relay_on(self, channel: int = 1) -> bool:
        states = [on for _, ch, on in self.switched if ch == channel]
        return bool(states) and states[-1]


class GpioModule(PtyDevice):
    """A Numato-protocol USB GPIO module: "gpio set|clear|read <pin>\\r", echoing each command, answering reads
    with "<0|1>\\n\\r>" and keeping every level change of every pin. `inputs` are what its input pins read."""

    def __init__(self):
        self.levels: dict[int, bool] = {}
        self.changes: list[tuple[float, int, bool]] = []  # (monotonic time, pin, high)
        self.inputs: dict[int, bool] = {}
        self._buffer = b""
        super().__init__()

    def handle(self, data: bytes) -> None:
        self._buffer += data
        while b"\r" in self._buffer:
            line, self._buffer = self._buffer.split(b"\r", 1)
            os.write(self.master, line + b"\r")  # the echo
            parts = line.decode("ascii", "replace").split()
            if len(parts) == 3 and parts[0] == "gpio" and parts[2].isdigit():
                pin = int(parts[2])
                if parts[1] in ("set", "clear"):
                    high = parts[1] == "set"
                    if self.levels.get(pin) != high:
                        self.changes.append((time.monotonic(), pin, high))
                    self.levels[pin] = high
                elif parts[1] == "read":
                    os.write(self.master, b"\n" + (b"1" if self.inputs.get(pin) else b"0") + b"\n\r>")
                    continue
            os.write(self.master, b"\n\r>")

    def pulses(self, pin: int) -> list[tuple[float, float]]:
        """(start, end) of each high period of `pin`."""
        found, since = [], None
        for at, p, high in self.changes:
            if p != pin:
                continue
            if high:
                since = at
            elif since is not None:
                found.append((since, at))
                since = None
        return found

    def wiegand_frames(self, data0: int, data1: int, gap_s: float = 0.05) -> list[list[int]]:
        """The bit frames sent on a Wiegand pair (a bit is a falling edge; a pause ends a frame).

        The times are when this stand-in's thread read each command from the pty, which under a loaded test run
        lag the sender's 2 ms bit period by tens of milliseconds now and then (CI once split a frame at 20 ms):
        a pause of `gap_s` ends a frame."""
        frames, last = [], None
        for at, pin, high in self.changes:
            if high or pin not in (data0, data1):
                continue
            if last is None or at - last > gap_s:
                frames.append([])
            frames[-1].append(1 if pin == data1 else 0)
            last = at
        return frames


class IsapiController(BaseHTTPRequestHandler):
    """A Hikvision access controller's remote door control and work status, behind digest authentication
    (RFC 7616, MD5, qop=auth). `commands` keeps (door, cmd) of each accepted PUT; `contacts` is what its door
    contacts read (1 = open)."""

    realm, user, password = "DS-K1T671", "admin", "door-pass-1"
    commands: list[tuple[int, str]] = []
    contacts: list[int] = [0, 0]
    nonce = secrets.token_hex(8)
    silent = False  # a controller that no longer answers

    def log_message(self, *args) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self._authorised("PUT"):
            return self._challenge()
        door = re.fullmatch(r"/ISAPI/AccessControl/RemoteControl/door/(\d+)", self.path)
        command = re.fullmatch(rb"<RemoteControlDoor><cmd>(open|close|alwaysOpen|alwaysClose)</cmd></RemoteControlDoor>",
                               body)
        if door and command:
            type(self).commands.append((int(door[1]), command[1].decode()))
        self._answer(200 if door and command else 400, b"<ResponseStatus><statusCode>1</statusCode>"
                     b"<statusString>OK</statusString></ResponseStatus>", "application/xml")

    def do_GET(self) -> None:
        if not self._authorised("GET"):
            return self._challenge()
        if self.path != "/ISAPI/AccessControl/AcsWorkStatus?format=json":
            return self._answer(404, b"", "text/plain")
        body = ('{"AcsWorkStatus": {"doorLockStatus": [0, 0], "magneticStatus": %s}}' % list(self.contacts))
        self._answer(200, body.encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        if self.silent:
            time.sleep(3)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _challenge(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _authorised(self, method: str) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header[7:]))
        md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731  (the protocol's own hash)
        ha1 = md5(f"{fields.get('username')}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{fields.get('uri')}")
        expected = md5(f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
        return fields.get("username") == self.user and fields.get("nonce") == self.nonce and \
            fields.get("response") == expected


class Controller:
    """An ISAPI controller on a free local port."""

    def __init__(self):
        IsapiController.commands, IsapiController.contacts, IsapiController.silent = [], [0, 0], False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), IsapiController)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def commands(self) -> list[tuple[int, str]]:
        return IsapiController.commands

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class GateDevice:
    """A gate device without a camera: the real link, gate rules and doors (relays on a pty board), sending its
    heartbeat so the gateway knows its lanes. `commands` keeps each `cmd/door` payload it received."""

    def __init__(self, bundle_path, workdir, lanes=(1,), fail_mode: str = "secure", unplugged: bool = False):
        from edge.settings import EdgeConfig
        from edge.settings import DoorSettings
        from edge.gate.rules import Gate
        from edge.link.event_link import EventLink
        from wire.bundle import load_bundle

        self.board = RelayBoard()
        config = EdgeConfig()
        config.events.outbox = workdir / "outbox.db"
        config.events.gallery = workdir / "gallery.enc"
        port = str(workdir / "ttyUSB9") if unplugged else self.board.path  # nothing at the port: unplugged
        config.doors = [DoorSettings(lane=n, kind="serial", port=port, channel=n, pulse_ms=300, fail_mode=fail_mode)
                        for n in lanes]
        bundle = load_bundle(bundle_path)
        self.link = EventLink.open(bundle, config, "buffalo_s")
        self.gate = Gate.open(config, self.link.events, bundle.device, bundle.gateway_key)
        self.commands: list[bytes] = []
        if unplugged:  # the lane workers found out at start
            wait_for(lambda: all(d["state"] == "fault" for d in self.gate.status()["doors"]), 5, "the stand-in")

        def on_door(payload: bytes) -> None:
            self.commands.append(payload)
            self.gate.command(payload)
        self.link.on_door = on_door
        self.heartbeat()

    def heartbeat(self) -> None:
        self.link.events.heartbeat(fps=15.0, stage_ms={}, frames=0, frames_dropped=0, gallery_version=None,
                                   gallery_size=0, liveness_enabled=True, uptime_s=1.0, **self.gate.status())

    def close(self) -> None:
        self.gate.stop()
        self.link.close(2.0)
        self.board.close()
