"""SRAM images: round trip, and a clear refusal for every kind of bad image."""

import re
import zlib

import pytest
from amaranth.lib import data
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.contract import ChipParams
from rmlora.contract.image import (
    IMAGE_HEADER_BYTES,
    IMAGE_MAGIC,
    NO_SLOT,
    SECTION_BYTES,
    ImageHeader,
    Section,
    SectionKind,
)
from rmlora.sw.formats.image import ImageError, ImageSection, build_image, parse_image

P = ChipParams()
_SECTION_LAYOUT = data.Layout.cast(Section)


def sample_sections():
    return [
        ImageSection(SectionKind.LAYER_PROGRAM, 0, bytes(range(40))),
        ImageSection(SectionKind.ADAPTER, 16, b"\x01\x02" * 50, slot=1),
        ImageSection(SectionKind.LUT, 100, bytes(256)),
    ]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=6))
def test_round_trip(payloads):
    sections, word = [], 0
    for i, payload in enumerate(payloads):
        sections.append(ImageSection(SectionKind.ADAPTER, word, payload, slot=i % 4))
        word += -(-len(payload) // P.sram_word_bytes)
    assert parse_image(build_image(sections, P), P) == sections


def test_truncated_image():
    blob = build_image(sample_sections(), P)
    with pytest.raises(ImageError, match="truncated"):
        parse_image(blob[:10], P)
    with pytest.raises(ImageError, match="truncated"):
        parse_image(blob[:-1], P)


def test_wrong_magic():
    blob = bytearray(build_image(sample_sections(), P))
    blob[0] ^= 0xFF
    with pytest.raises(ImageError, match=f"expected 0x{IMAGE_MAGIC:08x}"):
        parse_image(bytes(blob), P)


def test_newer_version():
    blob = bytearray(build_image(sample_sections(), P))
    blob[4] = 99  # version_major
    with pytest.raises(ImageError, match="newer than this loader"):
        parse_image(bytes(blob), P)


def test_corrupted_payload():
    blob = bytearray(build_image(sample_sections(), P))
    blob[-5] ^= 0x10
    with pytest.raises(ImageError, match="CRC32"):
        parse_image(bytes(blob), P)


_HEADER_LAYOUT = data.Layout.cast(ImageHeader)


def reseal(blob: bytearray) -> bytes:
    """A forged image with its CRC recomputed: the checks behind the CRC must hold too."""
    set_header_field(blob, "crc32", zlib.crc32(bytes(blob[IMAGE_HEADER_BYTES:])))
    return bytes(blob)


def _put(blob: bytearray, at: int, field, value: int):
    blob[at:at + field.width // 8] = value.to_bytes(field.width // 8, "little")


def set_header_field(blob: bytearray, name: str, value: int):
    """Overwrite one header field in place (offsets from the contract's layout)."""
    field = _HEADER_LAYOUT[name]
    _put(blob, field.offset // 8, field, value)


def set_section_field(blob: bytearray, index: int, name: str, value: int):
    """Overwrite one field of section `index`'s table entry in place."""
    field = _SECTION_LAYOUT[name]
    _put(blob, IMAGE_HEADER_BYTES + index * SECTION_BYTES + field.offset // 8, field, value)


def test_section_table_is_covered_by_the_crc():
    blob = bytearray(build_image(sample_sections(), P))
    blob[IMAGE_HEADER_BYTES + 4] ^= 1  # the first section's SRAM word
    with pytest.raises(ImageError, match="CRC32"):
        parse_image(bytes(blob), P)


def test_unknown_section_kind_with_a_valid_crc():
    blob = bytearray(build_image(sample_sections(), P))
    blob[IMAGE_HEADER_BYTES] = 200  # the first section's kind
    with pytest.raises(ImageError, match="unknown kind 200"):
        parse_image(reseal(blob), P)


def test_sections_outside_or_overlapping_are_refused_on_both_sides():
    too_far = [ImageSection(SectionKind.LUT, P.sram_depth - 1, bytes(16))]
    with pytest.raises(ImageError, match="does not fit"):
        build_image(too_far, P)
    overlap = [ImageSection(SectionKind.LUT, 0, bytes(16)),
               ImageSection(SectionKind.LUT, 1, bytes(8))]
    with pytest.raises(ImageError, match="overlap"):
        build_image(overlap, P)
    # a forged image with overlapping sections and a correct CRC
    good = build_image([ImageSection(SectionKind.LUT, 0, bytes(16)),
                        ImageSection(SectionKind.LUT, 2, bytes(8))], P)
    forged = bytearray(good)
    second = IMAGE_HEADER_BYTES + SECTION_BYTES
    forged[second + 4:second + 8] = (1).to_bytes(4, "little")  # move it onto the first
    with pytest.raises(ImageError, match="overlap"):
        parse_image(reseal(forged), P)


# ---- every field checked against its contract width, never wrapped ----

OUT_OF_RANGE = [
    # (section, the message: field, value and the allowed range)
    (dict(kind=SectionKind.ADAPTER, slot=256), "slot=256 (ADAPTER sections need 0..3)"),
    (dict(kind=SectionKind.ADAPTER, slot=4), "slot=4 (ADAPTER sections need 0..3)"),
    (dict(kind=SectionKind.ADAPTER, slot=-1), "slot=-1 (ADAPTER sections need 0..3)"),
    (dict(kind=SectionKind.ADAPTER, slot=NO_SLOT), f"slot={NO_SLOT} (ADAPTER sections"),
    (dict(kind=SectionKind.LUT, slot=0), f"slot=0 (LUT sections need {NO_SLOT} (NO_SLOT))"),
    (dict(kind=SectionKind.ADAPTER, slot=True), "slot=True"),
    (dict(sram_word=-1), "sram_word=-1 (needs 0..4294967295)"),
    (dict(sram_word=1 << 32), "sram_word=4294967296 (needs 0..4294967295)"),
    (dict(sram_word=1.0), "sram_word=1.0 (needs 0..4294967295)"),
    (dict(kind=3), "section kind 3: must be one of LAYER_PROGRAM"),
    (dict(payload=[1, 2]), "payload: must be bytes, got list"),
]


@pytest.mark.parametrize("fields, message", OUT_OF_RANGE)
def test_a_field_that_does_not_fit_is_refused_not_wrapped(fields, message):
    """Before: ImageSection(ADAPTER, 0, ..., slot=256) built and loaded as slot 0, and
    slot 16 as slot 16 (no such slot). Now every field is checked on construction, so
    build_image never sees one that does not fit."""
    args = dict(kind=SectionKind.ADAPTER, sram_word=0, payload=b"\1" * 8, slot=1) | fields
    with pytest.raises(ImageError, match=re.escape(message)):
        build_image([ImageSection(**args)], P)


def test_too_many_sections_for_the_header_is_refused():
    one = ImageSection(SectionKind.LUT, 0, b"")
    with pytest.raises(ImageError, match=r"n_sections=65536 \(needs 0..65535\)"):
        build_image([one] * 65536, P)
    with pytest.raises(ImageError, match="must be an ImageSection"):
        build_image([(SectionKind.LUT, 0, b"")], P)


@pytest.mark.parametrize("index, value, message", [
    (1, 7, "section 1: section field out of range: slot=7 (ADAPTER sections need 0..3)"),
    (1, NO_SLOT, f"section 1: section field out of range: slot={NO_SLOT}"),
    (0, 1, "section 0: section field out of range: slot=1 (LAYER_PROGRAM sections"),
])
def test_a_forged_slot_with_a_valid_crc_is_refused(index, value, message):
    """The CRC passes; the slot rule (ADAPTER: a real slot, others NO_SLOT) catches it."""
    blob = bytearray(build_image(sample_sections(), P))
    set_section_field(blob, index, "slot", value)
    with pytest.raises(ImageError, match=re.escape(message)):
        parse_image(reseal(blob), P)


def test_parse_refuses_what_is_not_bytes():
    for thing in (None, "RMLI", [1, 2, 3]):
        with pytest.raises(ImageError, match="an image is bytes"):
            parse_image(thing, P)
