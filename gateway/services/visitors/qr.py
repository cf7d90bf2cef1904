"""QR tickets: the text a pass's ticket carries, its printable image, and each gate's ticket list.

The ticket list (`cmd/tickets`, retained) gives a gate its site's ticket key, and the QR tickets it must refuse
though they look valid -- cancelled, or every entry used at some gate of the site (wire/tickets.py). It is made
again for a site only when one of its passes has changed (an indexed query a pass otherwise), and sent to each
of its gates when different from what that gate was last sent. The broker keeps the newest, so a gate that
was offline gets it when it reconnects; a gateway restarting sends each one once more.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone

import cv2

from gateway.services.events.local_time import DEFAULT_TIME_ZONE
from gateway.services.security.secrets import GatewaySecrets
from gateway.services.visitors.occupancy import today
from gateway.storage import Store
from wire.commands import TICKETS
from wire.events import utc_text
from wire.tickets import TicketList, seal_ticket_list, seal_ticket, ticket_of
from wire.topics import cmd_topic

log = logging.getLogger(__name__)


def ticket_text(secrets: GatewaySecrets, pass_view: dict) -> str | None:
    """What a QR pass's ticket says, signed with its site's key (None for a pass held by a face)."""
    if pass_view["subject"] is not None:
        return None
    ticket = ticket_of(pass_view["id"], pass_view["site"], pass_view["valid_from"], pass_view["valid_until"],
                       pass_view["entries"], pass_view["gates"])
    return seal_ticket(ticket, secrets.ticket_key(pass_view["site"]))


def ticket_image(text: str, module_px: int = 8) -> bytes:
    """A ticket's QR code as a PNG: `module_px` pixels a module, with the 4-module quiet zone readers need."""
    params = cv2.QRCodeEncoder_Params()
    params.correction_level = cv2.QRCodeEncoder_CORRECT_LEVEL_M
    params.mode = cv2.QRCodeEncoder_MODE_ALPHANUMERIC  # base32 and '.': 5.5 bits a character, not 8
    code = cv2.QRCodeEncoder.create(params).encode(text)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    quiet = 4 * module_px
    code = cv2.copyMakeBorder(code, quiet, quiet, quiet, quiet, cv2.BORDER_CONSTANT, value=255)
    ok, png = cv2.imencode(".png", code)
    if not ok:
        raise ValueError("the ticket's image could not be made")
    return png.tobytes()


class TicketLists:
    """Keeps every active gate's ticket list current (called on the gallery pusher's pass)."""

    def __init__(self, store: Store, secrets: GatewaySecrets, publish, time_zone: str = DEFAULT_TIME_ZONE):
        self.store, self.secrets, self.publish, self.time_zone = store, secrets, publish, time_zone
        self._made: dict[str, tuple[tuple, TicketList, str]] = {}  # site -> ((changed at, full), list, digest)
        self._sent: dict[str, str] = {}  # device -> digest of the list it was sent

    def site_list(self, site: str, now: str) -> tuple[TicketList, str]:
        """The site's list and its digest (remade only when a pass there has changed, or the site filled or
        emptied)."""
        occupancy = self.store.occupancy.of(site, today(self.time_zone))
        changed = (self.store.passes.changed_at(site), bool(occupancy and occupancy.full))
        made = self._made.get(site)
        if made is None or made[0] != changed:
            rows = self.store.passes.tickets_to_list(site, now)
            tickets = TicketList({site: self.secrets.ticket_key(site).public_text},
                                 {p.id: p.used for p in rows if p.entries is not None and p.used > 0},
                                 frozenset(p.id for p in rows if p.status == "cancelled"), now, changed[1])
            digest = hashlib.sha256(repr((sorted(tickets.site_keys.items()), sorted(tickets.spent.items()),
                                          sorted(tickets.cancelled), tickets.full)).encode()).hexdigest()
            made = self._made[site] = (changed, tickets, digest)
        return made[1], made[2]

    def sync(self, now: str | None = None) -> list[str]:
        """Send each active gate whose list changed its new one; the gates sent to."""
        now = now or utc_text(datetime.now(timezone.utc))
        sent = []
        lists: dict[str, tuple[TicketList, str]] = {}  # a site's, looked at once a pass: a site has many gates
        for device in self.store.devices.all():
            if not device.active or device.kind != "gate":
                continue
            if device.site not in lists:
                lists[device.site] = self.site_list(device.site, now)
            tickets, digest = lists[device.site]
            if self._sent.get(device.id) == digest:
                continue
            payload = seal_ticket_list(device.id, tickets, self.secrets.signing_key)
            if self.publish(cmd_topic(device.site, device.id, TICKETS), payload):
                self._sent[device.id] = digest
                sent.append(device.id)
                log.info("ticket list for %s: %d spent, %d cancelled%s", device.id, len(tickets.spent),
                         len(tickets.cancelled), "; the site is full" if tickets.full else "")
        return sent
