"""The chip's files, parsed: DG1 (the MRZ), DG2 (the portrait), DG13 (the name as written), EF.SOD, and the
SecurityInfos of EF.CardAccess and DG14 (what the chip can do)."""
