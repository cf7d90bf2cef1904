"""DG2: the holder's portrait (ICAO 9303 part 10, 4.7.2), a biometric template of ISO/IEC 19794-5 inside
the CBEFF group 7F61, one facial record or more, each image JPEG or JPEG 2000.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emrtd.link.tlv import TlvError, children, file_value, read_tlv

IMAGE_TYPES = {0: "jpeg", 1: "jpeg2000"}


@dataclass(frozen=True)
class FaceImage:
    """One facial record: its image as stored on the chip and what the record header says about it."""

    image_type: str  # jpeg, jpeg2000
    width: int
    height: int
    data: bytes

    def decode(self) -> np.ndarray:
        """The portrait as a BGR image; ValueError if its bytes are not a picture (OpenCV decodes JPEG 2000
        through OpenJPEG)."""
        image = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)
        if image is None or image.size == 0:
            raise ValueError(f"DG2: the portrait ({self.image_type}, {len(self.data)} bytes) does not decode")
        return image


def _facial_records(block: bytes) -> list[FaceImage]:
    """The images of an ISO/IEC 19794-5 biometric data block ('FAC\\0', version, lengths, records)."""
    if block[:4] != b"FAC\x00" or len(block) < 14:
        raise TlvError("DG2: the biometric data block is not ISO/IEC 19794-5 ('FAC')")
    count, offset, images = int.from_bytes(block[12:14], "big"), 14, []
    for _ in range(count):
        length = int.from_bytes(block[offset:offset + 4], "big")
        record = block[offset:offset + length]
        if length < 32 or len(record) != length:
            raise TlvError("DG2: a facial record runs past the end")
        points = int.from_bytes(record[4:6], "big")
        info = 20 + 8 * points  # the record header, then 8 bytes per feature point, then the image information
        if len(record) < info + 12:
            raise TlvError("DG2: a facial record without its image")
        kind = record[info + 1]
        if kind not in IMAGE_TYPES:
            raise TlvError(f"DG2: image data type {kind} is neither JPEG nor JPEG 2000")
        images.append(FaceImage(IMAGE_TYPES[kind], int.from_bytes(record[info + 2:info + 4], "big"),
                                int.from_bytes(record[info + 4:info + 6], "big"), record[info + 12:]))
        offset += length
    return images


def parse_dg2(data: bytes) -> list[FaceImage]:
    """The facial images of a DG2 file, in order; TlvError (a ValueError) if the file is not one."""
    value = file_value(data, 0x75, "DG2")
    group = children(value).get(0x7F61)
    if group is None:
        raise TlvError("DG2 holds no biometric information group (7F61)")
    images, offset = [], 0
    while offset < len(group):
        tag, template, offset = read_tlv(group, offset)
        if tag != 0x7F60:
            continue  # 02: the number of templates that follow
        inner = children(template)
        block = inner.get(0x5F2E, inner.get(0x7F2E))
        if block is None:
            raise TlvError("DG2: a biometric template without its data block (5F2E)")
        images += _facial_records(block)
    if not images:
        raise TlvError("DG2 holds no facial image")
    return images
