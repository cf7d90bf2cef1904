"""The chip of an ID card (issue 15): BAC and secure messaging against ICAO 9303 part 11's worked example
(appendix D), the BSI specimen's files and our own signed card served by the software card (tests/emrtd_card.py),
passive authentication's four outcomes, the trust store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import cv2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from emrtd.access import (access_candidates, expiry_candidates, listed_keys, parse_card_qr, probe_keys,
                          read_card_trying, roster_candidates)
from emrtd.checks.passive import issuing_country
from emrtd.checks.trust import TrustStore, TrustStoreError
from emrtd.files.dg1 import check_digit
from emrtd.link.apdu import AccessDenied, CardRemoved, StatusError, command
from emrtd.opening.bac import BacKeys, authenticate, key_seed, mrz_information
from emrtd.opening.secure_messaging import SecureChannel, SecureMessagingError
from emrtd.reader import read_card
from emrtd_card import SoftwareCard, TestPki, issue_card, pace_info


def test_the_bac_keys_of_icao_9303s_worked_example():
    info = mrz_information("L898902C", "690806", "940623")
    assert info == "L898902C<369080619406236"
    assert key_seed(info).hex().upper() == "239AB9CB282DAF66231DC5A4DF6BFBAE"
    keys = BacKeys.from_mrz("L898902C", "690806", "940623")
    assert keys.enc.hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert keys.mac.hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"


def test_check_digits_of_the_german_specimen_mrz():
    # ../shared/data/emrtd: C11T002JM4 ... 9608122F2310314: document C11T002JM (4), birth 960812 (2),
    # expiry 231031 (4).
    assert (check_digit("C11T002JM"), check_digit("960812"), check_digit("231031")) == ("4", "2", "4")


@pytest.mark.parametrize("document, birth, expiry, problem", [
    ("L898902C-", "690806", "940623", "document number"),
    ("L898902C01", "690806", "940623", "document number"),
    ("L898902C", "691306", "940623", "birth date"),
    ("L898902C", "690806", "94062", "expiry date"),
])
def test_mistyped_mrz_fields_are_named(document, birth, expiry, problem):
    with pytest.raises(ValueError, match=problem):
        mrz_information(document, birth, expiry)


@pytest.mark.data  # ../shared/data/emrtd
def test_the_bsi_specimens_dg1_reads_as_its_printed_mrz():
    from conftest import DATA
    from emrtd.files.dg1 import parse_dg1

    mrz = parse_dg1((DATA / "emrtd" / "Datagroup1.bin").read_bytes())
    assert (mrz.document_type, mrz.issuing_state, mrz.document_number) == ("P", "D<<", "C11T002JM")
    assert (mrz.birth, mrz.sex, mrz.expiry, mrz.nationality) == ("960812", "F", "231031", "D<<")
    assert mrz.name == "ERIKA MUSTERMANN"


def test_a_td1_id_card_mrz_with_its_personal_number_and_a_wrong_check_digit():
    from emrtd.files.dg1 import parse_mrz

    # ICAO 9303 part 5's TD1 example, as a CCCD is laid out (the personal number in the optional data).
    lines = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    mrz = parse_mrz("".join(lines))
    assert (mrz.document_number, mrz.birth, mrz.expiry, mrz.sex) == ("D23145890", "740812", "120415", "F")
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    with pytest.raises(ValueError, match="birth date"):
        parse_mrz("".join(lines).replace("7408122", "7408121"))


# --- the chip over the link: BAC, secure messaging, reading, passive authentication ------------------------

h = bytes.fromhex
ICAO_COM = h("60145F0104303130365F36063034303030305C026175")


def test_the_software_card_and_the_reader_exchange_icao_9303s_worked_example_byte_for_byte():
    card = SoftwareCard({"COM": ICAO_COM}, "L898902C", "690806", "940623",
                        rnd_icc=h("4608F91988702212"), k_icc=h("0B4F80323EB3191CB04970CB4052790B"))
    card.transmit(command(0x00, 0xA4, 0x04, 0x0C, h("A0000002471001")))
    channel = authenticate(card, BacKeys.from_mrz("L898902C", "690806", "940623"),
                           rnd_ifd=h("781723860C06C226"), k_ifd=h("0B795240CB7049B01C19B33E32804F0B"))
    assert (channel.ks_enc.hex().upper(), channel.ks_mac.hex().upper(), channel.ssc.hex().upper()) == \
        ("979EC13B1CBFE9DCD01AB0FED307EAE5", "F1CB1F1FB5ADF208806B89DC579DC1F8", "887022120C06C226")
    answers = [channel.unwrap(card.transmit(channel.wrap(0, 0xA4, 0x02, 0x0C, h("011E")))),
               channel.unwrap(card.transmit(channel.wrap(0, 0xB0, 0, 0, le=4))),
               channel.unwrap(card.transmit(channel.wrap(0, 0xB0, 0, 4, le=0x12)))]
    assert [a.hex().upper() for a in card.received[1:]] == [
        "0084000008",
        "0082000028" "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2" "5F1448EEA8AD90A7" "28",
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
        "0CB000000D9701048E08ED6705417E96BA5500",
        "0CB000040D9701128E082EA28A70F3C7B53500",
    ]
    assert answers == [(b"", 0x9000), (h("60145F01"), 0x9000), (h("04303130365F36063034303030305C026175"), 0x9000)]


def test_the_reader_unwraps_the_worked_examples_answers_and_refuses_an_altered_one():
    channel = SecureChannel(h("979EC13B1CBFE9DCD01AB0FED307EAE5"), h("F1CB1F1FB5ADF208806B89DC579DC1F8"),
                            h("887022120C06C226"))
    channel.wrap(0, 0xA4, 0x02, 0x0C, h("011E"))
    assert channel.unwrap(h("990290008E08FA855A5D4C50A8ED9000")) == (b"", 0x9000)
    channel.wrap(0, 0xB0, 0, 0, le=4)
    with pytest.raises(SecureMessagingError, match="MAC"):  # one bit of the encrypted data flipped
        channel.unwrap(h("8709019FF0EC34F9922650990290008E08AD55CC17140B2DED9000"))


def chip_portrait(path, width=360) -> bytes:
    """A portrait the size a chip holds (a few tens of kB)."""
    image = cv2.imread(str(path))
    image = cv2.resize(image, (width, round(width * image.shape[0] / image.shape[1])))
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


@pytest.mark.data
def test_our_signed_card_reads_genuine_and_one_changed_byte_of_dg2_makes_it_tampered(pki, trust):
    from conftest import DATA

    issued = issue_card(pki, chip_portrait(DATA / "faces" / "celebrities" / "img16.jpg"))
    read = read_card(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry),
                     issued.document, issued.birth, issued.expiry, trust)
    assert read.passive.outcome == "genuine", read.passive.problems
    assert read.passive.groups_checked == (1, 2) and read.passive.issuer.startswith("CN=Test CSCA")
    assert (read.mrz.name, read.mrz.card_number, read.mrz.birth, read.mrz.sex) == \
        ("NGUYEN VAN AN", "001090001344", "900315", "M")
    assert read.data_groups == (1, 2) and read.stats.apdus > 10 and read.stats.received > len(issued.files["DG2"])
    portrait = read.faces[0].decode()
    assert read.faces[0].image_type == "jpeg" and portrait.shape[1] == 360

    altered = dict(issued.files)
    dg2 = bytearray(altered["DG2"])
    dg2[len(dg2) // 2] ^= 0x01
    altered["DG2"] = bytes(dg2)
    read = read_card(SoftwareCard(altered, issued.document, issued.birth, issued.expiry),
                     issued.document, issued.birth, issued.expiry, trust)
    assert read.passive.outcome == "tampered"
    assert read.passive.problems == ("DG2 does not hash to the value the issuer signed",)


@pytest.mark.data
def test_the_bsi_specimen_served_by_the_software_card_reads_untrusted_issuer_without_its_csca(trust):
    from conftest import DATA

    folder = DATA / "emrtd"
    files = {"COM": h("60145F0104303130375F36063034303030305C026175"),
             "DG1": (folder / "Datagroup1.bin").read_bytes(), "DG2": (folder / "Datagroup2.bin").read_bytes(),
             "SOD": (folder / "EF_SOD.bin").read_bytes()}
    read = read_card(SoftwareCard(files, "C11T002JM", "960812", "231031"), "C11T002JM", "960812", "231031", trust,
                     today=dt.date(2022, 6, 1))
    assert read.passive.outcome == "untrusted_issuer"
    # Its EF.SOD lists DG14 (Chip Authentication), which the reference files leave out: served so, it is a clone.
    assert read.outcome == "clone_suspected" and read.clone.problems == [
        "EF.SOD lists DG14, but the chip does not serve it (the card has no DG14: the card answered 6A82)"]
    assert read.passive.signer == "CN=HJP PB DS,OU=Document Signer,O=HJP Consulting,C=DE"
    assert read.passive.groups_checked == (1, 2) and read.passive.hash_algorithm == "sha256"
    assert read.mrz.name == "ERIKA MUSTERMANN" and read.mrz.card_number == "C11T002JM"
    face = read.faces[0]
    assert (face.image_type, face.width, face.height) == ("jpeg2000", 337, 449)
    assert face.decode().ndim == 3
    # Read today, the specimen has also expired: both findings are named, the gravest is the outcome.
    today = read_card(SoftwareCard(files, "C11T002JM", "960812", "231031"), "C11T002JM", "960812", "231031", trust)
    assert today.passive.outcome == "untrusted_issuer"
    assert today.passive.problems[1] == "the document expired on 31/10/2023"


def test_an_expired_document_of_a_trusted_issuer_reads_expired(pki, trust):
    issued = issue_card(pki, b"\xff\xd8 not a real picture", expiry="250101")
    read = read_card(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry),
                     issued.document, issued.birth, issued.expiry, trust, today=dt.date(2026, 12, 2))
    assert read.passive.outcome == "expired_document"
    assert read.passive.problems == ("the document expired on 01/01/2025",)
    with pytest.raises(ValueError, match="does not decode"):  # a corrupt portrait is said so, when it is used
        read.faces[0].decode()


def test_a_trusted_csca_vouches_only_for_its_own_countrys_cards(pki, trust):
    """Issue 25 (suspected, shown): a trust store with many countries' CSCAs (an ICAO master list) let any of them
    vouch for a card naming VNM as its issuing state -- someone else's number on a card another state signed."""
    other = TestPki.create(country="TH", common="Another country's CSCA")
    trust.add(other.csca_pem())
    forged = issue_card(other, b"\xff\xd8 not a real picture", document="203009999")
    read = read_card(SoftwareCard(forged.files, forged.document, forged.birth, forged.expiry),
                     forged.document, forged.birth, forged.expiry, trust)
    assert read.mrz.issuing_state == "VNM" and read.passive.outcome == "tampered"
    assert read.passive.problems == ("the card names VNM as its issuing state, but the CSCA that vouches for it is "
                                     "TH's",)
    # Vietnam's own CSCA still vouches for Vietnam's cards.
    issued = issue_card(pki, b"\xff\xd8 not a real picture")
    read = read_card(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry),
                     issued.document, issued.birth, issued.expiry, trust)
    assert read.passive.outcome == "genuine", read.passive.problems
    assert (issuing_country("VNM"), issuing_country("D<<"), issuing_country("ZZZ")) == ("VN", "DE", None)


def test_wrong_mrz_details_are_refused_in_plain_words(pki, trust):
    issued = issue_card(pki, b"\xff\xd8")
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    with pytest.raises(AccessDenied, match="the card did not accept these details"):
        read_card(card, issued.document, "900316", issued.expiry, trust)


def test_a_lost_answer_is_read_again_and_a_card_taken_away_is_a_clean_error(pki, trust):
    issued = issue_card(pki, bytes(5000))
    flaky = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, drop={9, 20})
    read = read_card(flaky, issued.document, issued.birth, issued.expiry, trust)
    assert read.stats.retries == 2 and read.files == issued.files
    gone = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, remove_after=15)
    with pytest.raises(CardRemoved, match="taken away before it was read"):
        read_card(gone, issued.document, issued.birth, issued.expiry, trust)


def test_a_portrait_beyond_32_kib_is_read_with_the_odd_read_binary(pki, trust):
    """Issue 26, fault 3: the odd READ BINARY's data (BER-TLV) go in DO85, as ISO/IEC 7816-4 and chips want; it was
    sent in DO87, which this card -- as a real chip -- refuses with 6988."""
    big = bytes(range(256)) * 200  # 51,200 bytes: offsets past 7FFF go in DO54
    issued = issue_card(pki, big)
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    read = read_card(card, issued.document, issued.birth, issued.expiry, trust)
    assert read.faces[0].data == big and read.passive.outcome == "genuine"
    assert any(apdu[1] == 0xB1 for apdu in card.received)


def test_a_card_without_a_security_object_says_so(pki, trust):
    """Issue 26, fault 1: under secure messaging a chip answers an error status in the clear (6A82: no such
    file); it was reported as "the card left secure messaging", never as the missing EF.SOD."""
    issued = issue_card(pki, b"\xff\xd8 not a real picture")
    files = {name: data for name, data in issued.files.items() if name != "SOD"}
    with pytest.raises(StatusError, match="^the card has no SOD: the card answered 6A82$"):
        read_card(SoftwareCard(files, issued.document, issued.birth, issued.expiry), issued.document, issued.birth,
                  issued.expiry, trust)


def test_an_error_status_mid_file_ends_the_read_with_it_and_not_as_a_card_taken_away(pki, trust):
    """Issue 26, fault 2: an error status during a chunk read was taken for the card being pulled: BAC ran three
    more times and the person was told to put back a card that was there and answering."""
    issued = issue_card(pki, bytes(5000))
    dry = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
    read_card(dry, issued.document, issued.birth, issued.expiry, trust)
    selects = [n for n, apdu in enumerate(dry.received, 1) if apdu[1] == 0xA4 and apdu[2] == 0x02]
    second_chunk_of_dg2 = selects[2] + 2  # EF.COM, DG1, then DG2: its length, then its first chunk
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry,
                        errors={second_chunk_of_dg2: b"\x65\x81"})  # memory failure
    with pytest.raises(StatusError, match="^reading DG2 at byte 8: the card answered 6581$"):
        read_card(card, issued.document, issued.birth, issued.expiry, trust)
    assert sum(apdu[1] == 0x82 for apdu in card.received) == 1  # one BAC: no retry
    assert len(card.received) == second_chunk_of_dg2  # and nothing sent after the card's answer


def test_a_malformed_ef_com_is_named_and_does_not_fail_a_genuine_read(pki, trust):
    """Issue 26, fault 4: EF.COM (not covered by EF.SOD, not needed for the check) that did not parse failed a
    read that had passed passive authentication, with a message that did not name EF.COM."""
    issued = issue_card(pki, b"\xff\xd8 not a real picture")
    for com, why in ((bytes.fromhex("6003 5C0561"), "does not parse"),  # a list longer than the file
                     (bytes.fromhex("6005 5C02"), "could not be read")):  # a file shorter than it says
        files = issued.files | {"COM": com}
        read = read_card(SoftwareCard(files, issued.document, issued.birth, issued.expiry), issued.document,
                         issued.birth, issued.expiry, trust)
        assert read.passive.outcome == "genuine" and read.mrz.name == "NGUYEN VAN AN"
        assert read.data_groups == () and len(read.notes) == 1 and read.notes[0].startswith(f"EF.COM {why}")


def test_the_name_as_written_comes_from_dg13_where_the_issuer_signed_it(pki, trust, monkeypatch):
    """Issue 26: DG1's name is ASCII ("TRAN THI BINH"); the card writes it in DG13 ("Trần Thị Bình"). Only the
    name is decoded -- ethnicity, religion and residence are left alone -- and only from a DG13 EF.SOD covers."""
    issued = issue_card(pki, b"\xff\xd8 not a real picture", surname="TRAN", given="THI BINH", sex="F",
                        full_name="Trần  Thị Bình")
    decoded: list[bytes] = []
    monkeypatch.setattr("emrtd.files.dg13._text", lambda value: decoded.append(value) or " ".join(
        value.decode("utf-8").split()))
    read = read_card(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry), issued.document,
                     issued.birth, issued.expiry, trust)
    assert (read.name, read.mrz.name, read.full_name) == ("Trần Thị Bình", "TRAN THI BINH", "Trần Thị Bình")
    assert read.passive.outcome == "genuine" and read.passive.groups_checked == (1, 2, 13)
    assert decoded == ["Trần  Thị Bình".encode()]  # one value decoded: the name
    # A DG13 the issuer did not sign is not even read: the name stays DG1's.
    unsigned = issue_card(pki, b"\xff\xd8 not a real picture", surname="TRAN", given="THI BINH",
                          full_name="Trần Thị Bình", signed_dg13=False)
    card = SoftwareCard(unsigned.files, unsigned.document, unsigned.birth, unsigned.expiry)
    read = read_card(card, unsigned.document, unsigned.birth, unsigned.expiry, trust)
    assert (read.name, read.full_name, "DG13" in read.files) == ("TRAN THI BINH", None, False)
    # Changed on the card, DG13 no longer matches what the issuer signed.
    altered = issued.files | {"DG13": issued.files["DG13"].replace("Bình".encode(), "Binh".encode() + b" ")}
    read = read_card(SoftwareCard(altered, issued.document, issued.birth, issued.expiry), issued.document,
                     issued.birth, issued.expiry, trust)
    assert read.passive.outcome == "tampered" and "DG13" in read.passive.problems[0]


def test_the_trust_store_takes_a_csca_or_a_master_list_and_refuses_what_is_not_a_ca(pki, tmp_path):
    store = TrustStore(tmp_path / "trust")
    assert [c.subject for c in store.add(pki.csca_pem())] == [pki.csca.subject]
    assert store.add(pki.csca_pem()) == []  # the same certificate twice changes nothing
    other = TestPki.create(country="DE", common="Other CSCA")
    assert len(store.add(master_list(other, [other.csca, TestPki.create(common="Third CSCA").csca]))) == 2
    assert len(store.certificates()) == 3
    with pytest.raises(TrustStoreError, match="not a CA certificate"):
        store.add(pki.dsc.public_bytes(Encoding.PEM))
    with pytest.raises(TrustStoreError, match="neither a certificate nor an ICAO master list"):
        store.add(b"hello")
    assert (tmp_path / "trust").stat().st_mode & 0o777 == 0o700
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "trust").iterdir()} == {0o600}


def master_list(signer: TestPki, certificates) -> bytes:
    """An ICAO master list (CMS SignedData over a CscaMasterList) signed by `signer`'s DSC."""
    from asn1crypto import cms
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from emrtd.checks.trust import CSCA_MASTER_LIST, _CscaMasterList

    body = _CscaMasterList({"version": 0, "certificates": [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))
                                                            for c in certificates]}).dump()
    dsc = asn1_x509.Certificate.load(signer.dsc.public_bytes(Encoding.DER))
    attributes = cms.CMSAttributes([{"type": "content_type", "values": [cms.ContentType(CSCA_MASTER_LIST)]},
                                    {"type": "message_digest", "values": [hashlib.sha256(body).digest()]}])
    info = cms.SignerInfo({
        "version": "v1", "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": dsc.issuer, "serial_number": dsc.serial_number}}),
        "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes,
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": signer.dsc_key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))})
    signed = cms.SignedData({"version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
                             "encap_content_info": {"content_type": CSCA_MASTER_LIST, "content": body},
                             "certificates": [dsc], "signer_infos": [info]})
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


# --- `facegate card`: the reader is the hardware boundary, so the software card stands in for PC/SC -------------

def audit_entries(db, secrets):
    from gateway.services.security.audit import open_store

    store = open_store(db, secrets)[0]
    return [(e.actor, e.action, json.loads(e.detail)) for e in store.audit.entries() if e.action.startswith("card.")]


def test_card_read_prints_the_card_checks_it_and_audits_every_read(pki, tmp_path, virtual_reader, capsys, caplog):
    """`facegate card read` on PC/SC reader 0: pcscd and the virtual reader, the software card on it."""
    from facegate.cli import main

    issued = issue_card(pki, bytes(3000), chip_authentication=2, active_authentication="ecdsa")
    virtual_reader.insert(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry,
                                       chip_keys=issued.chip_keys, pace=(pace_info(),)))
    db, secrets = tmp_path / "gateway.db", tmp_path / "secrets"
    common = ["--db", str(db), "--recorded-by", "lan"]
    mrz = f"{issued.document},{issued.birth},{issued.expiry}"

    assert main(["card", "read", "--mrz", mrz, "--json", *common]) == 1  # nobody trusts the issuer yet
    first = json.loads(capsys.readouterr().out)
    assert first["passive_authentication"]["outcome"] == "untrusted_issuer"
    assert first["holder"]["name"] == "NGUYEN VAN AN" and first["holder"]["birth"] == "15/03/1990"
    assert first["document"]["card_number"] == "001090001344" and first["portraits"][0]["bytes"] == 3000

    (tmp_path / "csca.pem").write_bytes(pki.csca_pem())
    assert main(["card", "trust", "add", str(tmp_path / "csca.pem"), *common]) == 0
    assert "trusted CN=Test CSCA" in capsys.readouterr().out
    assert main(["card", "trust", "list", "--db", str(db)]) == 0
    assert "CN=Test CSCA,O=FaceGate test issuer,C=VN\tuntil " in capsys.readouterr().out

    portrait = tmp_path / "portrait.jpg"
    assert main(["card", "read", "--mrz", mrz, "--portrait", str(portrait), *common]) == 0
    out = capsys.readouterr().out
    assert "passive authentication: genuine" in out and "holder       NGUYEN VAN AN, born 15/03/1990" in out
    assert "outcome      genuine (opened with PACE ECDH-GM AES-128 brainpoolP256r1)" in out
    assert "clone checks: chip authentication passed, active authentication passed" in out
    assert portrait.read_bytes() == bytes(3000) and portrait.stat().st_mode & 0o777 == 0o600

    assert main(["card", "read", "--mrz", f"{issued.document},900316,{issued.expiry}", *common]) == 2
    assert "the card did not accept these details" in caplog.text
    assert main(["card", "read", "--mrz", "20300134X-,900315,351231", *common]) == 2  # mistyped: no read
    assert "document number '20300134X-': up to 9 of 0-9, A-Z" in caplog.text

    entries = audit_entries(db, tmp_path / "secrets")
    assert [(actor, action, d.get("outcome")) for actor, action, d in entries] == [
        ("cli:lan", "card.read", "untrusted_issuer"), ("cli:lan", "card.trust_added", None),
        ("cli:lan", "card.read", "genuine"), ("cli:lan", "card.read", "refused")]
    from gateway.services.security.secrets import GatewaySecrets

    card_hash = GatewaySecrets(secrets).id_card_hash("001090001344")
    assert entries[2][2]["card"] == card_hash and entries[2][2]["place"].startswith("reader 0 (FaceGate virtual reader")
    assert entries[2][2]["access"] == "PACE ECDH-GM AES-128 brainpoolP256r1"
    assert "001090001344" not in json.dumps(entries) and "NGUYEN" not in json.dumps(entries)


QR_2021 = "001090001344|123456789|Nguyễn Văn An|15031990|Nam|12 Hàng Bạc, Hoàn Kiếm, Hà Nội|{issued}"


def test_the_access_key_comes_from_the_cards_qr_code_one_attempt_per_expiry_its_rules_allow(pki, trust):
    """Issue 26, part 3: the QR code holds the personal number and the birth date, not the expiry; a card runs to
    the holder's birthday at 25, 40 or 60, and one issued less than two years before such a birthday to the next."""
    qr = parse_card_qr(QR_2021.format(issued="01052021"))
    assert (qr.document, qr.birth, qr.issued) == ("090001344", dt.date(1990, 3, 15), dt.date(2021, 5, 1))
    today = dt.date(2026, 12, 6)
    # Issued at 31: it runs to 40 (then, in case, 60).
    assert access_candidates(qr, today) == [("090001344", "900315", "300315"), ("090001344", "900315", "500315")]
    # Issued at 23 (under two years before 25): to 40, then 25 in case the rule was not applied.
    assert expiry_candidates(dt.date(1990, 3, 15), dt.date(2013, 6, 1), today) == [dt.date(2030, 3, 15),
                                                                                  dt.date(2015, 3, 15)]
    # Without an issue date: every milestone still ahead. An exam roster's entry (number and birth) gives the same.
    assert expiry_candidates(dt.date(1990, 3, 15), None, today) == [dt.date(2030, 3, 15), dt.date(2050, 3, 15)]
    assert roster_candidates("001090001344", dt.date(1990, 3, 15), today) == \
        [("090001344", "900315", "300315"), ("090001344", "900315", "500315")]
    with pytest.raises(ValueError, match="12 digits"):
        roster_candidates("09000134", dt.date(1990, 3, 15), today)
    for text in ("https://example.vn/ticket/123", "001090001344|x|y|31021990|Nam|z|01052021", "12345"):
        with pytest.raises(ValueError):
            parse_card_qr(text)

    # The card opens with the first key; a card whose expiry is the second candidate costs one refused attempt.
    for expiry, attempts in (("300315", 1), ("500315", 2)):
        issued = issue_card(pki, b"\xff\xd8 not a real picture", document="090001344", birth="900315", expiry=expiry)
        card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry)
        opened = read_card_trying(card, access_candidates(qr, today), trust, today)
        assert opened.attempts == attempts and opened.read.passive.outcome == "genuine"
        assert sum(apdu[1] == 0x82 for apdu in card.received) == attempts  # one BAC each
    stranger = issue_card(pki, b"\xff\xd8 not a real picture", document="090001344", birth="900315", expiry="310101")
    with pytest.raises(AccessDenied, match="did not accept any of the 2 keys"):
        read_card_trying(SoftwareCard(stranger.files, stranger.document, stranger.birth, stranger.expiry),
                         access_candidates(qr, today), trust, today)


def test_an_exam_doors_listed_keys_are_probed_with_bacs_short_handshake_then_the_card_read_with_pace(pki, trust):
    """Issue 27: the door tries the keys of every candidate it expects. BAC's three commands find the one the card
    opens with; the read then runs PACE, the card's strongest. A PACE-only card cannot be probed (None): then a
    whole read per key."""
    today = dt.date(2026, 12, 6)
    keys = [key for document, birth in (("090001111", dt.date(1991, 1, 1)), ("090001344", dt.date(1990, 3, 15)),
                                         ("090002222", dt.date(1992, 2, 2)))
            for key in listed_keys(document, birth, today)]
    issued = issue_card(pki, b"\xff\xd8 not a real picture", document="090001344", birth="900315", expiry="500315")
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(pace_info(),))
    found = probe_keys(card, keys)
    assert keys[found] == ("090001344", "900315", "500315") and found == 3  # two per candidate: 2030 and 2050
    assert sum(apdu[1] == 0x82 for apdu in card.received) == 4  # one EXTERNAL AUTHENTICATE a key tried
    assert read_card(card, *keys[found], trust).protocol.startswith("PACE")
    pace_only = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(pace_info(),),
                             bac=False)
    assert probe_keys(pace_only, keys) is None
    assert read_card_trying(pace_only, keys, trust, today).attempts == 4
    with pytest.raises(AccessDenied, match="any of the 2 keys listed"):
        probe_keys(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry), keys[:2])
