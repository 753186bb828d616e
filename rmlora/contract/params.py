"""Hardware parameters of one rmlora chip build.

Every block's size comes from here, so the RTL generator, the golden model, the
runtime and the C header agree on it. The chip also reports the values in its
HW_* registers, so a driver can check that it talks to the build it expects.
"""

from dataclasses import dataclass

from .memory_map import SRAM_WINDOW_MAX

__all__ = ["ChipParams", "BUS_ADDR_WIDTH", "BUS_DATA_WIDTH"]

# AXI4-Lite host bus: 32-bit addresses and data (AMBA AXI4-Lite allows 32 or 64
# bit data; 32 keeps the C driver to plain uint32_t accesses).
BUS_ADDR_WIDTH = 32
BUS_DATA_WIDTH = 32


def _is_pow2(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


@dataclass(frozen=True)
class ChipParams:
    """Build-time parameters; validated so that a bad value names itself."""

    # SRAM buffer: word width in bits (a power of two, >= the 32-bit bus word, so
    # a bus word is one byte-enabled lane of a SRAM word) and depth in words.
    # 64-bit words feed eight int8 operands per cycle to the LoRA PE array.
    sram_width: int = 64
    sram_depth: int = 8192
    # ReRAM macros: the paper's prototype macro is a 128x128 1T1R array; adc_bits
    # and verify_bits are the column ADC and the programming sense amplifier.
    macro_rows: int = 128
    macro_cols: int = 128
    n_macros: int = 4
    adc_bits: int = 8
    verify_bits: int = 8
    # The LoRA unit's adapter cache (hw/lora_unit.py), in SRAM words: a layer whose
    # enabled adapters fit is read from the SRAM buffer once per layer pass, not once
    # per vector. 512 words (4 KiB at 64-bit words) hold the largest layer of every
    # task's defaults with three rank-6 adapters; 0 builds the unit without it.
    lora_cache_words: int = 512

    def __post_init__(self):
        for name, lo, hi in (("macro_rows", 8, 256), ("macro_cols", 8, 256), ("n_macros", 1, 16),
                             ("adc_bits", 4, 12), ("verify_bits", 4, 12)):
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name}={value}: must be in [{lo}, {hi}]")
        if not (self.lora_cache_words == 0 or (_is_pow2(self.lora_cache_words)
                                               and 16 <= self.lora_cache_words <= 4096)):
            raise ValueError(f"lora_cache_words={self.lora_cache_words}: must be 0 or a power "
                             f"of two from 16 to 4096")
        for name in ("macro_rows", "macro_cols"):
            if not _is_pow2(getattr(self, name)):
                raise ValueError(f"{name}={getattr(self, name)}: must be a power of two")
        if not (_is_pow2(self.sram_width) and 32 <= self.sram_width <= 512):
            raise ValueError(
                f"sram_width={self.sram_width}: must be a power of two from 32 to 512 bits"
            )
        if not (_is_pow2(self.sram_depth) and 16 <= self.sram_depth <= 1 << 17):
            raise ValueError(
                f"sram_depth={self.sram_depth}: must be a power of two from 16 to 131072 words"
            )
        if self.sram_bytes > SRAM_WINDOW_MAX:
            raise ValueError(
                f"sram_depth*sram_width/8 = {self.sram_bytes} bytes exceeds the "
                f"{SRAM_WINDOW_MAX}-byte SRAM window of the memory map"
            )

    @property
    def sram_bytes(self) -> int:
        return self.sram_depth * self.sram_width // 8

    @property
    def sram_lanes(self) -> int:
        """32-bit bus words per SRAM word."""
        return self.sram_width // BUS_DATA_WIDTH

    @property
    def sram_addr_width(self) -> int:
        return (self.sram_depth - 1).bit_length()

    @property
    def sram_word_bytes(self) -> int:
        return self.sram_width // 8

    def words_for(self, bits: int) -> int:
        """SRAM words a record of `bits` takes (descriptors: 128 bits, at least 1 word)."""
        return max(1, -(-bits // self.sram_width))

    @property
    def macro_row_bits(self) -> int:
        return (self.macro_rows - 1).bit_length()

    @property
    def macro_col_bits(self) -> int:
        return (self.macro_cols - 1).bit_length()
