"""Door controllers over HTTP: a Hikvision controller's ISAPI remote door control, or any webhook.

ISAPI (digest authentication, as the controllers require):

    PUT /ISAPI/AccessControl/RemoteControl/door/<n>
    <RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>

The controller times the unlock itself. A webhook gets a POST of
`{"lane": n, "door": n, "action": "open", "pulse_ms": ms}` and must answer 2xx.
"""

from __future__ import annotations

import httpx

from edge.doors.base import DoorFault, DoorSettings

OPEN_DOOR = b"<RemoteControlDoor><cmd>open</cmd></RemoteControlDoor>"


class HttpDoor:
    def __init__(self, settings: DoorSettings):
        if not settings.url:
            raise ValueError(f"a {settings.kind} door output needs `url`")
        self.settings = settings
        auth = httpx.DigestAuth(settings.username, settings.password or "") if settings.username else None
        self._client = httpx.Client(auth=auth, timeout=settings.timeout_s)

    def pulse(self) -> None:
        s = self.settings
        try:
            if s.kind == "isapi":
                response = self._client.put(f"{s.url.rstrip('/')}/ISAPI/AccessControl/RemoteControl/door/{s.door}",
                                            content=OPEN_DOOR, headers={"Content-Type": "application/xml"})
            else:
                response = self._client.post(s.url, json={"lane": s.lane, "door": s.door, "action": "open",
                                                          "pulse_ms": s.pulse_ms})
        except httpx.HTTPError as exc:
            raise DoorFault(f"door controller {s.url}: {exc.__class__.__name__}: {exc}") from None
        if not response.is_success:
            raise DoorFault(f"door controller {s.url} answered {response.status_code}")

    def close(self) -> None:
        self._client.close()
