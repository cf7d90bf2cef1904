"""The FaceGate certificate authority: TLS wherever FaceGate's traffic crosses a network.

    facegate pki init                                     # ca.crt and ca.key (EC P-256, 10 years)
    facegate pki issue central --server --host mqtt.example.vn --host 10.0.0.5
    facegate pki issue bridge-hoi-an --client             # a site broker's bridge to the centre
    facegate pki issue gate-01 --client                   # a device using mTLS (CN = its device id)
    facegate pki revoke gate-01                           # rewrites crl.pem, which brokers load

One folder (default: `pki/` in the gateway's secrets folder) holds the CA's key
and certificate, each issued key and certificate, `index.json` (what was
issued, to whom, until when, revoked when) and `crl.pem`; every file owner-only.

- A server certificate names its hosts (DNS names or IP addresses) and is for
  serverAuth only; a client certificate's common name is the identity Mosquitto
  uses as the user name (`use_identity_as_username`), so the broker's ACL for
  a device or a bridge applies to whoever holds its key, and to no one else.
- Revoking adds the serial to the CRL; brokers read `crl.pem` (`crlfile`) and
  refuse the certificate at the handshake. The CRL is valid for a year and is
  rewritten at every revocation (and by `facegate pki crl`): a broker refuses
  every client once its CRL has expired.
- Device bundles carry the CA certificate, so a device checks the broker it
  connects to (wire/bundle.py).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.errors import Conflict, Invalid, NotFound
from gateway.services.security.files import owner_only_folder, write_owner_only
from wire.mqtt import TlsSettings

CA_DAYS = 3650
LEAF_DAYS = 825  # what browsers and most TLS stacks accept for a server certificate
CRL_DAYS = 365


@dataclass(frozen=True)
class Issued:
    name: str
    kind: str  # "server" | "client"
    serial: int
    not_after: str
    cert: Path
    key: Path  # absent for a key handed over (`issue(..., keep_key=False)`)
    revoked_at: str | None = None
    key_pem: str | None = None  # a handed-over key, in memory only: the one copy goes to its holder


class CertificateAuthority:
    """The CA in `folder`: `init()` once, then `issue()` and `revoke()`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.ca_cert = self.folder / "ca.crt"
        self.ca_key = self.folder / "ca.key"
        self.crl = self.folder / "crl.pem"
        self.index = self.folder / "index.json"

    @property
    def exists(self) -> bool:
        return self.ca_cert.exists() and self.ca_key.exists()

    def init(self, name: str = "FaceGate CA") -> Path:
        """Create the CA (refused if one exists: re-creating it would orphan every certificate issued)."""
        if self.exists:
            raise Conflict(f"a CA already exists in {self.folder}")
        owner_only_folder(self.folder)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FaceGate"),
                             x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        write_owner_only(self.ca_key, _key_pem(key))
        write_owner_only(self.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
        self._save_index({})
        self.write_crl()
        return self.ca_cert

    def issue(self, name: str, kind: str, hosts: list[str] | None = None, days: int = LEAF_DAYS,
              start: datetime | None = None, keep_key: bool = True) -> Issued:
        """A key and a certificate for `name`: a server (for `hosts`) or a client (CN = `name`). Without
        `keep_key` the key is not written here but handed over in `key_pem` (a device's or a bridge's: whoever
        holds the CA's folder must not hold their keys too)."""
        if kind not in ("server", "client"):
            raise Invalid("a certificate is for a server or a client")
        if kind == "server" and not hosts:
            raise Invalid("a server certificate needs at least one --host (the name or address clients use)")
        if not name or "/" in name or name.startswith("."):
            raise Invalid(f"{name!r} cannot name a certificate")
        index = self._load_index()
        if name in index and not index[name].get("revoked_at"):
            raise Conflict(f"{name} already has a certificate (serial {index[name]['serial']:x}); revoke it first")
        ca_key, ca_cert = self._ca()
        key = ec.generate_private_key(ec.SECP256R1())
        start = start or _now()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FaceGate"),
                                            x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start - timedelta(minutes=5)).not_valid_after(start + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_agreement=True, key_cert_sign=False,
                                                crl_sign=False, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, encipher_only=False, decipher_only=False),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]),
                                            critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        issued = Issued(name, kind, cert.serial_number, cert.not_valid_after_utc.isoformat(),
                        self.folder / "issued" / f"{name}.crt", self.folder / "issued" / f"{name}.key",
                        key_pem=None if keep_key else _key_pem(key))
        issued.cert.parent.mkdir(exist_ok=True, mode=0o700)
        if keep_key:
            write_owner_only(issued.key, _key_pem(key))
        write_owner_only(issued.cert, cert.public_bytes(serialization.Encoding.PEM))
        earlier = index.get(name, {}).get("revoked_serials", [])  # a revoked certificate stays revoked
        index[name] = {"kind": kind, "serial": issued.serial, "not_after": issued.not_after, "hosts": hosts or [],
                       "issued_at": _now().isoformat(), "revoked_at": None, "revoked_serials": earlier}
        self._save_index(index)
        return issued

    def revoke(self, name: str) -> Issued:
        """Revoke `name`'s certificate and rewrite the CRL."""
        index = self._load_index()
        if name not in index:
            raise NotFound(f"no certificate was issued to {name}")
        entry = index[name]
        if not entry.get("revoked_at"):
            entry["revoked_at"] = _now().isoformat()
            entry.setdefault("revoked_serials", []).append(entry["serial"])
            self._save_index(index)
        self.write_crl()
        return self.get(name)

    def get(self, name: str) -> Issued:
        entry = self._load_index().get(name)
        if entry is None:
            raise NotFound(f"no certificate was issued to {name}")
        return Issued(name, entry["kind"], entry["serial"], entry["not_after"], self.folder / "issued" / f"{name}.crt",
                      self.folder / "issued" / f"{name}.key", entry.get("revoked_at"))

    def current(self, name: str) -> Issued | None:
        """`name`'s certificate if it has one that is not revoked."""
        return next((i for i in self.list() if i.name == name and not i.revoked_at), None)

    def list(self) -> list[Issued]:
        if not self.exists:
            raise NotFound(f"no CA in {self.folder}: run `facegate pki init` first")
        return [self.get(name) for name in sorted(self._load_index())]

    def write_crl(self) -> Path:
        """Rewrite crl.pem: every serial ever revoked, valid for CRL_DAYS."""
        ca_key, ca_cert = self._ca()
        now = _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
                   .last_update(now - timedelta(minutes=5)).next_update(now + timedelta(days=CRL_DAYS)))
        for entry in self._load_index().values():
            for serial in entry.get("revoked_serials", []):
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
        write_owner_only(self.crl, builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        return self.crl

    def _ca(self):
        if not self.exists:
            raise NotFound(f"no CA in {self.folder}: run `facegate pki init` first")
        key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        return key, x509.load_pem_x509_certificate(self.ca_cert.read_bytes())

    def _load_index(self) -> dict:
        try:
            return json.loads(self.index.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _save_index(self, index: dict) -> None:
        write_owner_only(self.index, json.dumps(index, indent=2, sort_keys=True).encode("utf-8"))


def client_tls(ca: CertificateAuthority, name: str) -> TlsSettings:
    """What `name` needs to reach an mqtts:// broker: the CA's certificate, and its own if one was issued."""
    if not ca.exists:
        raise NotFound(f"no CA in {ca.folder}: an mqtts:// broker needs `facegate pki init` first")
    issued = ca.current(name)
    return TlsSettings(ca.ca_cert.read_text(), issued.cert.read_text() if issued else None,
                       issued.key.read_text() if issued else None)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime:
    return datetime.now(timezone.utc)
