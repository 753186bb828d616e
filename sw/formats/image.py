"""Build and check SRAM images (format in rmlora.contract.image).

`build_image` packs sections into one versioned, checksummed blob; `parse_image`
checks everything before returning anything, so a caller never writes half an
image; `ImageError` says what is wrong. Every field is range-checked against its
contract width on both sides: a value that does not fit is refused, never wrapped
(a slot of 256 packed into 8 bits would load as slot 0).
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
    ImageFault,
    ImageHeader,
    Section,
    SectionKind,
)
from rmlora.contract.lora import LORA_SLOTS
from rmlora.contract.packing import pack_fields

__all__ = ["ImageError", "ImageSection", "build_image", "parse_image"]

_HEADER = data.Layout.cast(ImageHeader)
_SECTION = data.Layout.cast(Section)


class ImageError(ValueError):
    """The image cannot be built or loaded; the message names the reason and, for a
    refused load, `fault` names the check (the C driver returns the same ImageFault)."""

    def __init__(self, message: str, fault: ImageFault | None = None):
        super().__init__(message)
        self.fault = fault

    def __reduce__(self):  # picklable whole: a cosimulation sends it to the host
        return type(self), (str(self), self.fault)


def _field_max(layout, name: str) -> int:
    return (1 << layout[name].shape.width) - 1


@dataclass(frozen=True)
class ImageSection:
    """One section: `payload` goes to SRAM word `sram_word`; an ADAPTER section names its
    slot (0..LORA_SLOTS-1), every other kind has slot NO_SLOT. A field that does not
    fit the contract (its width, or the slot rule) is an ImageError naming it."""

    kind: SectionKind
    sram_word: int
    payload: bytes
    slot: int = NO_SLOT

    def __post_init__(self):
        if not isinstance(self.kind, SectionKind):
            raise ImageError(f"section kind {self.kind!r}: must be one of "
                             f"{', '.join(k.name for k in SectionKind)}")
        if not isinstance(self.payload, bytes | bytearray | memoryview):
            raise ImageError(f"section payload: must be bytes, got {type(self.payload).__name__}")
        object.__setattr__(self, "payload", bytes(self.payload))  # frozen: a copy of its own
        for name, value, hi in (("sram_word", self.sram_word, _field_max(_SECTION, "sram_word")),
                                ("length", len(self.payload), _field_max(_SECTION, "length"))):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
                raise ImageError(f"section field out of range: {name}={value!r} "
                                 f"(needs 0..{hi})")
        if self.kind is SectionKind.ADAPTER:
            ok, allowed = self.slot in range(LORA_SLOTS), f"0..{LORA_SLOTS - 1}"
        else:
            ok, allowed = self.slot == NO_SLOT, f"{NO_SLOT} (NO_SLOT)"
        if isinstance(self.slot, bool) or not isinstance(self.slot, int) or not ok:
            raise ImageError(f"section field out of range: slot={self.slot!r} "
                             f"({self.kind.name} sections need {allowed})")


def _check_layout(sections: list[ImageSection], params: ChipParams):
    wb = params.sram_word_bytes
    spans = []
    for i, s in enumerate(sections):
        words = -(-len(s.payload) // wb)
        if s.sram_word + words > params.sram_depth:
            raise ImageError(f"section {i} ({s.kind.name}) at SRAM word {s.sram_word}, "
                             f"{len(s.payload)} bytes, does not fit the {params.sram_depth}-word "
                             f"SRAM buffer", ImageFault.SECTION_RANGE)
        spans.append((s.sram_word, s.sram_word + words, i))
    spans.sort()
    for (_, end, i), (start, _, j) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ImageError(f"sections {i} and {j} overlap in SRAM", ImageFault.OVERLAP)


def _pack(layout, fields: dict, what: str) -> int:
    try:
        return pack_fields(layout, fields, what)
    except ValueError as err:
        raise ImageError(str(err)) from None


def build_image(sections: list[ImageSection], params: ChipParams) -> bytes:
    most = _field_max(_HEADER, "n_sections")
    if len(sections) > most:
        raise ImageError(f"image header field out of range: n_sections={len(sections)} "
                         f"(needs 0..{most})")
    for i, s in enumerate(sections):
        if not isinstance(s, ImageSection):
            raise ImageError(f"section {i}: must be an ImageSection, got {type(s).__name__}")
    _check_layout(sections, params)
    payload = b"".join(s.payload for s in sections)
    table = b"".join(_pack(Section, {
        "kind": s.kind, "slot": s.slot, "reserved": 0, "sram_word": s.sram_word,
        "length": len(s.payload)}, f"section {i} field").to_bytes(SECTION_BYTES, "little")
        for i, s in enumerate(sections))
    header = _pack(ImageHeader, {
        "magic": IMAGE_MAGIC, "version_major": IMAGE_VERSION[0],
        "version_minor": IMAGE_VERSION[1], "n_sections": len(sections),
        "payload_bytes": len(payload), "crc32": zlib.crc32(table + payload),
    }, "image header field").to_bytes(IMAGE_HEADER_BYTES, "little")
    return header + table + payload


def parse_image(blob: bytes, params: ChipParams) -> list[ImageSection]:
    """The image's sections, after every check; raises ImageError otherwise (and only
    ImageError: a forged image with a recomputed CRC is refused by the checks behind it)."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise ImageError(f"an image is bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < IMAGE_HEADER_BYTES:
        raise ImageError(f"image truncated: {len(blob)} bytes, the header alone is "
                         f"{IMAGE_HEADER_BYTES}", ImageFault.TRUNCATED)
    h = _HEADER.from_bits(int.from_bytes(blob[:IMAGE_HEADER_BYTES], "little"))
    if h.magic != IMAGE_MAGIC:
        raise ImageError(f"not an rmlora image: magic 0x{h.magic:08x}, "
                         f"expected 0x{IMAGE_MAGIC:08x}", ImageFault.MAGIC)
    if h.version_major > IMAGE_VERSION[0]:
        raise ImageError(f"image format {h.version_major}.{h.version_minor} is newer than "
                         f"this loader's {IMAGE_VERSION[0]}.{IMAGE_VERSION[1]}",
                         ImageFault.VERSION)
    table_end = IMAGE_HEADER_BYTES + h.n_sections * SECTION_BYTES
    if len(blob) != table_end + h.payload_bytes:
        raise ImageError(f"image truncated or padded: {len(blob)} bytes, the header says "
                         f"{table_end + h.payload_bytes}", ImageFault.SIZE)
    payload = blob[table_end:]
    crc = zlib.crc32(blob[IMAGE_HEADER_BYTES:])
    if crc != h.crc32:
        raise ImageError(f"image corrupted: CRC32 of section table and payload 0x{crc:08x}, "
                         f"header says 0x{h.crc32:08x}", ImageFault.CRC)
    kinds = {k.value for k in SectionKind}
    sections, offset = [], 0
    for i in range(h.n_sections):
        at = IMAGE_HEADER_BYTES + i * SECTION_BYTES
        raw = int.from_bytes(blob[at:at + SECTION_BYTES], "little")
        kind = raw & 0xFF
        if kind not in kinds:
            raise ImageError(f"section {i} has unknown kind {kind}", ImageFault.SECTION_KIND)
        s = _SECTION.from_bits(raw)
        if offset + s.length > len(payload):
            raise ImageError(f"section {i} runs past the end of the payload",
                             ImageFault.SECTION_PAST_PAYLOAD)
        try:
            sections.append(ImageSection(SectionKind(kind), int(s.sram_word),
                                         payload[offset:offset + s.length], int(s.slot)))
        except ImageError as err:
            raise ImageError(f"section {i}: {err}", ImageFault.SECTION_SLOT) from None
        offset += s.length
    if offset != len(payload):
        raise ImageError(f"payload has {len(payload) - offset} bytes no section claims",
                         ImageFault.UNCLAIMED)
    _check_layout(sections, params)
    return sections
