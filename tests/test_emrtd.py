"""The chip side of an ID card (issue 15): BAC keys against ICAO 9303 part 11's worked example (appendix D)."""

from __future__ import annotations

import pytest

from emrtd.bac import BacKeys, check_digit, key_seed, mrz_information


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
