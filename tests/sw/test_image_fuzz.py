"""Property tests of the SRAM image parser and of Chip.load on the golden backend.

Images are forged from a valid one: header and section-table fields set to any value
their width holds, bytes overwritten, the blob cut or padded, and then (mostly) the
CRC recomputed, so the structural checks behind the CRC must catch what is wrong.
Whatever the bytes, parse_image either returns sections that obey the format's rules
or raises ImageError (never another exception), and a refused Chip.load leaves the
chip exactly as it was: SRAM, sections, adapter names, enabled slots.

Examples are derandomized (the same forged images every run); RMLORA_FUZZ_EXAMPLES
raises their number for a longer hunt.
"""

import os
import re

from amaranth.lib import data
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rmlora.contract import ChipParams
from rmlora.contract.image import (
    IMAGE_HEADER_BYTES,
    NO_SLOT,
    SECTION_BYTES,
    ImageHeader,
    Section,
    SectionKind,
)
from rmlora.contract.lora import LORA_SLOTS
from rmlora.sw.formats.image import ImageError, ImageSection, build_image, parse_image
from rmlora.sw.runtime import Chip, ChipRefused
from tests.sw.test_image import reseal, set_header_field, set_section_field

P = ChipParams()
EXAMPLES = int(os.environ.get("RMLORA_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

BASE_SECTIONS = [
    ImageSection(SectionKind.LAYER_PROGRAM, 0, bytes(range(32))),
    ImageSection(SectionKind.XBAR, 4, bytes(range(100, 132))),
    ImageSection(SectionKind.LORA_LAYER, 8, bytes(range(200, 248))),
    ImageSection(SectionKind.ADAPTER, 16, b"\x11" * 40, slot=0),
    ImageSection(SectionKind.ADAPTER, 24, b"\x22" * 24, slot=1),
    ImageSection(SectionKind.LUT, 40, bytes(range(256))),
]
BASE = build_image(BASE_SECTIONS, P)
BASE_NAMES = {"a": 0, "b": 1}


def field_values(width: int) -> st.SearchStrategy[int]:
    """Any value of the field, weighted towards the edges and the SRAM's size."""
    top = (1 << width) - 1
    return st.one_of(st.integers(0, top), st.integers(0, min(top, 2 * P.sram_depth)),
                     st.sampled_from(sorted({0, 1, top, top >> 1, (top >> 1) + 1,
                                             min(top, P.sram_depth - 1), min(top, 255)})))


def field_edit(layout, names) -> st.SearchStrategy[tuple[str, int]]:
    layout = data.Layout.cast(layout)
    return st.sampled_from(names).flatmap(
        lambda name: st.tuples(st.just(name), field_values(layout[name].width)))


HEADER_FIELDS = ["version_major", "version_minor", "n_sections", "payload_bytes"]
SECTION_FIELDS = ["kind", "slot", "reserved", "sram_word", "length"]

SECTION_EDIT = st.tuples(st.just("section"), st.tuples(
    st.integers(0, len(BASE_SECTIONS) - 1), field_edit(Section, SECTION_FIELDS)))
EDITS = st.one_of(
    SECTION_EDIT, SECTION_EDIT,  # the table is where a forged image does its damage
    st.tuples(st.just("header"), field_edit(ImageHeader, HEADER_FIELDS)),
    # bytes moved from one section to another: the total still matches the header
    st.tuples(st.just("move"), st.tuples(st.integers(0, len(BASE_SECTIONS) - 1),
                                         st.integers(0, len(BASE_SECTIONS) - 1),
                                         st.integers(1, 64))),
    # payload bytes appended, the header's size grown to match (unclaimed or claimed)
    st.tuples(st.just("grow"), st.tuples(st.binary(min_size=1, max_size=24), st.booleans())),
    st.tuples(st.just("byte"), st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 255))),
    st.tuples(st.just("cut"), st.integers(0, len(BASE))),
    st.tuples(st.just("pad"), st.binary(min_size=1, max_size=24)),
)


def _section_length(blob: bytearray, index: int) -> int:
    field = data.Layout.cast(Section)["length"]
    at = IMAGE_HEADER_BYTES + index * SECTION_BYTES + field.offset // 8
    return int.from_bytes(blob[at:at + field.width // 8], "little")


@st.composite
def forged_images(draw) -> bytes:
    blob = bytearray(BASE)
    n = len(BASE_SECTIONS)
    table_end = IMAGE_HEADER_BYTES + n * SECTION_BYTES
    for kind, edit in draw(st.lists(EDITS, min_size=1, max_size=4)):
        intact = len(blob) >= table_end
        if kind == "header" and len(blob) >= IMAGE_HEADER_BYTES:
            set_header_field(blob, *edit)
        elif kind == "section" and intact:
            index, (name, value) = edit
            set_section_field(blob, index, name, value)
        elif kind == "move" and intact:
            src, dst, moved = edit
            moved = min(moved, _section_length(blob, src))
            set_section_field(blob, src, "length", _section_length(blob, src) - moved)
            set_section_field(blob, dst, "length",
                              min(_section_length(blob, dst) + moved, (1 << 32) - 1))
        elif kind == "grow" and intact:
            extra, claimed = edit
            blob += extra
            set_header_field(blob, "payload_bytes", len(blob) - table_end)
            if claimed:
                last = _section_length(blob, n - 1)
                set_section_field(blob, n - 1, "length", min(last + len(extra), (1 << 32) - 1))
        elif kind == "byte" and edit[0] < len(blob):
            blob[edit[0]] = edit[1]
        elif kind == "cut":
            del blob[edit:]
        elif kind == "pad":
            blob += edit
    if len(blob) >= IMAGE_HEADER_BYTES and draw(st.sampled_from([True, True, True, False])):
        return reseal(blob)  # mostly: past the CRC, into the structural checks
    return bytes(blob)


def _reason(err: Exception) -> str:
    """The kind of refusal, for hypothesis' statistics (numbers stripped)."""
    return re.sub(r"0x[0-9a-f]+|\d+", "#", str(err))[:60]


def check_structure(sections: list[ImageSection]):
    """What a parsed image promises: every section inside the SRAM, none overlapping,
    ADAPTER sections in a real slot and the others in none."""
    wb, spans = P.sram_word_bytes, []
    for s in sections:
        words = -(-len(s.payload) // wb)
        assert 0 <= s.sram_word and s.sram_word + words <= P.sram_depth
        assert (s.slot in range(LORA_SLOTS)) if s.kind is SectionKind.ADAPTER else s.slot == NO_SLOT
        spans.append((s.sram_word, s.sram_word + words))
    spans.sort()
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))


@FUZZ
@given(forged_images())
def test_the_parser_refuses_forged_images_with_image_error_only(blob):
    try:
        sections = parse_image(blob, P)
    except ImageError as err:
        event(f"refused: {_reason(err)}")
        return
    event("parsed")
    check_structure(sections)
    assert parse_image(build_image(sections, P), P) == sections  # what parses, rebuilds


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 6))
def test_random_bytes_behind_a_valid_header_are_refused_cleanly(tail, n_sections):
    """Arbitrary table and payload bytes under a well-formed header and a valid CRC."""
    blob = bytearray(BASE[:16]) + tail
    set_header_field(blob, "n_sections", n_sections)
    set_header_field(blob, "payload_bytes", max(0, len(tail) - 12 * n_sections))
    try:
        check_structure(parse_image(reseal(blob), P))
    except ImageError:
        pass


def chip_state(chip: Chip):
    """Everything a load may change: the SRAM and what the runtime knows of it."""
    return (chip.backend.read_sram(0, P.sram_bytes), list(chip.sections), dict(chip.names),
            chip.enabled)


NAMES = st.one_of(st.none(), st.just(BASE_NAMES),
                  st.dictionaries(st.sampled_from(["a", "b", ""]), st.integers(-1, 5),
                                  max_size=2))


@FUZZ
@given(forged_images(), NAMES)
def test_a_refused_load_leaves_the_chip_exactly_as_it_was(blob, names):
    """A loaded chip with an adapter on; the forged image either loads completely (every
    section's bytes at its address, the runtime's view replaced) or changes nothing."""
    chip = Chip(P, seed=0)
    chip.load(BASE, names=BASE_NAMES)
    chip.enable(["a"])
    before = chip_state(chip)
    try:
        chip.load(blob, names=names)
    except (ImageError, ChipRefused) as err:
        event(f"refused: {_reason(err)}")
        assert chip_state(chip) == before
        return
    event("loaded")
    sections = parse_image(blob, P)
    assert chip.sections == sections and chip.enabled == 0
    wb = P.sram_word_bytes
    for s in sections:
        assert chip.backend.read_sram(s.sram_word * wb, len(s.payload)) == s.payload
