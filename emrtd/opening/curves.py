"""Elliptic-curve arithmetic for PACE's generic mapping and Chip Authentication (ICAO 9303 part 11, 4.4, 6.2).

PACE maps its nonce to a new generator, G' = s*G + H, and agrees the session's secret on that generator: no
library takes a generator of our choosing, so the group law is written out here (affine coordinates over the
prime field, short Weierstrass form y^2 = x^3 + ax + b). The curves are the standardized domain parameters a
card names by number in EF.CardAccess (part 11, 9.5.1); a DG14 key may also spell its curve out.

Speed is not the point (a few milliseconds a multiplication); the scalars are the reader's own fresh ones and
the chip's public points are checked to lie on the curve before any use.
"""

from __future__ import annotations

from dataclasses import dataclass

Point = tuple[int, int] | None  # None: the point at infinity


class CurveError(ValueError):
    """A point that is not on the curve, or an encoding that is not an uncompressed point."""


@dataclass(frozen=True)
class Curve:
    name: str
    p: int
    a: int
    b: int
    g: tuple[int, int]
    n: int

    @property
    def size(self) -> int:
        """Bytes of a coordinate."""
        return (self.p.bit_length() + 7) // 8

    def contains(self, point: Point) -> bool:
        if point is None:
            return False
        x, y = point
        return 0 <= x < self.p and 0 <= y < self.p and (y * y - x * x * x - self.a * x - self.b) % self.p == 0

    def add(self, one: Point, other: Point) -> Point:
        if one is None:
            return other
        if other is None:
            return one
        (x1, y1), (x2, y2), p = one, other, self.p
        if x1 == x2 and (y1 + y2) % p == 0:
            return None
        if one == other:
            slope = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, p) % p
        else:
            slope = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (slope * slope - x1 - x2) % p
        return x3, (slope * (x1 - x3) - y1) % p

    def multiply(self, scalar: int, point: Point) -> Point:
        result, addend = None, point
        while scalar:
            if scalar & 1:
                result = self.add(result, addend)
            addend = self.add(addend, addend)
            scalar >>= 1
        return result

    def encode(self, point: Point) -> bytes:
        """The uncompressed encoding: 04, x, y."""
        if point is None:
            raise CurveError("the point at infinity has no encoding")
        return b"\x04" + point[0].to_bytes(self.size, "big") + point[1].to_bytes(self.size, "big")

    def decode(self, data: bytes) -> tuple[int, int]:
        """The point `data` encodes; CurveError unless it is uncompressed and on the curve."""
        if len(data) != 1 + 2 * self.size or data[0] != 4:
            raise CurveError(f"not an uncompressed point of {self.name}")
        point = int.from_bytes(data[1:1 + self.size], "big"), int.from_bytes(data[1 + self.size:], "big")
        if not self.contains(point):
            raise CurveError(f"a point that is not on {self.name}")
        return point

    def with_generator(self, generator: tuple[int, int]) -> Curve:
        return Curve(self.name, self.p, self.a, self.b, generator, self.n)


def _hex(text: str) -> int:
    return int(text.replace(" ", ""), 16)


_P256 = _hex("FFFFFFFF 00000001 00000000 00000000 00000000 FFFFFFFF FFFFFFFF FFFFFFFF")
_P384 = 2**384 - 2**128 - 2**96 + 2**32 - 1

NIST_P256 = Curve(
    "NIST P-256", _P256, _P256 - 3,
    _hex("5AC635D8 AA3A93E7 B3EBBD55 769886BC 651D06B0 CC53B0F6 3BCE3C3E 27D2604B"),
    (_hex("6B17D1F2 E12C4247 F8BCE6E5 63A440F2 77037D81 2DEB33A0 F4A13945 D898C296"),
     _hex("4FE342E2 FE1A7F9B 8EE7EB4A 7C0F9E16 2BCE3357 6B315ECE CBB64068 37BF51F5")),
    _hex("FFFFFFFF 00000000 FFFFFFFF FFFFFFFF BCE6FAAD A7179E84 F3B9CAC2 FC632551"))
BRAINPOOL_P256R1 = Curve(
    "brainpoolP256r1", _hex("A9FB57DB A1EEA9BC 3E660A90 9D838D72 6E3BF623 D5262028 2013481D 1F6E5377"),
    _hex("7D5A0975 FC2C3057 EEF67530 417AFFE7 FB8055C1 26DC5C6C E94A4B44 F330B5D9"),
    _hex("26DC5C6C E94A4B44 F330B5D9 BBD77CBF 95841629 5CF7E1CE 6BCCDC18 FF8C07B6"),
    (_hex("8BD2AEB9 CB7E57CB 2C4B482F FC81B7AF B9DE27E1 E3BD23C2 3A4453BD 9ACE3262"),
     _hex("547EF835 C3DAC4FD 97F8461A 14611DC9 C2774513 2DED8E54 5C1D54C7 2F046997")),
    _hex("A9FB57DB A1EEA9BC 3E660A90 9D838D71 8C397AA3 B561A6F7 901E0E82 974856A7"))
NIST_P384 = Curve(
    "NIST P-384", _P384, _P384 - 3,
    _hex("B3312FA7 E23EE7E4 988E056B E3F82D19 181D9C6E FE814112 0314088F 5013875A C656398D 8A2ED19D 2A85C8ED"
         "D3EC2AEF"),
    (_hex("AA87CA22 BE8B0537 8EB1C71E F320AD74 6E1D3B62 8BA79B98 59F741E0 82542A38 5502F25D BF55296C 3A545E38"
          "72760AB7"),
     _hex("3617DE4A 96262C6F 5D9E98BF 9292DC29 F8F41DBD 289A147C E9DA3113 B5F0B8C0 0A60B1CE 1D7E819D 7A431D7C"
          "90EA0E5F")),
    _hex("FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF C7634D81 F4372DDF 581A0DB2 48B0A77A ECEC196A"
         "CCC52973"))

# The standardized domain parameters by the number EF.CardAccess gives (ICAO 9303 part 11, 9.5.1).
STANDARD = {12: NIST_P256, 13: BRAINPOOL_P256R1, 15: NIST_P384}
