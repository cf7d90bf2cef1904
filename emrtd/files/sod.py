"""EF.SOD, the document security object (ICAO 9303 part 10, 4.6.2): the hash of every data group, in a CMS
SignedData signed by the issuing state's Document Signer.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import algos, cms, core

from emrtd.link.tlv import TlvError, file_value

LDS_SECURITY_OBJECT = "2.23.136.1.1.1"


class _DataGroupHash(core.Sequence):
    _fields = [("number", core.Integer), ("value", core.OctetString)]


class _DataGroupHashes(core.SequenceOf):
    _child_spec = _DataGroupHash


class _LdsVersionInfo(core.Sequence):
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]


class LdsSecurityObject(core.Sequence):
    _fields = [("version", core.Integer), ("hash_algorithm", algos.DigestAlgorithm),
               ("hashes", _DataGroupHashes), ("version_info", _LdsVersionInfo, {"optional": True})]


@dataclass(frozen=True)
class Sod:
    """What EF.SOD says: the hash algorithm, each data group's hash, and the signed data it came in."""

    hash_algorithm: str
    hashes: dict[int, bytes]
    signed_data: cms.SignedData


def parse_sod(data: bytes) -> Sod:
    """The hashes and signed data of an EF.SOD file (tag 77); ValueError if it is not one."""
    value = file_value(data, 0x77, "EF.SOD")
    try:
        info = cms.ContentInfo.load(value)
        signed = info["content"]
        encap = signed["encap_content_info"]
        if info["content_type"].native != "signed_data" or encap["content_type"].dotted != LDS_SECURITY_OBJECT:
            raise TlvError("EF.SOD does not hold an LDS security object")
        content = encap["content"]
        lds = LdsSecurityObject.load(content.native if isinstance(content.native, bytes) else content.contents)
        hashes = {h["number"].native: h["value"].native for h in lds["hashes"]}
        return Sod(lds["hash_algorithm"]["algorithm"].native, hashes, signed)
    except (ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, TlvError):
            raise
        raise TlvError(f"EF.SOD is not valid CMS ({exc})") from None
