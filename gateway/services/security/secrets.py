"""The gateway's own secrets, kept in one owner-only folder (`secrets_dir`).

- `signing.key`: Ed25519 key that signs galleries sent to devices (each device
  bundle carries the public half);
- `id-card.key`: the key of the HMAC that stands in for ID-card numbers, so the
  numbers are never stored, yet the same card is recognised again;
- `tickets-<site>.key`: Ed25519 key that signs the site's QR tickets (its gates
  get the public half with their ticket list: wire/tickets.py).
Each is created on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from gateway.services.security.files import write_owner_only
from wire import DeviceKey


class GatewaySecrets:
    def __init__(self, directory: Path | str):
        self.dir = Path(directory)

    def _secret(self, name: str, make) -> str:
        path = self.dir / name
        if not path.exists():
            write_owner_only(path, make())
        return path.read_text().strip()

    @property
    def signing_key(self) -> DeviceKey:
        return DeviceKey.from_text(self._secret("signing.key", lambda: DeviceKey.generate().to_text()))

    def ticket_key(self, site: str) -> DeviceKey:
        """The key that signs `site`'s QR tickets (a site id is letters, digits, '.', '_' and '-' only)."""
        return DeviceKey.from_text(self._secret(f"tickets-{site}.key", lambda: DeviceKey.generate().to_text()))

    def id_card_hash(self, number: str) -> str:
        """Keyed hash of an ID-card number (spaces and case ignored)."""
        key = base64.b64decode(self._secret("id-card.key", lambda: base64.b64encode(secrets.token_bytes(32)).decode()))
        normal = "".join(number.split()).upper()
        return hmac.new(key, normal.encode("utf-8"), hashlib.sha256).hexdigest()
