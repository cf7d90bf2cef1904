"""A software eMRTD for the tests and the benchmark (issue 15): the card half of ICAO 9303, nothing more.

`SoftwareCard` answers the APDUs a reader sends (SELECT, GET CHALLENGE, EXTERNAL AUTHENTICATE, READ BINARY),
runs the card's half of BAC and secure messaging (checking every command's MAC and counter, as a chip does),
and serves the files it was given. `TestPki` is a Country Signing CA and a Document Signer made in the
fixture; `issue_card` builds DG1, DG2, EF.COM and an EF.SOD signed by it. Faults a reader meets in the field
are switches: the card taken away after N commands, a transient link failure, a slow link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from dataclasses import dataclass, field

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

from emrtd.checks import clones
from emrtd.files.dg1 import check_digit
from emrtd.files.sod import LDS_SECURITY_OBJECT, LdsSecurityObject
from emrtd.link.apdu import CardRemoved
from emrtd.link.tlv import children, read_tlv, tlv
from emrtd.opening import crypto
from emrtd.opening import pace as pace_protocol
from emrtd.opening.bac import BacKeys, mrz_information
from emrtd.opening.crypto import ENC, MAC, PASSWORD, TRIPLE_DES
from emrtd.opening.secure_messaging import split_protected
from emrtd.reader import AID, FILES

SW_OK, NOT_FOUND, DENIED, SM_WRONG, NO_SECURITY = b"\x90\x00", b"\x6a\x82", b"\x63\x00", b"\x69\x88", b"\x69\x82"
WRONG_DATA = b"\x6a\x80"
CARD_ACCESS_SFI = 0x1C


def pace_info(suite: int = 2, parameter: int = 13) -> pace_protocol.PaceInfo:
    """A PACE entry: ECDH generic mapping with `suite` (1 3DES, 2 AES-128, 3 AES-192, 4 AES-256) on the
    standardized curve `parameter` (12 NIST P-256, 13 brainpoolP256r1, 15 NIST P-384)."""
    return pace_protocol.PaceInfo(pace_protocol.PACE_PREFIX + bytes((pace_protocol.ECDH_GM, suite)), 2, parameter)


def card_access(*infos: pace_protocol.PaceInfo) -> bytes:
    """EF.CardAccess listing `infos` (a SET of PACEInfo)."""
    return tlv(0x31, b"".join(tlv(0x30, tlv(0x06, i.oid) + tlv(0x02, bytes((i.version,)))
                                        + tlv(0x02, bytes((i.parameter,)))) for i in infos))


# --- the issuing state's side: PKI and files --------------------------------------------------------------

def _name(common: str, country: str = "VN") -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "FaceGate test issuer"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


@dataclass
class TestPki:
    """A CSCA and a Document Signer it certified (ECDSA P-256), made fresh for a test."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    csca_key: ec.EllipticCurvePrivateKey
    csca: x509.Certificate
    dsc_key: ec.EllipticCurvePrivateKey
    dsc: x509.Certificate

    @classmethod
    def create(cls, country: str = "VN", common: str = "Test CSCA") -> TestPki:
        now = dt.datetime.now(dt.timezone.utc)
        csca_key, dsc_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        csca = (x509.CertificateBuilder().subject_name(_name(common, country)).issuer_name(_name(common, country))
                .public_key(csca_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(csca_key, hashes.SHA256()))
        dsc = (x509.CertificateBuilder().subject_name(_name("Test Document Signer", country))
               .issuer_name(csca.subject).public_key(dsc_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .sign(csca_key, hashes.SHA256()))
        return cls(csca_key, csca, dsc_key, dsc)

    def csca_pem(self) -> bytes:
        return self.csca.public_bytes(Encoding.PEM)

    def sign_sod(self, groups: dict[int, bytes]) -> bytes:
        """EF.SOD over `groups` (number → file bytes): SHA-256 hashes, signed by the DSC."""
        lds = LdsSecurityObject({"version": 0, "hash_algorithm": {"algorithm": "sha256"},
                                 "hashes": [{"number": n, "value": hashlib.sha256(d).digest()}
                                            for n, d in sorted(groups.items())]}).dump()
        attributes = cms.CMSAttributes([
            {"type": "content_type", "values": [cms.ContentType(LDS_SECURITY_OBJECT)]},
            {"type": "message_digest", "values": [hashlib.sha256(lds).digest()]},
        ])
        signature = self.dsc_key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        dsc = asn1_x509.Certificate.load(self.dsc.public_bytes(Encoding.DER))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {"issuer": dsc.issuer,
                                                                      "serial_number": dsc.serial_number}}),
            "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"}, "signature": signature})
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": LDS_SECURITY_OBJECT, "content": lds},
            "certificates": [dsc], "signer_infos": [signer]})
        return tlv(0x77, cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def td1(document: str, birth: str, sex: str, expiry: str, surname: str, given: str, optional: str = "",
        state: str = "VNM") -> str:
    """A TD1 MRZ (three lines of 30, as on a CCCD) with every check digit right."""
    number = document.ljust(9, "<")
    line1 = f"ID{state}{number}{check_digit(number)}{optional.ljust(15, '<')}"
    line2 = f"{birth}{check_digit(birth)}{sex}{expiry}{check_digit(expiry)}{state}".ljust(29, "<")
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line3 = f"{surname.replace(' ', '<')}<<{given.replace(' ', '<')}".ljust(30, "<")[:30]
    return line1 + line2 + check_digit(composite) + line3


def dg2(image: bytes, image_type: int = 0, width: int = 0, height: int = 0) -> bytes:
    """DG2 with one ISO/IEC 19794-5 facial record holding `image` (type 0 JPEG, 1 JPEG 2000)."""
    info = bytes((1, image_type)) + width.to_bytes(2, "big") + height.to_bytes(2, "big") + bytes((1, 2, 0, 0, 0, 0))
    record = bytes(20) + info + image  # no feature points
    record = len(record).to_bytes(4, "big") + record[4:]  # the header's first field: the record's length
    block = b"FAC\x00010\x00" + (14 + len(record)).to_bytes(4, "big") + (1).to_bytes(2, "big") + record
    header = tlv(0xA1, tlv(0x80, b"\x01\x01") + tlv(0x87, b"\x01\x01") + tlv(0x88, b"\x00\x08"))
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + tlv(0x7F60, header + tlv(0x5F2E, block))))


def com(groups: tuple[int, ...] = (1, 2)) -> bytes:
    tags = {1: 0x61, 2: 0x75, 13: 0x6D, 14: 0x6E, 15: 0x6F}
    return tlv(0x60, tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, bytes(tags[g] for g in groups)))


@dataclass
class IssuedCard:
    """A card's files, the three fields that open it, and the private keys only its chip holds (`ca` for Chip
    Authentication, `aa` for Active Authentication)."""

    document: str
    birth: str
    expiry: str
    files: dict[str, bytes]
    chip_keys: dict[str, object] = field(default_factory=dict)


def issue_card(pki: TestPki, portrait: bytes, *, document: str = "203001344", birth: str = "900315",
               expiry: str = "351231", surname: str = "NGUYEN", given: str = "VAN AN", sex: str = "M",
               citizen_number: str = "001090001344", image_type: int = 0, full_name: str | None = None,
               signed_dg13: bool = True, chip_authentication: int | None = None, ca_version: int = 2,
               active_authentication: str | None = None) -> IssuedCard:
    """A CCCD-like card: TD1 MRZ with the 12-digit citizen number in the optional data, `portrait` in DG2; with
    `full_name`, a DG13 holding it (and the sensitive fields a real one holds), covered by EF.SOD unless
    `signed_dg13` is false. `chip_authentication` (the suite: 1 3DES, 2 AES-128 ...) puts a P-256 key in DG14;
    `active_authentication` ("rsa" or "ecdsa") one in DG15 (with ECDSA's hash in DG14)."""
    groups = {1: tlv(0x61, tlv(0x5F1F, td1(document, birth, sex, expiry, surname, given, citizen_number)
                                .encode("ascii"))),
              2: dg2(portrait, image_type)}
    keys = {}
    if chip_authentication:
        keys["ca"] = ec.generate_private_key(ec.SECP256R1())
    if active_authentication:
        keys["aa"] = rsa.generate_private_key(65537, 2048) if active_authentication == "rsa" else \
            ec.generate_private_key(ec.BrainpoolP256R1())
    if chip_authentication or active_authentication == "ecdsa":
        groups[14] = dg14(keys.get("ca"), chip_authentication, ca_version, active_authentication == "ecdsa")
    if active_authentication:
        groups[15] = tlv(0x6F, _spki(keys["aa"]))
    dg13_file = dg13(citizen_number, full_name) if full_name else None
    signed = groups | ({13: dg13_file} if dg13_file and signed_dg13 else {})
    files = {"COM": com(tuple(sorted(groups))), "SOD": pki.sign_sod(signed)} | \
        {f"DG{n}": data for n, data in groups.items()}
    return IssuedCard(document, birth, expiry, files | ({"DG13": dg13_file} if dg13_file else {}), keys)


def _spki(private) -> bytes:
    return private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def dg14(ca_key, suite: int | None, version: int, ecdsa_hash: bool) -> bytes:
    """DG14: the Chip Authentication key and protocol, and Active Authentication's hash for ECDSA (SHA-256)."""
    infos = []
    if ca_key is not None:
        infos.append(tlv(0x30, tlv(0x06, clones.PK_ECDH) + _spki(ca_key)))
        infos.append(tlv(0x30, tlv(0x06, clones.CA_ECDH + bytes((suite,))) + tlv(0x02, bytes((version,)))))
    if ecdsa_hash:
        infos.append(tlv(0x30, tlv(0x06, clones.ACTIVE_AUTHENTICATION) + tlv(0x02, b"\x01")
                         + tlv(0x06, clones.ECDSA_PLAIN + b"\x03")))
    return tlv(0x6E, tlv(0x31, b"".join(infos)))


def dg13(citizen_number: str, full_name: str) -> bytes:
    """Vietnam's DG13 (tag 6D): a SEQUENCE of entries, each a field id and its UTF-8 value; field 2 the name, and
    the sensitive fields a reader must leave alone (6 ethnicity, 7 religion, 9 residence)."""
    fields = [(1, citizen_number), (2, full_name), (4, "Nữ"), (6, "Kinh"), (7, "Không"),
              (9, "12 Hàng Bạc, Hoàn Kiếm, Hà Nội"), (12, "31/12/2035")]
    entries = b"".join(tlv(0x30, tlv(0x02, bytes((n,))) + tlv(0x0C, text.encode("utf-8"))) for n, text in fields)
    return tlv(0x6D, tlv(0x30, entries))


# --- the chip ----------------------------------------------------------------------------------------------

@dataclass
class SoftwareCard:
    """The chip: give it files by name (COM, DG1, DG2, SOD) and the MRZ fields its BAC keys come from."""

    files: dict[str, bytes]
    document: str
    birth: str
    expiry: str
    rnd_icc: bytes | None = None  # fixed for the worked example, else fresh per challenge
    k_icc: bytes | None = None
    allow_plain: bool = False  # serve files without BAC (only for the benchmark's baseline)
    remove_after: int | None = None  # the card leaves after this many commands (and stays away)
    drop: set[int] = field(default_factory=set)  # commands (counted from 1) whose answer is lost in transit
    errors: dict[int, bytes] = field(default_factory=dict)  # commands (counted from 1) answered with this status
    bitrate: float | None = None  # a link model: each exchange takes its bits at this rate
    pace: tuple[pace_protocol.PaceInfo, ...] = ()  # offered in EF.CardAccess (and run) when given
    bac: bool = True  # False: a PACE-only card, which refuses BAC
    pace_fixed: tuple[bytes, int, int] | None = None  # the nonce and the chip's two scalars (the worked example)
    pace_refused: bool = False  # offers PACE in EF.CardAccess, then refuses it (as some cards do where BAC works)
    chip_keys: dict[str, object] = field(default_factory=dict)  # IssuedCard.chip_keys: what only the chip holds
    clone: bool = False  # a copy of the files on another chip: its keys are not the ones DG14 and DG15 name
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self):
        self.keys = BacKeys.from_mrz(self.document, self.birth, self.expiry)
        if self.clone:
            self.chip_keys = {name: rsa.generate_private_key(65537, key.key_size) if isinstance(key, rsa.RSAPrivateKey)
                              else ec.generate_private_key(key.curve) for name, key in self.chip_keys.items()}
        self.by_fid = {FILES[name]: data for name, data in self.files.items()}
        if self.pace:
            self.by_fid[0x011C] = card_access(*self.pace)
        self.reconnect_card()

    def reconnect_card(self) -> None:
        self.selected_app = False
        self.challenge: bytes | None = None
        self.session: tuple[bytes, bytes] | None = None
        self.suite = TRIPLE_DES
        self.ssc = 0
        self.current: bytes | None = None
        self.pace_state: dict | None = None
        self.ca_suite = None  # Chip Authentication's suite, once MSE:Set AT named it
        self.next_session: tuple | None = None  # keys Chip Authentication agreed: in use after this answer

    # Transport
    def transmit(self, apdu: bytes) -> bytes:
        self.received.append(apdu)
        count = len(self.received)
        if self.remove_after is not None and count > self.remove_after:
            raise CardRemoved("the card left the field")
        answer = self._answer(apdu)
        if self.bitrate:
            time.sleep((len(apdu) + len(answer)) * 8 / self.bitrate)
        if count in self.drop:
            raise CardRemoved("the answer was lost in transit")
        return answer

    def reconnect(self) -> None:
        if self.remove_after is not None and len(self.received) >= self.remove_after:
            raise CardRemoved("no card on the reader")
        self.reconnect_card()

    # The card's logic
    def _answer(self, apdu: bytes) -> bytes:
        cla, ins, p1, p2 = apdu[:4]
        if self.session is not None:
            if cla & 0x0C != 0x0C:
                self.session = None  # a plain command ends secure messaging, as on a chip
                return NO_SECURITY
            return self._secure(apdu)
        if ins == 0xA4 and p1 == 0x04:
            self.reconnect_card()
            self.selected_app = apdu[5:5 + apdu[4]] == AID
            return SW_OK if self.selected_app else NOT_FOUND
        if ins in (0x84, 0x82) and not self.bac:
            return NO_SECURITY
        if ins == 0x84:
            self.challenge = self.rnd_icc or os.urandom(8)
            return self.challenge + SW_OK
        if ins == 0x82:
            return self._mutual_authentication(apdu[5:5 + apdu[4]])
        if ins == 0xB0 and p1 & 0x80:  # READ BINARY by short file identifier: EF.CardAccess, before any access
            self.current = self.by_fid.get(0x0100 | p1 & 0x1F) if p1 & 0x1F == CARD_ACCESS_SFI else None
            if self.current is None:
                return NOT_FOUND
            data, status = self._plain(ins, 0, p2, b"", apdu[-1] if len(apdu) == 5 else 0)
            return data + status
        if ins == 0x22 and (p1, p2) == (0xC1, 0xA4):
            return WRONG_DATA if self.pace_refused else self._pace_mechanism(apdu[5:5 + apdu[4]])
        if ins == 0x86 and self.pace_state is not None:
            return self._pace_step(apdu)
        if self.allow_plain and self.selected_app:
            data, status = self._plain(ins, p1, p2, apdu[5:5 + apdu[4]] if ins in (0xA4, 0xB1) else b"",
                                       apdu[-1] if ins in (0xB0, 0xB1) else 0)
            return data + status
        return NO_SECURITY

    def _mutual_authentication(self, data: bytes) -> bytes:
        if self.challenge is None or len(data) != 40 or \
                not crypto.same_mac(data[32:], crypto.retail_mac(self.keys.mac, data[:32])):
            return DENIED
        plain = crypto.decrypt(self.keys.enc, data[:32])
        rnd_ifd, rnd_icc, k_ifd = plain[:8], plain[8:16], plain[16:]
        if rnd_icc != self.challenge:
            return DENIED
        k_icc = self.k_icc or os.urandom(16)
        answer = crypto.encrypt(self.keys.enc, rnd_icc + rnd_ifd + k_icc)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_icc))
        self.session = (TRIPLE_DES.derive(seed, ENC), TRIPLE_DES.derive(seed, MAC))
        self.ssc = int.from_bytes(rnd_icc[4:] + rnd_ifd[4:], "big")
        self.challenge = None
        return answer + crypto.retail_mac(self.keys.mac, answer) + SW_OK

    def _pace_mechanism(self, data: bytes) -> bytes:
        """MSE:Set AT: the protocol (80) the reader chose among those offered, the MRZ password (83 01)."""
        fields = children(data)
        chosen = [info for info in self.pace if info.oid == fields.get(0x80)]
        if not chosen or fields.get(0x83) != b"\x01":
            return WRONG_DATA
        self.pace_state = {"info": chosen[0], "step": 1}
        return SW_OK

    def _pace_step(self, apdu: bytes) -> bytes:
        """The chip's half of PACE's four GENERAL AUTHENTICATE steps (ICAO 9303-11 4.4.3)."""
        state, info = self.pace_state, self.pace_state["info"]
        suite, curve = info.suite, info.curve
        fixed = self.pace_fixed
        try:
            objects = children(children(apdu[5:5 + apdu[4]])[0x7C]) if apdu[4] > 2 else {}
        except (KeyError, ValueError):
            self.pace_state = None
            return WRONG_DATA
        step = state["step"]
        state["step"] += 1
        if step == 1:
            state["nonce"] = fixed[0] if fixed else os.urandom(16)
            k_pi = suite.derive(hashlib.sha1(mrz_information(self.document, self.birth, self.expiry)
                                             .encode()).digest(), PASSWORD)
            return tlv(0x7C, tlv(0x80, suite.encrypt(k_pi, state["nonce"]))) + SW_OK
        if step == 2:
            private = fixed[1] if fixed else int.from_bytes(os.urandom(40), "big") % (curve.n - 1) + 1
            reader = curve.decode(objects[0x81])
            state["mapped"] = curve.with_generator(curve.add(
                curve.multiply(int.from_bytes(state["nonce"], "big"), curve.g), curve.multiply(private, reader)))
            return tlv(0x7C, tlv(0x82, curve.encode(curve.multiply(private, curve.g)))) + SW_OK
        if step == 3:
            mapped = state["mapped"]
            private = fixed[2] if fixed else int.from_bytes(os.urandom(40), "big") % (curve.n - 1) + 1
            state["reader"], state["public"] = objects[0x83], mapped.encode(mapped.multiply(private, mapped.g))
            shared = mapped.multiply(private, mapped.decode(objects[0x83]))[0].to_bytes(curve.size, "big")
            state["keys"] = suite.derive(shared, ENC), suite.derive(shared, MAC)
            return tlv(0x7C, tlv(0x84, state["public"])) + SW_OK
        ks_enc, ks_mac = state["keys"]
        self.pace_state = None
        if not crypto.same_mac(objects.get(0x85, b""), suite.token(ks_mac, pace_protocol.token_input(
                info.oid, state["public"]))):
            return DENIED  # the reader's token is wrong: it does not know the password
        self.session, self.suite, self.ssc = (ks_enc, ks_mac), suite, 0
        return tlv(0x7C, tlv(0x86, suite.token(ks_mac, pace_protocol.token_input(info.oid, state["reader"])))) \
            + SW_OK

    def _chip_authentication(self, p1: int, p2: int, data: bytes) -> tuple[bytes, bytes]:
        """MSE:Set KAT (3DES, the reader's key in DO91), or MSE:Set AT then GENERAL AUTHENTICATE (the key in
        7C/80): ECDH with the chip's key; the new session keys take over after this answer."""
        key = self.chip_keys.get("ca")
        if key is None:
            return b"", b"\x6d\x00"
        if (p1, p2) == (0x41, 0xA4):
            suite = clones.CA_SUITES.get(children(data).get(0x80, b"\x00")[-1])
            self.ca_suite = suite
            return b"", SW_OK if suite else WRONG_DATA
        if (p1, p2) == (0x41, 0xA6):
            public, suite = children(data).get(0x91), TRIPLE_DES
        else:
            public, suite = children(children(data).get(0x7C, b"")).get(0x80), self.ca_suite
        if public is None or suite is None:
            return b"", WRONG_DATA
        shared = key.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(key.curve, public))
        self.next_session = (suite.derive(shared, ENC), suite.derive(shared, MAC)), suite
        return (tlv(0x7C, b"") if p1 == 0 else b""), SW_OK

    def _internal_authenticate(self, challenge: bytes) -> tuple[bytes, bytes]:
        """Active Authentication: the challenge signed with the chip's key (RSA: ISO/IEC 9796-2 scheme 1 with
        SHA-256; ECDSA: r||s over SHA-256)."""
        key = self.chip_keys.get("aa")
        if key is None:
            return b"", b"\x6d\x00"
        if isinstance(key, rsa.RSAPrivateKey):
            numbers, size = key.private_numbers(), key.key_size // 8
            recovered = os.urandom(size - 1 - 32 - 2)
            message = b"\x6a" + recovered + hashlib.sha256(recovered + challenge).digest() + b"\x34\xcc"
            signature = pow(int.from_bytes(message, "big"), numbers.d, numbers.public_numbers.n)
            return signature.to_bytes(size, "big"), SW_OK
        r, s = decode_dss_signature(key.sign(challenge, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big"), SW_OK

    def _plain(self, ins: int, p1: int, p2: int, data: bytes, le: int) -> tuple[bytes, bytes]:
        if ins == 0x22 or (ins == 0x86 and self.session is not None):
            return self._chip_authentication(p1, p2, data)
        if ins == 0x88:
            return self._internal_authenticate(data)
        if ins == 0xA4 and p1 == 0x04:  # the application, selected under secure messaging after PACE
            self.selected_app = data == AID
            return b"", SW_OK if self.selected_app else NOT_FOUND
        if ins == 0xA4:
            self.current = self.by_fid.get(int.from_bytes(data, "big"))
            return b"", SW_OK if self.current is not None else NOT_FOUND
        if ins in (0xB0, 0xB1):
            if self.current is None:
                return b"", b"\x69\x86"
            if ins == 0xB0:
                offset, size = (p1 << 8) | p2, le or 256
            else:  # the offset in DO54, the data wrapped in DO53 (its header counted in Le)
                offset, size = int.from_bytes(read_tlv(data)[1], "big"), (le or 256) - 4
            chunk = self.current[offset:offset + size]
            status = SW_OK if len(chunk) == size else b"\x62\x82"
            return (tlv(0x53, chunk) if ins == 0xB1 else chunk), status
        return b"", b"\x6d\x00"

    def _secure(self, apdu: bytes) -> bytes:
        """As chips do (ISO/IEC 7816-4, ICAO 9303-11): an even INS's data in DO87 (a padding-indicator byte, then
        the cryptogram), an odd INS's -- BER-TLV data objects -- in DO85 (the cryptogram alone); anything else
        ends secure messaging with 6988. An error status is answered in the clear, without secure messaging."""
        ks_enc, ks_mac = self.session
        suite = self.suite
        self.ssc += 1
        ssc = self.ssc.to_bytes(suite.block, "big")
        header, body = apdu[:4], apdu[5:5 + apdu[4]]
        fields, macd, mac = split_protected(body)
        expected = suite.mac(ks_mac, ssc + crypto.pad(header, suite.block) + macd)
        odd = header[1] & 1
        if mac is None or not crypto.same_mac(mac, expected) or (0x87 if odd else 0x85) in fields:
            self.session = None
            return SM_WRONG
        if odd:
            data = crypto.unpad(suite.decrypt(ks_enc, fields[0x85], ssc)) if 0x85 in fields else b""
        else:
            data = crypto.unpad(suite.decrypt(ks_enc, fields[0x87][1:], ssc)) if 0x87 in fields else b""
        le = fields[0x97][0] if 0x97 in fields else 0
        out, status = self._plain(header[1], header[2], header[3], data, le)
        status = self.errors.get(len(self.received), status)
        self.ssc += 1
        ssc = self.ssc.to_bytes(suite.block, "big")
        if status not in (SW_OK, b"\x62\x82"):
            return status
        answer = b""
        if out:
            cryptogram = suite.encrypt(ks_enc, crypto.pad(out, suite.block), ssc)
            answer += tlv(0x85, cryptogram) if odd else tlv(0x87, b"\x01" + cryptogram)
        answer += tlv(0x99, status)
        answer += tlv(0x8E, suite.mac(ks_mac, ssc + answer))
        if self.next_session:  # Chip Authentication: answered under the old keys, the new ones from now on
            self.session, self.suite = self.next_session
            self.ssc, self.next_session = 0, None
        return answer + SW_OK
