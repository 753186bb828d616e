"""Build and check SRAM images (format in rmlora.contract.image).

`build_image` packs sections into one versioned, checksummed blob; `parse_image`
checks everything before returning anything, so a caller never writes half an
image; `ImageError` says what is wrong.
"""

import zlib
from dataclasses import dataclass

from amaranth.lib import data

from rmlora.contract import ChipParams
from rmlora.contract.image import (
    IMAGE_HEADER_BYTES,
    IMAGE_MAGIC,
    IMAGE_VERSION,
    NO_SLOT,
    SECTION_BYTES,
    ImageHeader,
    Section,
    SectionKind,
)

__all__ = ["ImageError", "ImageSection", "build_image", "parse_image"]

_HEADER = data.Layout.cast(ImageHeader)
_SECTION = data.Layout.cast(Section)


class ImageError(ValueError):
    """The image cannot be loaded; the message names the reason."""


@dataclass(frozen=True)
class ImageSection:
    kind: SectionKind
    sram_word: int
    payload: bytes
    slot: int = NO_SLOT


def _check_layout(sections: list[ImageSection], params: ChipParams):
    wb = params.sram_word_bytes
    spans = []
    for i, s in enumerate(sections):
        words = -(-len(s.payload) // wb)
        if s.sram_word < 0 or s.sram_word + words > params.sram_depth:
            raise ImageError(f"section {i} ({s.kind.name}) at SRAM word {s.sram_word}, "
                             f"{len(s.payload)} bytes, does not fit the {params.sram_depth}-word "
                             f"SRAM buffer")
        spans.append((s.sram_word, s.sram_word + words, i))
    spans.sort()
    for (_, end, i), (start, _, j) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ImageError(f"sections {i} and {j} overlap in SRAM")


def build_image(sections: list[ImageSection], params: ChipParams) -> bytes:
    _check_layout(sections, params)
    payload = b"".join(s.payload for s in sections)
    table = b"".join(_SECTION.const({
        "kind": s.kind, "slot": s.slot, "reserved": 0, "sram_word": s.sram_word,
        "length": len(s.payload)}).as_value().value.to_bytes(SECTION_BYTES, "little")
        for s in sections)
    header = _HEADER.const({
        "magic": IMAGE_MAGIC, "version_major": IMAGE_VERSION[0],
        "version_minor": IMAGE_VERSION[1], "n_sections": len(sections),
        "payload_bytes": len(payload), "crc32": zlib.crc32(table + payload),
    }).as_value().value.to_bytes(IMAGE_HEADER_BYTES, "little")
    return header + table + payload


def parse_image(blob: bytes, params: ChipParams) -> list[ImageSection]:
    """The image's sections, after every check; raises ImageError otherwise."""
    if len(blob) < IMAGE_HEADER_BYTES:
        raise ImageError(f"image truncated: {len(blob)} bytes, the header alone is "
                         f"{IMAGE_HEADER_BYTES}")
    h = _HEADER.from_bits(int.from_bytes(blob[:IMAGE_HEADER_BYTES], "little"))
    if h.magic != IMAGE_MAGIC:
        raise ImageError(f"not an rmlora image: magic 0x{h.magic:08x}, "
                         f"expected 0x{IMAGE_MAGIC:08x}")
    if h.version_major > IMAGE_VERSION[0]:
        raise ImageError(f"image format {h.version_major}.{h.version_minor} is newer than "
                         f"this loader's {IMAGE_VERSION[0]}.{IMAGE_VERSION[1]}")
    table_end = IMAGE_HEADER_BYTES + h.n_sections * SECTION_BYTES
    if len(blob) != table_end + h.payload_bytes:
        raise ImageError(f"image truncated or padded: {len(blob)} bytes, the header says "
                         f"{table_end + h.payload_bytes}")
    payload = blob[table_end:]
    crc = zlib.crc32(blob[IMAGE_HEADER_BYTES:])
    if crc != h.crc32:
        raise ImageError(f"image corrupted: CRC32 of section table and payload 0x{crc:08x}, "
                         f"header says 0x{h.crc32:08x}")
    sections, offset = [], 0
    for i in range(h.n_sections):
        at = IMAGE_HEADER_BYTES + i * SECTION_BYTES
        raw = int.from_bytes(blob[at:at + SECTION_BYTES], "little")
        kind = raw & 0xFF
        if kind not in {k.value for k in SectionKind}:
            raise ImageError(f"section {i} has unknown kind {kind}")
        s = _SECTION.from_bits(raw)
        if offset + s.length > len(payload):
            raise ImageError(f"section {i} runs past the end of the payload")
        sections.append(ImageSection(SectionKind(kind), s.sram_word,
                                     payload[offset:offset + s.length], s.slot))
        offset += s.length
    if offset != len(payload):
        raise ImageError(f"payload has {len(payload) - offset} bytes no section claims")
    _check_layout(sections, params)
    return sections
