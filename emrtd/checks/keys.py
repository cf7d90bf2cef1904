"""The chip's own public keys, as DG14 (Chip Authentication) and DG15 (Active Authentication) hold them: an X.509
SubjectPublicKeyInfo, RSA or EC. An EC key's curve may be named or spelled out (many chips spell it out), so
it becomes a curve of emrtd/opening/curves.py either way, and the arithmetic is ours, not a library's
that knows named curves only.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import keys

from emrtd.link.tlv import file_value
from emrtd.opening.curves import BRAINPOOL_P256R1, NIST_P256, NIST_P384, Curve, CurveError

NAMED = {"secp256r1": NIST_P256, "brainpoolp256r1": BRAINPOOL_P256R1, "secp384r1": NIST_P384}
DG15_TAG = 0x6F


@dataclass(frozen=True)
class EcKey:
    curve: Curve
    point: tuple[int, int]


@dataclass(frozen=True)
class RsaKey:
    modulus: int
    exponent: int

    @property
    def size(self) -> int:
        return (self.modulus.bit_length() + 7) // 8


def parse_public_key(spki: bytes) -> EcKey | RsaKey:
    """The key a SubjectPublicKeyInfo holds; ValueError if it is malformed or of a kind not read here."""
    try:
        info = keys.PublicKeyInfo.load(spki, strict=True)
        algorithm = info["algorithm"]["algorithm"].native
        if algorithm == "rsa":
            parsed = info["public_key"].parsed
            return RsaKey(parsed["modulus"].native, parsed["public_exponent"].native)
        if algorithm != "ec":
            raise ValueError(f"a {algorithm} key")
        parameters = info["algorithm"]["parameters"]
        if parameters.name == "named":
            curve = NAMED.get(parameters.chosen.native)
            if curve is None:
                raise ValueError(f"the curve {parameters.chosen.native}")
        elif parameters.name == "specified":
            domain = parameters.chosen
            if domain["field_id"]["field_type"].native != "prime_field":
                raise ValueError("a curve over a binary field")
            p = domain["field_id"]["parameters"].native
            a, b = (int.from_bytes(domain["curve"][k].native, "big") for k in ("a", "b"))
            order = domain["order"].native
            base = Curve("explicit", p, a, b, (0, 0), order)
            curve = base.with_generator(base.decode(domain["base"].native))
        else:
            raise ValueError("implicit curve parameters")
        return EcKey(curve, curve.decode(info["public_key"].native))
    except CurveError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"the chip's public key cannot be read ({exc})") from None


def parse_dg15(data: bytes) -> EcKey | RsaKey:
    """DG15 (tag 6F): Active Authentication's public key."""
    return parse_public_key(file_value(data, DG15_TAG, "DG15"))
