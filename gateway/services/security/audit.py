"""Checking the audit chain, and the signed anchor that makes cutting its tail visible.

The chain itself (gateway/storage/audit.py) catches any entry changed, removed
or inserted in the middle. It cannot, on its own, notice its newest entries cut
off, or a whole database swapped for an empty one: what remains is a valid,
shorter chain. So after every commit that extends the chain, the gateway writes
the new head -- sequence number and hash -- signed with its own Ed25519 key to
an **anchor file outside the database** (in the secrets folder). `verify`
compares the chain with the anchor: a chain shorter than the anchor, or one
whose entry at the anchor's position has another hash, is broken. The gateway
also refuses to start on such a database (`AnchorMismatch`) unless an admin
adopts it on purpose, which is itself recorded.

Writing the anchor after the commit means a crash in between leaves the anchor
one commit behind the database -- never ahead -- so it never raises a false alarm.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from sqlalchemy.exc import DBAPIError

from gateway.services.security.files import owner_only_folder, write_owner_only
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import SchemaTooNew, Store
from gateway.storage.database import is_url
from gateway.storage.audit import chain_hash, ids_digest, row_digest
from gateway.storage.events import DIGEST_V1_COLUMNS
from wire import DeviceKey, public_key_from_text
from wire.events import utc_text
from wire.signing import canonical_json

log = logging.getLogger(__name__)

ANCHOR_FILE = "audit-anchor.json"
# Entries that delete stored events on purpose, each with the digest of the ids it deleted (kept in purged_events):
# retention's purges, and a kiosk's card read closed once the person answered (gateway/services/people/kiosk.py).
PURGES = ("events.purged", "card.read_closed")


class AnchorMismatch(RuntimeError):
    """The database's audit chain does not reach the head the gateway last signed."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    at: str  # when the gateway signed it


class Anchor:
    """The newest chain head, signed by the gateway, in a file beside its other secrets."""

    def __init__(self, path: Path, key: DeviceKey):
        self.path = Path(path)
        self.key = key
        self._lock = threading.Lock()

    def read(self) -> Head | None:
        """The signed head, or None if none was ever written; ValueError if the file was tampered with."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"the audit anchor {self.path} is unreadable: {exc}") from None
        body = {k: data.get(k) for k in ("seq", "hash", "at")}
        try:
            public_key_from_text(self.key.public_text).verify(base64.b64decode(data.get("sig", "")), canonical_json(body))
        except (InvalidSignature, ValueError, TypeError):
            raise ValueError(f"the audit anchor {self.path} is not signed by this gateway's key") from None
        return Head(int(body["seq"]), str(body["hash"]), str(body["at"]))

    def advance(self, seq: int, digest: str) -> None:
        """Record a newer head (an older one, from a slower writer, is ignored)."""
        with self._lock, _file_lock(self.path.with_name(self.path.name + ".lock")):
            if self._stored_seq() < seq:
                self._write(seq, digest)

    def reset(self, seq: int, digest: str) -> None:
        """Make this head the anchor whatever it was (an admin adopting a database, recorded in its chain)."""
        with self._lock, _file_lock(self.path.with_name(self.path.name + ".lock")):
            self._write(seq, digest)

    def _stored_seq(self) -> int:
        """The anchored sequence number, unverified: enough to keep the anchor moving forward only (a file that
        cannot be read is rewritten with a valid signature over the real head)."""
        try:
            return int(json.loads(self.path.read_text(encoding="utf-8"))["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _write(self, seq: int, digest: str) -> None:
        body = {"seq": seq, "hash": digest, "at": utc_text(datetime.now(timezone.utc))}
        write_owner_only(self.path, json.dumps(body | {"sig": self.key.sign(canonical_json(body))}, sort_keys=True))


class _file_lock:
    """An exclusive lock between processes (the gateway and a command run beside it)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        owner_only_folder(self.path.parent)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def open_store(db: Path | str, secrets_dir: Path, adopt: bool = False) -> tuple[Store, Anchor]:
    """The database, checked against the signed audit anchor and kept anchored from now on.

    AnchorMismatch if the database does not reach the anchored head, unless `adopt` (which is recorded).
    """
    store = Store.open(db)
    anchor = Anchor(Path(secrets_dir) / ANCHOR_FILE, GatewaySecrets(secrets_dir).signing_key)
    if adopt:
        adopt_database(store, anchor, "cli:adopt-database")
    check_anchor(store, anchor)
    anchor_chain(store, anchor)
    return store, anchor


def anchor_chain(store: Store, anchor: Anchor) -> None:
    """Keep `anchor` at the chain's head from now on."""
    store.db.on_commit(lambda seq, digest: anchor.advance(seq, digest))


def anchor_gap(store: Store, head: Head) -> tuple[int, str] | None:
    """(first broken entry, why) if the database's chain does not reach the anchored head; None if it does."""
    seq, _ = store.audit.head()
    if seq < head.seq:
        return seq + 1, (f"the database {store.name} holds {seq} audit entries, but the gateway signed entry "
                         f"{head.seq} at {head.at}: the newest {head.seq - seq} entries were cut off, or the "
                         f"database was replaced or restored from an older backup")
    if store.audit.entries(head.seq - 1, 1)[0].hash != head.hash:
        return head.seq, f"audit entry {head.seq} is not the one the gateway signed: the database was altered"
    return None


def check_anchor(store: Store, anchor: Anchor) -> None:
    """AnchorMismatch unless the database's chain reaches the anchored head (run at start)."""
    head = anchor.read()
    gap = anchor_gap(store, head) if head else None
    if gap:
        raise AnchorMismatch(f"{gap[1]}. Investigate; to accept the database as it is, start with "
                             f"--adopt-database (recorded in the audit log)")


def adopt_database(store: Store, anchor: Anchor, actor: str) -> None:
    """Accept the database as it is: record the old anchor in the chain, then anchor the new head."""
    try:
        old = anchor.read()
    except ValueError as exc:
        old, problem = None, str(exc)
    else:
        problem = None
    with store.db.transaction() as tx:
        tx.audit(actor, "audit.database.adopted", store.name,
                 {"previous_anchor": old.__dict__ if old else None, "problem": problem})
    anchor.reset(*store.audit.head())


@dataclass
class AuditReport:
    ok: bool
    entries: int
    events: int
    first_broken: int | None = None  # audit seq of the first bad link (0 when the problem is not one entry)
    reason: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.entries} entries, {self.events} events checked"
        where = f"entry {self.first_broken}" if self.first_broken else "the database"
        return f"audit chain BROKEN at {where}: {self.reason}"


def verify_database(db: Path | str, secrets_dir: Path) -> AuditReport:
    """`verify` for a database (and the anchor beside the gateway's secrets), as `facegate audit verify` runs it;
    a file that is not a readable gateway database is reported broken."""
    if not is_url(db) and not Path(db).is_file():
        raise FileNotFoundError(f"no gateway database at {db}")
    try:
        store = Store.open(db)
    except (DBAPIError, SchemaTooNew) as exc:
        return AuditReport(False, 0, 0, 0, f"the database cannot be read: {getattr(exc, 'orig', None) or exc}")
    anchor_path = Path(secrets_dir) / ANCHOR_FILE
    anchor = None
    if anchor_path.exists():
        key = Path(secrets_dir) / "signing.key"
        if not key.exists():
            return AuditReport(False, 0, 0, 0, f"{anchor_path} exists but the key that signed it ({key}) does not")
        anchor = Anchor(anchor_path, GatewaySecrets(secrets_dir).signing_key)
    return verify(store, anchor)


def verify(store: Store, anchor: Anchor | None = None) -> AuditReport:
    """Recompute the chain and every event digest, compare with the anchor; name the first broken link.

    A database that cannot be read is reported broken, not raised.
    """
    try:
        return _verify(store, anchor)
    except DBAPIError as exc:
        return AuditReport(False, 0, 0, 0, f"the database cannot be read ({exc.orig})")


def _verify(store: Store, anchor: Anchor | None) -> AuditReport:
    rows = {row[0]: row for row in store.events.all_rows()}
    purges = store.events.purged_ids()
    purged = {event_id for ids in purges.values() for event_id in ids}
    logged: set[str] = set()
    prev, expected_seq, entries = "", 1, 0
    for e in store.audit.walk():
        entries += 1
        if e.seq != expected_seq:
            return AuditReport(False, entries, len(logged), expected_seq, f"entry {expected_seq} is missing")
        if e.prev != prev:
            return AuditReport(False, entries, len(logged), e.seq, "does not link to the entry before it")
        if chain_hash(prev, e.seq, e.at, e.actor, e.action, e.target, e.detail) != e.hash:
            return AuditReport(False, entries, len(logged), e.seq, "entry altered (hash mismatch)")
        if e.action == "event.stored":
            detail = json.loads(e.detail)
            row = rows.get(e.target)
            if row is None and e.target in purged:
                prev, expected_seq = e.hash, e.seq + 1
                continue
            if row is None:
                return AuditReport(False, entries, len(logged), e.seq, f"event {e.target} was deleted")
            values = row if detail.get("v") == 2 else row[:DIGEST_V1_COLUMNS]
            if row_digest(values) != detail.get("digest"):
                return AuditReport(False, entries, len(logged), e.seq, f"event {e.target} was altered")
            logged.add(e.target)
        if e.action in PURGES and json.loads(e.detail).get("ids_sha256") != ids_digest(purges.get(e.seq, [])):
            return AuditReport(False, entries, len(logged), e.seq, "the list of purged events was altered")
        prev, expected_seq = e.hash, e.seq + 1
    unlogged = rows.keys() - logged
    if unlogged:
        return AuditReport(False, entries, len(logged), 0,
                           f"{len(unlogged)} event(s) not in the audit log, e.g. {min(unlogged)}")
    if anchor is not None:
        try:
            head = anchor.read()
        except ValueError as exc:
            return AuditReport(False, entries, len(logged), 0, str(exc))
        gap = anchor_gap(store, head) if head else None
        if gap:
            return AuditReport(False, entries, len(logged), *gap)
    return AuditReport(True, entries, len(logged))
