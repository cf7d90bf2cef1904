"""The chip side of an ID card (issue 15): BAC keys against ICAO 9303 part 11's worked example (appendix D),
DG1 against the BSI specimen and ICAO's TD1 example."""

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


@pytest.mark.data  # ../shared/data/emrtd
def test_the_bsi_specimens_dg1_reads_as_its_printed_mrz():
    from conftest import DATA
    from emrtd.dg1 import parse_dg1

    mrz = parse_dg1((DATA / "emrtd" / "Datagroup1.bin").read_bytes())
    assert (mrz.document_type, mrz.issuing_state, mrz.document_number) == ("P", "D<<", "C11T002JM")
    assert (mrz.birth, mrz.sex, mrz.expiry, mrz.nationality) == ("960812", "F", "231031", "D<<")
    assert mrz.name == "ERIKA MUSTERMANN"


def test_a_td1_id_card_mrz_with_its_personal_number_and_a_wrong_check_digit():
    from emrtd.dg1 import parse_mrz

    # ICAO 9303 part 5's TD1 example, as a CCCD is laid out (the personal number in the optional data).
    lines = ("I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
    mrz = parse_mrz("".join(lines))
    assert (mrz.document_number, mrz.birth, mrz.expiry, mrz.sex) == ("D23145890", "740812", "120415", "F")
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    with pytest.raises(ValueError, match="birth date"):
        parse_mrz("".join(lines).replace("7408122", "7408121"))
