"""A cloned chip (issue 26): Chip Authentication (DG14) and Active Authentication (DG15) prove the chip holds
the keys its signed files name; the software card's clone mode -- the same files on a chip without those
keys -- reads `clone_suspected`, as does a chip that leaves out a file EF.SOD lists."""

from __future__ import annotations

import pytest

from emrtd.reader import read_card
from emrtd_card import SoftwareCard, issue_card, pace_info


def read(issued, trust, **card):
    chip = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, chip_keys=issued.chip_keys,
                        **card)
    return read_card(chip, issued.document, issued.birth, issued.expiry, trust), chip


@pytest.mark.parametrize("chip_authentication, ca_version, active, pace", [
    (2, 2, "rsa", False),  # AES-128 Chip Authentication (MSE:Set AT, GENERAL AUTHENTICATE), RSA ISO/IEC 9796-2
    (1, 1, "ecdsa", True),  # 3DES Chip Authentication (MSE:Set KAT) after PACE, ECDSA on brainpoolP256r1
])
def test_the_original_chip_passes_both_checks_and_its_clone_fails_both(pki, trust, chip_authentication, ca_version,
                                                                       active, pace):
    issued = issue_card(pki, bytes(3000), full_name="Trần Thị Bình", chip_authentication=chip_authentication,
                        ca_version=ca_version, active_authentication=active)
    offer = {"pace": (pace_info(),)} if pace else {}
    genuine, chip = read(issued, trust, **offer)
    assert (genuine.outcome, genuine.clone.chip, genuine.clone.active) == ("genuine", "passed", "passed")
    assert genuine.passive.groups_checked == (1, 2, 13, 14, 15) and genuine.name == "Trần Thị Bình"
    assert any(apdu[1] == 0x88 for apdu in chip.received)  # INTERNAL AUTHENTICATE, under secure messaging
    cloned, _ = read(issued, trust, clone=True, **offer)
    assert cloned.passive.outcome == "genuine"  # the files are the state's: only the chip gives the copy away
    assert (cloned.outcome, cloned.clone.chip, cloned.clone.active) == ("clone_suspected", "failed", "failed")
    assert cloned.clone.problems[0].startswith("the chip cannot go on under the keys its DG14 key agrees")
    assert cloned.clone.problems[1] == "the chip's Active Authentication signature does not verify with DG15's key"


def test_a_chip_that_leaves_out_a_file_ef_sod_lists_is_suspected(pki, trust):
    issued = issue_card(pki, bytes(3000), active_authentication="rsa")
    issued.files.pop("DG15")
    result, _ = read(issued, trust)
    assert result.outcome == "clone_suspected" and result.clone.active == "failed"
    assert result.clone.problems == [
        "EF.SOD lists DG15, but the chip does not serve it (the card has no DG15: the card answered 6A82)"]


def test_a_card_without_dg14_or_dg15_is_read_as_before(pki, trust):
    issued = issue_card(pki, bytes(3000))
    result, _ = read(issued, trust)
    assert (result.outcome, result.clone.chip, result.clone.active) == ("genuine", "not_offered", "not_offered")
