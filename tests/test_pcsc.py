"""The chip card through the real PC/SC stack (issue 26): pyscard -> pcscd -> the vsmartcard-vpcd reader driver
-> the software card (tests/virtual_reader.py). What a kiosk's reader meets: BAC, PACE with Chip and Active
Authentication, a clone, wrong details, a card pulled away, an error status, a file over 32 KiB."""

from __future__ import annotations

import pytest

from emrtd.link.apdu import AccessDenied, CardRemoved, StatusError
from emrtd.link.pcsc import PcscTransport, reader_names
from emrtd.reader import read_card
from emrtd_card import SoftwareCard, issue_card, pace_info


def read_on_reader(virtual_reader, issued, trust, birth=None, **card):
    virtual_reader.insert(SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry,
                                       chip_keys=issued.chip_keys, **card))
    transport = PcscTransport(0)
    try:
        return read_card(transport, issued.document, birth or issued.birth, issued.expiry, trust)
    finally:
        transport.close()


def test_a_bac_card_and_a_pace_card_with_the_anti_clone_checks_read_through_pcscd(virtual_reader, pki, trust):
    assert reader_names()[0].startswith("FaceGate virtual reader")
    old = issue_card(pki, bytes(3000))
    read = read_on_reader(virtual_reader, old, trust)
    assert (read.protocol, read.outcome) == ("BAC", "genuine")
    new = issue_card(pki, bytes(range(256)) * 160, full_name="Trần Thị Bình", chip_authentication=2,
                     active_authentication="rsa")  # 40 kB of portrait: past 32 KiB, the odd READ BINARY
    read = read_on_reader(virtual_reader, new, trust, pace=(pace_info(),))
    assert (read.protocol, read.outcome, read.name) == \
        ("PACE ECDH-GM AES-128 brainpoolP256r1", "genuine", "Trần Thị Bình")
    assert (read.clone.chip, read.clone.active) == ("passed", "passed")
    assert read.faces[0].data == bytes(range(256)) * 160
    cloned = read_on_reader(virtual_reader, new, trust, pace=(pace_info(),), clone=True)
    assert (cloned.outcome, cloned.clone.chip, cloned.clone.active) == ("clone_suspected", "failed", "failed")


def test_wrong_details_a_pulled_card_and_an_error_status_through_pcscd(virtual_reader, pki, trust):
    issued = issue_card(pki, bytes(5000))
    with pytest.raises(AccessDenied, match="the card did not accept these details"):
        read_on_reader(virtual_reader, issued, trust, birth="900316", pace=(pace_info(),))
    with pytest.raises(CardRemoved, match="taken away before it was read"):
        read_on_reader(virtual_reader, issued, trust, remove_after=15)  # pulled mid-read: pcscd sees it leave
    with pytest.raises(StatusError, match=r"^reading DG2 at byte \d+: the card answered 6581$"):
        read_on_reader(virtual_reader, issued, trust, errors={15: b"\x65\x81"})  # a chunk of DG2: memory failure
    assert sum(apdu[1] == 0x82 for apdu in virtual_reader.card.received) == 1  # one BAC: the card is not "gone"
