"""The shared table of bad images: each one forged from a valid image and the check it
must fail, an ImageFault. The Python loader (ImageError.fault) and the C driver (its
return value) are both held to this table (tests/firmware/test_driver_refusals.py)."""

from collections.abc import Callable
from dataclasses import dataclass

from rmlora.contract import ChipParams
from rmlora.contract.image import IMAGE_VERSION, ImageFault
from tests.sw.test_image import reseal, set_header_field, set_section_field
from tests.sw.test_image_fuzz import BASE, BASE_SECTIONS

P = ChipParams()
LAST = len(BASE_SECTIONS) - 1
ADAPTER = next(i for i, s in enumerate(BASE_SECTIONS) if s.kind.name == "ADAPTER")
OTHER = next(i for i, s in enumerate(BASE_SECTIONS) if s.kind.name != "ADAPTER")


@dataclass(frozen=True)
class BadImage:
    name: str
    forge: Callable[[bytearray], bytes]
    fault: ImageFault


def _section(index: int, field: str, value: int) -> Callable[[bytearray], bytes]:
    def forge(blob):
        set_section_field(blob, index, field, value)
        return reseal(blob)
    return forge


def _header(field: str, value: int, seal: bool = True) -> Callable[[bytearray], bytes]:
    def forge(blob):
        set_header_field(blob, field, value)
        return reseal(blob) if seal else bytes(blob)
    return forge


def _flip(at: int) -> Callable[[bytearray], bytes]:
    def forge(blob):
        blob[at] ^= 0x01
        return bytes(blob)
    return forge


BAD_IMAGES = [
    BadImage("empty", lambda blob: b"", ImageFault.TRUNCATED),
    BadImage("cut inside the header", lambda blob: bytes(blob[:15]), ImageFault.TRUNCATED),
    BadImage("wrong magic", _flip(0), ImageFault.MAGIC),
    BadImage("newer major version", _header("version_major", IMAGE_VERSION[0] + 1),
             ImageFault.VERSION),
    BadImage("one byte short", lambda blob: bytes(blob[:-1]), ImageFault.SIZE),
    BadImage("one byte padded", lambda blob: bytes(blob) + b"\0", ImageFault.SIZE),
    BadImage("more sections than the table holds", _header("n_sections", len(BASE_SECTIONS) + 1),
             ImageFault.SIZE),
    BadImage("payload byte flipped", _flip(len(BASE) - 1), ImageFault.CRC),
    BadImage("table byte flipped", _flip(16 + 4), ImageFault.CRC),
    BadImage("unknown section kind", _section(0, "kind", 9), ImageFault.SECTION_KIND),
    BadImage("section kind zero", _section(LAST, "kind", 0), ImageFault.SECTION_KIND),
    BadImage("last section past the payload",
             _section(LAST, "length", len(BASE_SECTIONS[LAST].payload) + 1),
             ImageFault.SECTION_PAST_PAYLOAD),
    BadImage("adapter in slot 4", _section(ADAPTER, "slot", 4), ImageFault.SECTION_SLOT),
    BadImage("adapter in no slot", _section(ADAPTER, "slot", 0xF), ImageFault.SECTION_SLOT),
    BadImage("program section in slot 0", _section(OTHER, "slot", 0), ImageFault.SECTION_SLOT),
    BadImage("payload bytes unclaimed",
             _section(LAST, "length", len(BASE_SECTIONS[LAST].payload) - 1),
             ImageFault.UNCLAIMED),
    BadImage("section past the SRAM", _section(LAST, "sram_word", P.sram_depth - 1),
             ImageFault.SECTION_RANGE),
    BadImage("section at word 2**32 - 1", _section(0, "sram_word", (1 << 32) - 1),
             ImageFault.SECTION_RANGE),
    BadImage("two sections on one word", _section(1, "sram_word", BASE_SECTIONS[0].sram_word),
             ImageFault.OVERLAP),
    BadImage("a section inside another", _section(LAST, "sram_word",
                                                  BASE_SECTIONS[0].sram_word + 1),
             ImageFault.OVERLAP),
]
