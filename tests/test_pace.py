"""PACE (issue 26): the ECDH generic mapping against ICAO 9303-11's worked example (appendix G.1) byte for byte,
then cards that offer it read end to end through the software card: the suites and curves, a wrong password,
a PACE-only card, an offer this reader does not run, a lost answer mid-read."""

from __future__ import annotations

import pytest

from emrtd.link.apdu import AccessDenied
from emrtd.opening import pace
from emrtd.opening.bac import mrz_information
from emrtd.reader import read_card
from emrtd_card import SoftwareCard, card_access, issue_card, pace_info


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# ICAO 9303-11 appendix G.1: PACE, ECDH generic mapping, AES-128, brainpoolP256r1, the MRZ password of
# document T22000129 (birth 640812, expiry 101031). The reader's and the chip's secret scalars are the example's.
G1_MRZ = ("T22000129", "640812", "101031")
G1_CARD_ACCESS = h("3114 3012060A 04007F00 07020204 02020201 0202010D")
G1_NONCE = h("3F00C4D3 9D153F2B 2A214A07 8D899B22")
G1_READER = (int("7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99", 16),
             int("A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595", 16))
G1_CHIP = (int("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560", 16),
           int("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A", 16))
G1_EXCHANGE = [  # (command, answer) as the appendix lists them
    ("00 22 C1 A4 0F 80 0A 04007F00 07020204 0202 83 01 01", "9000"),
    ("10 86 00 00 02 7C 00 00", "7C 12 80 10 95A3A016 522EE98D 01E76CB6 B98B42C3 9000"),
    ("10 86 00 00 45 7C 43 81 41 04 7ACF3EFC 982EC455 65A4B155 129EFBC7 4650DCBF A6362D89 6FC70262 E0C2CC5E"
     " 544552DC B6725218 799115B5 5C9BAA6D 9F6BC3A9 618E70C2 5AF71777 A9C4922D 00",
     "7C 43 82 41 04 824FBA91 C9CBE26B EF53A0EB E7342A3B F178CEA9 F45DE0B7 0AA60165 1FBA3F57"
     " 30D8C879 AAA9C9F7 3991E61B 58F4D52E B87A0A0C 709A49DC 63719363 CCD13C54 9000"),
    ("10 86 00 00 45 7C 43 83 41 04 2DB7A64C 0355044E C9DF1905 14C625CB A2CEA487 54887122 F3A5EF0D 5EDD301C"
     " 3556F3B3 B186DF10 B857B58F 6A7EB80F 20BA5DC7 BE1D43D9 BF850149 FBB36462 00",
     "7C 43 84 41 04 9E880F84 2905B8B3 181F7AF7 CAA9F0EF B743847F 44A306D2 D28C1D9E C65DF6DB"
     " 7764B222 77A2EDDC 3C265A9F 018F9CB8 52E111B7 68B32690 4B59A019 3776F094 9000"),
    ("00 86 00 00 0C 7C 0A 85 08 C2B0BD78 D94BA866 00", "7C 0A 86 08 3ABB9674 BCE93C08 9000"),
]
G1_SESSION = (h("F5F0E35C 0D7161EE 6724EE51 3A0D9A7F"), h("FE251C78 58B356B2 4514B3BD 5F4297D1"))


class Recorder:
    """A transport that keeps every command and answer crossing it."""

    def __init__(self, card):
        self.card, self.exchange = card, []

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.card.transmit(apdu)
        self.exchange.append((apdu.hex().upper(), answer.hex().upper()))
        return answer

    def reconnect(self) -> None:
        self.card.reconnect()


def test_pace_matches_icao_9303s_worked_example_byte_for_byte_against_the_software_card():
    """The reader's commands and the software card's answers are the appendix's, and the session keys too."""
    assert mrz_information(*G1_MRZ) == "T22000129364081251010318"
    [info] = pace.pace_infos(G1_CARD_ACCESS)
    assert info.describe() == "PACE ECDH-GM AES-128 brainpoolP256r1" and card_access(info) == G1_CARD_ACCESS
    card = SoftwareCard({}, *G1_MRZ, pace=(info,), pace_fixed=(G1_NONCE, *G1_CHIP))
    link = Recorder(card)
    channel = pace.authenticate(link, info, mrz_information(*G1_MRZ), map_private=G1_READER[0],
                                agreement_private=G1_READER[1])
    assert link.exchange == [(h(c).hex().upper(), h(a).hex().upper()) for c, a in G1_EXCHANGE]
    assert (channel.ks_enc, channel.ks_mac, channel.ssc) == (*G1_SESSION, bytes(16))


def test_pace_refuses_a_chip_whose_token_is_not_the_examples():
    """The reader checks the chip's token: the appendix's last answer with one bit changed is refused."""
    answers = [h(a) for _, a in G1_EXCHANGE]
    answers[-1] = answers[-1][:-3] + bytes((answers[-1][-3] ^ 1,)) + answers[-1][-2:]

    class Scripted:
        def transmit(self, apdu: bytes) -> bytes:
            return answers.pop(0)

        def reconnect(self) -> None:
            pass

    [info] = pace.pace_infos(G1_CARD_ACCESS)
    with pytest.raises(pace.CardError, match="authentication token is wrong"):
        pace.authenticate(Scripted(), info, mrz_information(*G1_MRZ), map_private=G1_READER[0],
                          agreement_private=G1_READER[1])


@pytest.mark.parametrize("suite, parameter, protocol", [
    (2, 13, "PACE ECDH-GM AES-128 brainpoolP256r1"),
    (1, 12, "PACE ECDH-GM 3DES NIST P-256"),
    (4, 15, "PACE ECDH-GM AES-256 NIST P-384"),
])
def test_a_card_offering_pace_is_read_with_it(pki, trust, suite, parameter, protocol):
    issued = issue_card(pki, bytes(range(256)) * 40, full_name="Trần Thị Bình")
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(pace_info(suite, parameter),),
                        bac=False)  # PACE-only: BAC would be refused
    read = read_card(card, issued.document, issued.birth, issued.expiry, trust)
    assert read.protocol == protocol and read.passive.outcome == "genuine" and read.name == "Trần Thị Bình"
    assert not any(apdu[1] in (0x84, 0x82) for apdu in card.received)  # no BAC tried


def test_pace_with_wrong_details_is_refused_in_plain_words(pki, trust):
    issued = issue_card(pki, b"\xff\xd8")
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(pace_info(),), bac=False)
    with pytest.raises(AccessDenied, match="the card did not accept these details"):
        read_card(card, issued.document, "900316", issued.expiry, trust)


def test_of_several_offers_the_strongest_runs_and_an_offer_this_reader_does_not_run_falls_back_to_bac(pki, trust):
    issued = issue_card(pki, b"\xff\xd8")
    both = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry,
                        pace=(pace_info(1, 12), pace_info(2, 13)))
    read = read_card(both, issued.document, issued.birth, issued.expiry, trust)
    assert read.protocol == "PACE ECDH-GM AES-128 brainpoolP256r1"
    mechanism = next(apdu for apdu in both.received if apdu[1] == 0x22)
    assert mechanism.endswith(h("84 01 0D"))  # two curves offered: the one chosen is named
    dh_only = pace.PaceInfo(pace.PACE_PREFIX + bytes((1, 2)), 2, 0)  # DH generic mapping: not run here
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(dh_only,))
    read = read_card(card, issued.document, issued.birth, issued.expiry, trust)
    assert read.protocol == "BAC" and read.passive.outcome == "genuine"
    assert read.notes == ("the card offers PACE 04007F00070202040102 (parameters 0), which this reader does not run: "
                          "BAC was used",)


def test_a_card_whose_pace_fails_where_bac_works_is_read_with_bac_and_says_so(pki, trust):
    """Open readers report it of Vietnam's cards (../shared/data/README.md): PACE offered, then refused."""
    issued = issue_card(pki, b"\xff\xd8")
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(pace_info(),),
                        pace_refused=True)
    read = read_card(card, issued.document, issued.birth, issued.expiry, trust)
    assert read.protocol == "BAC" and read.passive.outcome == "genuine"
    assert read.notes == ("PACE ECDH-GM AES-128 brainpoolP256r1 failed (the card refused PACE ECDH-GM AES-128 "
                          "brainpoolP256r1: the card answered 6A80): BAC was used",)
    assert sum(apdu[1] == 0x22 for apdu in card.received) == 1  # not tried again on a reopen


def test_a_lost_answer_under_pace_runs_pace_again_and_reads_on(pki, trust):
    issued = issue_card(pki, bytes(5000))
    card = SoftwareCard(issued.files, issued.document, issued.birth, issued.expiry, pace=(pace_info(),), drop={15})
    read = read_card(card, issued.document, issued.birth, issued.expiry, trust)
    assert read.stats.retries == 1 and read.files == issued.files
    assert sum(apdu[1] == 0x22 for apdu in card.received) == 2
