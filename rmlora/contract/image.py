"""SRAM image: what the compiler writes and the runtime loads into the SRAM buffer.

    header   (IMAGE_HEADER_BYTES)  magic, format version, section count, payload size,
                                   CRC32 of everything after the header
    sections (SECTION_BYTES each)  kind, slot, SRAM word address, byte length
    payload                        the sections' bytes, one after another

The header and table stay on the host; each section's bytes go to its SRAM word
address. All fields little-endian. A loader refuses a truncated image, a wrong
magic, a newer format version, a CRC mismatch, and sections that overlap or fall
outside the SRAM, before writing anything.
"""

from amaranth import unsigned
from amaranth.lib import data, enum

__all__ = ["IMAGE_MAGIC", "IMAGE_VERSION", "SectionKind", "ImageHeader", "Section",
           "IMAGE_HEADER_BYTES", "SECTION_BYTES", "NO_SLOT", "ImageFault"]

IMAGE_MAGIC = 0x494C4D52  # ASCII "RMLI", little-endian
IMAGE_VERSION = (2, 0)  # major, minor: a loader reads any minor of its major or older
NO_SLOT = 0xF  # a section that belongs to no adapter slot


class SectionKind(enum.Enum, shape=8):
    LAYER_PROGRAM = 1  # the sequencer's list of layer descriptors
    LORA_LAYER = 2  # LoRA layer descriptors (rmlora.contract.lora.LoraLayer)
    ADAPTER = 3  # one adapter slot's entries, A and B matrices
    LUT = 4  # activation lookup tables
    XBAR = 5  # crossbar descriptors


class ImageHeader(data.Struct):
    magic: unsigned(32)
    version_major: unsigned(8)
    version_minor: unsigned(8)
    n_sections: unsigned(16)
    payload_bytes: unsigned(32)
    crc32: unsigned(32)  # zlib.crc32 of the section table and the payload


class Section(data.Struct):
    kind: SectionKind
    slot: unsigned(8)  # adapter slot of an ADAPTER section, else NO_SLOT
    reserved: unsigned(16)
    sram_word: unsigned(32)  # where the bytes go
    length: unsigned(32)  # bytes


IMAGE_HEADER_BYTES = data.Layout.cast(ImageHeader).size // 8  # 16
SECTION_BYTES = data.Layout.cast(Section).size // 8  # 12


class ImageFault(enum.Enum, shape=8):
    """Why a loader refuses an image, one code per check, in the order the checks run.

    The Python loader (rmlora.sw.formats.image.ImageError.fault) and the C driver
    (its return status) name the same fault for the same image; the values sit at
    0x20-0x3f so that they share the C driver's status space (contract.driver)."""

    TRUNCATED = 0x20  # shorter than the header
    MAGIC = 0x21  # not an rmlora image
    VERSION = 0x22  # a newer major format version than the loader's
    SIZE = 0x23  # length differs from header + section table + payload
    CRC = 0x24  # CRC32 of the section table and payload differs from the header's
    SECTION_KIND = 0x25  # a section of an unknown kind
    SECTION_PAST_PAYLOAD = 0x26  # a section runs past the end of the payload
    SECTION_SLOT = 0x27  # an ADAPTER section outside the slots, or another kind with a slot
    UNCLAIMED = 0x28  # payload bytes no section claims
    SECTION_RANGE = 0x29  # a section does not fit the chip's SRAM buffer
    OVERLAP = 0x2A  # two sections share SRAM words

    @property
    def text(self) -> str:
        return _FAULT_TEXT[self]


_FAULT_TEXT = {
    ImageFault.TRUNCATED: "image shorter than its header",
    ImageFault.MAGIC: "not an rmlora image (bad magic)",
    ImageFault.VERSION: "image format newer than the loader",
    ImageFault.SIZE: "image length differs from what its header says",
    ImageFault.CRC: "image corrupted (CRC32 mismatch)",
    ImageFault.SECTION_KIND: "section of an unknown kind",
    ImageFault.SECTION_PAST_PAYLOAD: "section runs past the end of the payload",
    ImageFault.SECTION_SLOT: "section slot not allowed for its kind",
    ImageFault.UNCLAIMED: "payload bytes no section claims",
    ImageFault.SECTION_RANGE: "section does not fit the SRAM buffer",
    ImageFault.OVERLAP: "two sections overlap in SRAM",
}
