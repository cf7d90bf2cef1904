"""Opening the chip: the access key from the MRZ fields, BAC or PACE, and the secure messaging both end in."""
