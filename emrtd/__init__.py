"""Reading the chip of an ICAO 9303 travel document or ID card (Vietnam's CCCD): access keys, secure
messaging, data groups, passive authentication. Shared by the kiosk, the exam check-in and the CLI (issue 15).

bac.py   Basic Access Control: the key seed and the session's encryption and MAC keys from the MRZ fields
tlv.py   BER-TLV, the chip files' framing
dg1.py   DG1: the MRZ the chip holds, TD1 (ID cards) and TD3 (passports), every check digit checked
"""
