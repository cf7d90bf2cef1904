"""Talking to the chip: APDUs and their statuses (apdu.py), BER-TLV framing (tlv.py), real readers (pcsc.py)."""
