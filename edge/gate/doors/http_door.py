"""Door controllers over HTTP: a Hikvision controller's ISAPI remote door control, or any webhook.

ISAPI (digest authentication, as the controllers require):

    PUT /ISAPI/AccessControl/RemoteControl/door/<n>
    <RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>        (alwaysOpen, close: see fail modes)
    GET /ISAPI/AccessControl/AcsWorkStatus?format=json             door contacts: "magneticStatus", 1 = open

The controller times the unlock itself, and keeps its own fail mode when FaceGate is gone; for a `safe` door
FaceGate also says `alwaysOpen` when it stops and `close` when it starts. A webhook gets a POST of
`{"lane": n, "door": n, "action": "open" | "release" | "lock", "pulse_ms": ms}` and must answer 2xx.
"""

from __future__ import annotations

import time

import httpx

from edge.gate.doors.base import DoorFault

from edge.settings import DoorSettings


def isapi_command(cmd: str) -> bytes:
    return f"<RemoteControlDoor><cmd>{cmd}</cmd></RemoteControlDoor>".encode()


class HttpDoor:
    def __init__(self, settings: DoorSettings):
        self.settings = settings
        password = settings.password.get_secret_value() if settings.password else ""
        auth = httpx.DigestAuth(settings.username, password) if settings.username else None
        self._client = httpx.Client(auth=auth, timeout=settings.timeout_s)

    def open(self, subject: str | None = None) -> float:
        self._send("open")
        return time.monotonic()

    pulse = open  # the controller times the opening itself

    def relock(self) -> None:
        pass

    def hold(self) -> None:
        if self.settings.fail_mode == "safe":
            self._send("close" if self.settings.kind == "isapi" else "lock")

    def door_state(self) -> str | None:
        s = self.settings
        if s.kind != "isapi":
            return None
        try:
            response = self._client.get(f"{s.url.rstrip('/')}/ISAPI/AccessControl/AcsWorkStatus",
                                        params={"format": "json"})
            contacts = response.json()["AcsWorkStatus"]["magneticStatus"]
            return "open" if int(contacts[s.door - 1]) == 1 else "closed"
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
            return None  # status is a courtesy of the controller; the opening itself reports faults

    def close(self) -> None:
        try:
            if self.settings.fail_mode == "safe":
                self._send("alwaysOpen" if self.settings.kind == "isapi" else "release")
        except DoorFault:
            pass  # stopping anyway; the controller's own fail mode takes over
        self._client.close()

    def _send(self, action: str) -> None:
        s = self.settings
        try:
            if s.kind == "isapi":
                response = self._client.put(f"{s.url.rstrip('/')}/ISAPI/AccessControl/RemoteControl/door/{s.door}",
                                            content=isapi_command(action), headers={"Content-Type": "application/xml"})
            else:
                response = self._client.post(s.url, json={"lane": s.lane, "door": s.door, "action": action,
                                                          "pulse_ms": s.pulse_ms})
        except httpx.HTTPError as exc:
            raise DoorFault(f"door controller {s.url}: {exc.__class__.__name__}: {exc}") from None
        if not response.is_success:
            raise DoorFault(f"door controller {s.url} answered {response.status_code}")
