"""SRAM images: round trip, and a clear refusal for every kind of bad image."""

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.contract import ChipParams
from rmlora.contract.image import IMAGE_HEADER_BYTES, IMAGE_MAGIC, SECTION_BYTES, SectionKind
from rmlora.sw.formats.image import ImageError, ImageSection, build_image, parse_image

P = ChipParams()


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


def reseal(blob: bytearray) -> bytes:
    """A forged image with its CRC recomputed: the checks behind the CRC must hold too."""
    blob[12:16] = zlib.crc32(bytes(blob[IMAGE_HEADER_BYTES:])).to_bytes(4, "little")
    return bytes(blob)


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
