"""Mosquitto configuration generated from the device registry.

`BrokerFiles(dir)` holds mosquitto.conf, the password file and the ACL:
- each active device logs in as its device id and may publish only under
  facegate/v1/<its site>/<itself>/ and read only its own cmd/ topics;
- the gateway logs in as `facegate-gateway`, and each replica of it as
  `facegate-gateway-<replica>` with a password of its own; they read all events
  and status and write cmd/ topics;
- each site's bridge (a site broker forwarding its devices' traffic, see
  `init_site`) logs in with its certificate as bridge-<site>, and may publish
  only that site's events and status and read only its commands;
- nobody else gets in (no anonymous access); a revoked device is simply absent.

One login, one client id: every listener replaces the client id a client gives
with its login (`use_username_as_clientid`), so a client can only ever take
over its own login's earlier connection -- never the gateway's or another
device's. The names those logins use (`facegate-*`, `bridge-*`, and `broker`,
the broker's certificate) are reserved: no device or site may take one, and a
registry row that holds one anyway is left out of the files.

A central broker may have two listeners: passwords (the gateway, devices on the
LAN) and certificates only (mTLS: bridges, and devices given one), whose
common name is the user name the ACL is written for.

Password entries use Mosquitto 2's own PBKDF2-SHA512 format, so no
mosquitto_passwd run is needed. After a change a running broker is told to
reload (SIGHUP via its pid file).
"""

from __future__ import annotations

import base64
import fcntl
import getpass
import hashlib
import hmac
import logging
import os
import secrets
import signal
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gateway.services.security.files import owner_only_folder, write_owner_only
from wire.mqtt import BrokerUrl
from wire.topics import ALL_EVENTS, ALL_STATUS, GATEWAY_ONLINE, ROOT, check_id, device_prefix

log = logging.getLogger(__name__)

GATEWAY_USER = "facegate-gateway"
BRIDGE_PREFIX = "bridge-"
# Logins and certificate names FaceGate gives itself: the gateway and its replicas, site bridges, the broker.
RESERVED_PREFIXES = ("facegate-", BRIDGE_PREFIX)
RESERVED_NAMES = frozenset({"broker"})


def bridge_identity(site: str) -> str:
    """The user name (its certificate's common name) of a site broker's bridge to the centre."""
    return f"{BRIDGE_PREFIX}{site}"


def replica_login(replica: str | None) -> str:
    """The broker login of the gateway, or of one of its replicas."""
    return f"{GATEWAY_USER}-{replica}" if replica else GATEWAY_USER


def reserved(name: str) -> bool:
    """Whether `name` is a login or certificate name FaceGate keeps for itself (no device or site may take it)."""
    folded = name.lower()
    return folded in RESERVED_NAMES or folded.startswith(RESERVED_PREFIXES)


@dataclass(frozen=True)
class TlsListener:
    """A listener that takes clients by certificate only (mTLS): site bridges and devices holding one."""

    port: int
    bind: str
    ca: Path
    cert: Path  # the broker's server certificate and key
    key: Path
    crl: Path

    def lines(self, acl: Path) -> list[str]:
        return [f"listener {self.port} {self.bind}", f"cafile {self.ca}", f"certfile {self.cert}",
                f"keyfile {self.key}", f"crlfile {self.crl}", "require_certificate true",
                "use_identity_as_username true", "use_username_as_clientid true", "allow_anonymous false",
                f"acl_file {acl}", "tls_version tlsv1.2"]
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd itself writes for $7$


def mosquitto_secret(password: str, salt: bytes | None = None) -> str:
    """A password file entry's hash part, e.g. `$7$101$<salt>$<hash>`."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS, 64)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_mosquitto_secret(password: str, secret: str) -> bool:
    """Whether `password` matches a `$7$` entry (for the embedded broker, which reads the same registry)."""
    try:
        _, kind, iterations, salt, digest = secret.split("$")
        if kind != "7":
            return False
        actual = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations), 64)
        return hmac.compare_digest(base64.b64encode(actual).decode(), digest)
    except (ValueError, TypeError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(24)


def _login_file(username: str, password: str, replicas: dict[str, str] | None = None) -> str:
    """gateway.toml: the gateway's broker login, and its replicas' (names are checked ids, passwords URL-safe)."""
    text = f'username = "{username}"\npassword = "{password}"\n'
    if replicas:
        text += "\n[replicas]\n" + "".join(f'"{name}" = "{secret}"\n' for name, secret in sorted(replicas.items()))
    return text


class BrokerFiles:
    def __init__(self, directory: Path | str):
        self.dir = Path(directory).resolve()
        self.conf = self.dir / "mosquitto.conf"
        self.passwd = self.dir / "passwd"
        self.acl = self.dir / "acl"
        self.data = self.dir / "data"
        self.pid = self.dir / "mosquitto.pid"
        self.gateway_login = self.dir / "gateway.toml"

    def init(self, port: int = 1883, bind: str = "127.0.0.1", tls: TlsListener | None = None) -> None:
        """Create the folder, the gateway's broker login (once) and mosquitto.conf: a password listener on
        `port`, and with `tls` a certificate (mTLS) listener for site bridges and devices holding certificates."""
        owner_only_folder(self.dir)
        self.data.mkdir(exist_ok=True, mode=0o700)
        if not self.gateway_login.exists():
            write_owner_only(self.gateway_login, _login_file(GATEWAY_USER, new_password()))
        listeners = self._password_listener(port, bind)
        if tls:
            listeners += tls.lines(self.acl)
        write_owner_only(self.conf, self._conf(listeners))

    def bridge_credentials(self) -> tuple[str, str] | None:
        """The (certificate, key) PEM a site broker's folder already holds for its bridge, if any."""
        cert, key = self.dir / "bridge.crt", self.dir / "bridge.key"
        return (cert.read_text(), key.read_text()) if cert.exists() and key.exists() else None

    def init_site(self, site: str, bridge: BrokerUrl, ca: str, cert: str, key: str, port: int = 1883,
                  bind: str = "0.0.0.0") -> None:
        """A site broker's folder: the site's devices log in locally (passwords, `port`), and a bridge to the
        central broker forwards their events and status up and the gateway's commands down, over TLS with the
        bridge's own certificate (CN = bridge-<site>). While the link is down the site broker keeps what is
        to go up (persistence, no queue limit) and the central broker what is to come down (a persistent
        bridge session)."""
        owner_only_folder(self.dir)
        self.data.mkdir(exist_ok=True, mode=0o700)
        for pem, name in ((ca, "ca.crt"), (cert, "bridge.crt"), (key, "bridge.key")):
            write_owner_only(self.dir / name, pem)
        prefix = f"{ROOT}/{site}"
        bridge_lines = [
            "connection facegate-central",
            f"address {bridge.host}:{bridge.port}",
            f"bridge_cafile {self.dir / 'ca.crt'}",
            f"bridge_certfile {self.dir / 'bridge.crt'}",
            f"bridge_keyfile {self.dir / 'bridge.key'}",
            "bridge_protocol_version mqttv311",
            f"remote_clientid {bridge_identity(site)}",
            f"local_clientid {bridge_identity(site)}-local",
            "cleansession false",
            "notifications false",
            "keepalive_interval 15",
            "restart_timeout 1 10",
            f"topic {prefix}/+/events/# out 1",
            f"topic {prefix}/+/status out 1",
            f"topic {prefix}/+/cmd/# in 1",
            f"topic {GATEWAY_ONLINE} in 1",
        ]
        write_owner_only(self.conf, self._conf(self._password_listener(port, bind), bridge_lines))

    def _password_listener(self, port: int, bind: str) -> list[str]:
        return [f"listener {port} {bind}", "allow_anonymous false", "use_username_as_clientid true",
                f"password_file {self.passwd}", f"acl_file {self.acl}"]

    def _conf(self, listeners: list[str], bridge: list[str] = ()) -> str:
        return "\n".join([
            "# Generated by FaceGate (gateway/services/broker/mosquitto.py); regenerated on every device change.",
            # Each listener has its own way in: passwords on one, certificates on the other.
            "per_listener_settings true",
            *listeners,
            # Keep queued events across a broker restart.
            "persistence true",
            f"persistence_location {self.data}/",
            "autosave_interval 5",
            # The gateway acknowledges after each batch commit: let whole batches be in flight,
            # and never drop what waits for it (or for a bridge's link) while it is away.
            "max_inflight_messages 2000",
            "max_queued_messages 0",
            # Galleries go out as one snapshot (about 2.7 KB a person): room for thousands.
            "max_packet_size 33554432",
            f"pid_file {self.pid}",
            # Started as root, mosquitto switches to this user: the owner of these (owner-only) files.
            f"user {getpass.getuser()}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            *bridge,
            "",
        ])

    def gateway_logins(self) -> dict[str, str]:
        """The gateway's broker logins, user name -> password: its own, and one per replica that has run."""
        login = tomllib.loads(self.gateway_login.read_text(encoding="utf-8"))
        return {login["username"]: login["password"],
                **{replica_login(name): password for name, password in login.get("replicas", {}).items()}}

    def add_replica(self, replica: str) -> bool:
        """Give gateway replica `replica` a login of its own (once); True if it is new (the password file and ACL
        must then be written again). Replicas starting together each add theirs: the file is changed under a
        lock."""
        check_id(replica, "replica")
        with open(self.dir / "gateway.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            login = tomllib.loads(self.gateway_login.read_text(encoding="utf-8"))
            replicas = login.get("replicas", {})
            if replica in replicas:
                return False
            replicas[replica] = new_password()
            write_owner_only(self.gateway_login, _login_file(login["username"], login["password"], replicas))
            return True

    def gateway_url(self, url: str, replica: str | None = None) -> BrokerUrl:
        """`url` with the login from this folder of the gateway, or of its replica `replica` (unless the URL
        carries one)."""
        broker = BrokerUrl.parse(url)
        if broker.username:
            return broker
        user = replica_login(replica)
        return broker.with_login(user, self.gateway_logins()[user])

    def write_accounts(self, accounts: list[tuple[str, str, str]], gateway: bool = True) -> None:
        """Password file and ACL for the gateway and its replicas (unless a site broker's) plus every (device, site,
        secret) given, and each of their sites' bridge; reload the broker. A device whose id is reserved for
        FaceGate's own logins, or given twice, is left out (and logged): ids cannot collide with logins."""
        lines, acl = [], []
        if gateway:
            for user, password in self.gateway_logins().items():
                lines.append(f"{user}:{mosquitto_secret(password)}")
                acl += [f"user {user}", f"topic read {ALL_EVENTS}", f"topic read {ALL_STATUS}",
                        f"topic write {ROOT}/+/+/cmd/#", f"topic write {GATEWAY_ONLINE}", ""]
        seen: set[str] = set()
        devices = []
        for device, site, secret in accounts:
            if reserved(device) or reserved(site) or device.lower() in seen:
                log.error("device %r (site %r) left out of the broker's logins: the name is reserved or taken",
                          device, site)
                continue
            seen.add(device.lower())
            devices.append((device, site, secret))
        lines += [f"{device}:{secret}" for device, _site, secret in devices]
        write_owner_only(self.passwd, "\n".join(lines) + "\n")
        # A site broker's bridge logs in with its certificate (CN = bridge-<site>): that site's topics only.
        for site in sorted({site for _device, site, _secret in devices}) if gateway else ():
            acl += [f"user {bridge_identity(site)}", f"topic write {ROOT}/{site}/+/events/#",
                    f"topic write {ROOT}/{site}/+/status", f"topic read {ROOT}/{site}/+/cmd/#",
                    f"topic read {GATEWAY_ONLINE}", ""]
        for device, site, _secret in devices:
            prefix = device_prefix(site, device)
            acl += [f"user {device}", f"topic write {prefix}/events/#", f"topic readwrite {prefix}/status",
                    f"topic read {prefix}/cmd/#", f"topic read {GATEWAY_ONLINE}", ""]
        write_owner_only(self.acl, "\n".join(acl))
        self.reload()

    def reload(self) -> bool:
        """Ask a running broker (by pid file) to re-read the password file and ACL."""
        try:
            pid = int(self.pid.read_text().strip())
            os.kill(pid, signal.SIGHUP)
            return True
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return False


def configure_central(files: BrokerFiles, accounts: list[tuple[str, str, str]], ca=None, port: int = 1883,
                      bind: str = "127.0.0.1", tls_port: int | None = None, tls_bind: str = "0.0.0.0",
                      hosts: list[str] | None = None, replicas: list[str] = ()) -> None:
    """The central broker's files; with `tls_port`, a certificate listener whose server certificate (named
    `broker`, for `hosts`) the CA `ca` issues the first time; a login of its own for each gateway replica named
    in `replicas` (kept from earlier runs)."""
    tls = None
    if tls_port:
        issued = ca.current("broker") or ca.issue("broker", "server", hosts or ["127.0.0.1", "localhost"])
        tls = TlsListener(tls_port, tls_bind, ca.ca_cert, issued.cert, issued.key, ca.crl)
    files.init(port=port, bind=bind, tls=tls)
    for replica in replicas:
        files.add_replica(replica)
    files.write_accounts(accounts)


def configure_site(out: Path, site: str, bridge_url: str, accounts: list[tuple[str, str, str]], ca,
                   port: int = 1883, bind: str = "0.0.0.0") -> BrokerFiles:
    """A site broker's folder for `site`: its devices' logins, and a bridge to `bridge_url` (mqtts://) with a
    client certificate the CA `ca` issues the first time."""
    bridge = BrokerUrl.parse(bridge_url)
    if not bridge.tls:
        raise ValueError(f"the bridge to the centre crosses a network: give an mqtts:// URL, not {bridge}")
    files = BrokerFiles(out)
    # The bridge's key lives in the site broker's folder only (the CA keeps no copy): configured again, the
    # folder keeps its own; a folder without one gets a new certificate, and the old one is revoked.
    issued, held = ca.current(bridge_identity(site)), files.bridge_credentials()
    if issued and held and held[0] == issued.cert.read_text():
        cert, key = held
    else:
        if issued:
            ca.revoke(bridge_identity(site))
        issued = ca.issue(bridge_identity(site), "client", keep_key=False)
        cert, key = issued.cert.read_text(), issued.key_pem
    files.init_site(site, bridge, ca.ca_cert.read_text(), cert, key, port=port, bind=bind)
    files.write_accounts([a for a in accounts if a[1] == site], gateway=False)
    return files
