"""The chip's files, parsed: DG1 (the MRZ), DG2 (the portrait), DG13 (the name as written), EF.SOD."""
