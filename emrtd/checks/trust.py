"""The Country Signing CAs the site trusts, in a folder the admin fills (`facegate card trust add`).

One DER file per certificate, named by its SHA-256, so adding the same certificate twice changes nothing. An
admin adds a CSCA certificate (PEM or DER) or an ICAO master list (a CMS-signed list of CSCAs; its signature
is checked against its own signer, which proves it arrived whole, not that its signer is trusted: the admin's
choice to install it is). Files are the owner's alone: whoever can write here decides whose cards are genuine.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from emrtd.checks.signatures import SignatureProblem, verify_signed_data

CSCA_MASTER_LIST = "2.23.136.1.1.2"


class _CertificateSet(core.SetOf):
    _child_spec = asn1_x509.Certificate


class _CscaMasterList(core.Sequence):
    _fields = [("version", core.Integer), ("certificates", _CertificateSet)]


class TrustStoreError(ValueError):
    """A file that is neither a CA certificate nor a valid ICAO master list."""


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def certificates_in(data: bytes) -> list[x509.Certificate]:
    """The CA certificates in a PEM or DER certificate or an ICAO master list; TrustStoreError otherwise."""
    if b"-----BEGIN CERTIFICATE-----" in data:
        found = x509.load_pem_x509_certificates(data)
    else:
        try:
            found = [x509.load_der_x509_certificate(data)]
        except ValueError:
            found = _master_list(data)
    for certificate in found:
        if not _is_ca(certificate):
            raise TrustStoreError(f"{certificate.subject.rfc4514_string()} is not a CA certificate (a CSCA is)")
    return found


def _master_list(data: bytes) -> list[x509.Certificate]:
    try:
        info = cms.ContentInfo.load(data)
        signed = info["content"]
        if info["content_type"].native != "signed_data" or \
                signed["encap_content_info"]["content_type"].dotted != CSCA_MASTER_LIST:
            raise TrustStoreError("neither a certificate nor an ICAO master list")
        body, _ = verify_signed_data(signed)
        listed = _CscaMasterList.load(body)["certificates"]
        return [x509.load_der_x509_certificate(c.dump()) for c in listed]
    except SignatureProblem as exc:
        raise TrustStoreError(f"the master list's signature fails: {exc}") from None
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, TrustStoreError):
            raise
        raise TrustStoreError("neither a certificate nor an ICAO master list") from None


class TrustStore:
    """The folder of trusted CSCA certificates."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def add(self, data: bytes) -> list[x509.Certificate]:
        """Install every CA certificate in `data` (see certificates_in); returns those that were new."""
        found = certificates_in(data)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.folder, 0o700)
        added = []
        for certificate in found:
            der = certificate.public_bytes(Encoding.DER)
            path = self.folder / f"{hashlib.sha256(der).hexdigest()[:32]}.der"
            if path.exists():
                continue
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(der)
            os.replace(tmp, path)
            added.append(certificate)
        return added

    def certificates(self) -> list[x509.Certificate]:
        """Every trusted CSCA, oldest file first; an unreadable file is skipped, not trusted."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.der"), key=lambda p: (p.stat().st_mtime, p.name)):
            try:
                found.append(x509.load_der_x509_certificate(path.read_bytes()))
            except ValueError:
                continue
        return found

    def issuers_of(self, certificate: x509.Certificate) -> list[x509.Certificate]:
        """The trusted CSCAs whose subject is the certificate's issuer (a country renews its CSCA, so there may
        be several; the signature decides which)."""
        return [c for c in self.certificates() if c.subject == certificate.issuer]
