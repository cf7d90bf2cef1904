"""Sites, and bringing a device into service or taking it out.

`provision_device` creates the device's identity (Ed25519 key pair, MQTT
password, gallery key), registers the public key and the password hash,
regenerates the broker's password file and ACL, and returns the bundle the
device runs with (its secrets exist nowhere else). `place_device` records where
an exam device stands (room, seat) for the schedule. `revoke_device` removes it
from the broker and makes ingest refuse anything it still sends.
"""

from __future__ import annotations

from gateway.errors import Conflict, Invalid, NotFound
from gateway.services.broker.mosquitto import BrokerFiles, mosquitto_secret, new_password, reserved
from gateway.services.devices.galleries import device_revoked
from gateway.services.security.pki import CertificateAuthority
from gateway.services.security.secrets import GatewaySecrets
from gateway.storage import Store
from wire import DeviceKey
from wire.bundle import DeviceBundle
from wire.gallery import new_gallery_key
from wire.names import DEVICE_KINDS
from wire.topics import TopicError, check_id


def _check_id(value: str, what: str) -> None:
    try:
        check_id(value, what)
    except TopicError as exc:
        raise Invalid(str(exc)) from None
    if reserved(value):  # the broker logins and certificate names FaceGate gives itself
        raise Invalid("'{value}' is reserved for FaceGate's own broker logins (facegate-..., bridge-..., broker): "
                      "choose another id", value=value)


def write_broker_logins(store: Store, broker: BrokerFiles) -> None:
    """The broker's password file and ACL from the registry (and the gateway's logins); the broker reloads them."""
    broker.write_accounts(store.devices.broker_accounts())


def add_site(store: Store, site: str, name: str | None = None, actor: str = "system") -> None:
    _check_id(site, "site")
    if site in store.people.site_ids():
        raise Conflict("site '{site}' already exists", site=site)
    with store.db.transaction() as tx:
        store.people.add_site(tx, site, name or site)
        tx.audit(actor, "site.added", site, {"name": name or site})


def provision_device(store: Store, broker: BrokerFiles, secrets: GatewaySecrets, *, site: str, device: str,
                     kind: str = "gate", name: str | None = None, broker_url: str = "mqtt://127.0.0.1:1883",
                     model_pack: str = "buffalo_s", actor: str = "system", ca: CertificateAuthority | None = None,
                     client_certificate: bool = False) -> DeviceBundle:
    """Register a device and make its bundle: keys, broker login, and (given the CA) the CA certificate to check
    an mqtts:// broker with, and with `client_certificate` its own certificate for mTLS (CN = device id)."""
    _check_id(site, "site")
    _check_id(device, "device")
    if kind not in DEVICE_KINDS:
        raise Invalid("device kind must be gate or exam, not '{kind}'", kind=kind)
    if site not in store.people.site_ids():
        raise Invalid("unknown site '{site}': add it first (facegate site add {site})", site=site)
    if store.devices.get(device) is not None:
        raise Conflict("device '{device}' already exists", device=device)
    if (client_certificate or broker_url.startswith("mqtts:")) and (ca is None or not ca.exists):
        raise Invalid("a device on TLS needs the FaceGate CA: run `facegate pki init` first")
    key, password, gallery_key = DeviceKey.generate(), new_password(), new_gallery_key()
    issued = ca.issue(device, "client", keep_key=False) if client_certificate else None  # its key: the bundle's alone
    with store.db.transaction() as tx:
        store.devices.add(tx, device, site, kind, name or device, key.public_text, mosquitto_secret(password),
                          model_pack, gallery_key)
        tx.audit(actor, "device.provisioned", device, {"site": site, "kind": kind} | (
            {"certificate_serial": f"{issued.serial:x}"} if issued else {}))
    write_broker_logins(store, broker)
    return DeviceBundle(site=site, device=device, kind=kind, broker=broker_url, username=device, password=password,
                        key=key.to_text(), model_pack=model_pack, gallery_key=gallery_key,
                        gateway_key=secrets.signing_key.public_text,
                        ca_cert=ca.ca_cert.read_text() if ca is not None and ca.exists else None,
                        client_cert=issued.cert.read_text() if issued else None,
                        client_key=issued.key_pem if issued else None)


def place_device(store: Store, device_id: str, room: str | None, seat: str | None, actor: str) -> None:
    """Where exam device `device_id` stands: room and seat, both or neither (then the schedule leaves it out).
    Invalid for another kind of device, or a seat another device of the centre holds. Audited."""
    device = store.devices.get(device_id)
    if device is None or device.kind != "exam":
        raise Invalid("{device} is not an exam device", device=device_id)
    if (room is None) != (seat is None):
        raise Invalid("a place is a room and a seat")
    for other in store.devices.all(device.site):
        if other.id != device.id and other.active and room and (other.room, other.seat) == (room, seat):
            raise Invalid("seat {seat} of room {room} is {device}'s", seat=seat, room=room, device=other.id)
    with store.db.transaction() as tx:
        store.devices.place(tx, device.id, room, seat)
        tx.audit(actor, "device.placed", device.id, {"room": room, "seat": seat,
                                                     "before": {"room": device.room, "seat": device.seat}})


def revoke_device(store: Store, broker: BrokerFiles, device: str, actor: str = "system",
                  ca: CertificateAuthority | None = None) -> None:
    """Revoke a device: its login leaves the broker, and its certificate (if it has one) joins the CRL."""
    with store.db.transaction() as tx:
        if not store.devices.set_status(tx, device, "revoked"):
            raise NotFound("no device '{device}'", device=device)
        tx.audit(actor, "device.revoked", device)
        device_revoked(store, tx, device, actor)
    write_broker_logins(store, broker)
    if ca is not None and ca.exists and ca.current(device):
        ca.revoke(device)
