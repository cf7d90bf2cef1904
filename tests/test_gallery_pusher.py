"""The gallery pusher against a consent withdrawn while its pass runs (one layer: the store, no broker)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from gateway.services.people import consent
from gateway.services.devices.galleries import GalleryPusher
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Store
from gateway.storage.people import Consent, Subject
from wire.events import utc_text
from wire.gallery import new_gallery_key, open_gallery


def test_a_device_is_never_sent_someone_who_withdrew_while_the_pusher_was_reading(database, tmp_path):
    """The pusher reads who belongs in each gallery, then records the version. Ann withdraws in between: her
    erasure found no gallery holding her, so a version made from that older read would hand her to the device
    with no erasure waiting for it to drop her (seen on PostgreSQL under load: the erasure never completed)."""
    store = Store.open(database)
    key = new_gallery_key()
    with store.db.transaction() as tx:
        store.devices.add(tx, "gate-01", "site-a", "gate", "gate-01", "-", "x", "buffalo_s", key)
        tx.audit("test", "device.provisioned", "gate-01", {})
    secrets = GatewaySecrets(tmp_path)
    sent = []
    pusher = GalleryPusher(store, secrets, lambda topic, payload: sent.append(payload) or True)
    assert pusher.sync() == [("gate-01", 1)]  # nobody yet

    now = utc_text(datetime.now(timezone.utc))
    template = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    with store.db.transaction() as tx:
        store.people.add_subject(tx, Subject("ann", "Ann", None, now, "test"), {"buffalo_s": (template.tobytes(), 0.9)})
        store.people.add_consent(tx, Consent("ann", "gate", ["site-a"], "v1", "counter", now, None, "test"))
        tx.audit("test", "subject.enrolled", "ann", {})

    read = store.people.with_template
    withdrawn = []

    def read_then_she_withdraws(pack, subjects):
        members = read(pack, subjects)
        if not withdrawn:  # the pass's own read: she is still in it
            assert members == ["ann"]
            withdrawn.append(consent.withdraw(store, "ann", actor="user:ann"))
        return members

    store.people.with_template = read_then_she_withdraws
    pusher.sync()
    store.people.with_template = read
    erasure, = store.galleries.erasures(ids=withdrawn)
    assert erasure.devices == {}  # no gallery held her when she withdrew: no device to wait for
    assert store.galleries.latest("gate-01").members == []
    for payload in sent:
        gallery = open_gallery(payload, "gate-01", key, secrets.signing_key.public_text)
        assert "ann" not in gallery.subjects
    assert pusher.sync() == []  # and nothing is waiting to go out
