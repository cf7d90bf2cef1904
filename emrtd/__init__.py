"""Reading the chip of an ICAO 9303 travel document or ID card (Vietnam's CCCD): access keys, secure
messaging, data groups, passive authentication, the anti-clone checks. Shared by the kiosk, the exam check-in
and the CLI (issues 15, 26).

reader.py  the one entry point, `read_card`: open, read, check
access.py  the access key without typing (the card's QR code, the expiry dates its rules allow)
link/      APDUs, BER-TLV, PC/SC readers
opening/   BAC or PACE (and its curves), and the secure messaging both end in (3DES or AES)
files/     DG1, DG2, DG13, EF.SOD, and the SecurityInfos of EF.CardAccess and DG14, parsed
checks/    passive authentication, the trust store, and the anti-clone checks (Chip and Active
           Authentication)
"""
