"""The one contract between rmlora's RTL, golden model, runtime, tests and C header.

Register addresses, bit fields, status and error codes, number formats and image
layouts are defined here and nowhere else.
"""

from .memory_map import (
    CHIP_ID,
    CONTRACT_VERSION,
    CSR_REGION,
    REG,
    REGISTERS,
    SRAM_WINDOW_BASE,
    SRAM_WINDOW_MAX,
    Access,
    Field,
    Region,
    Register,
)
from .params import BUS_ADDR_WIDTH, BUS_DATA_WIDTH, ChipParams
from .status import AxiResp, ErrorCode

__all__ = [
    "CHIP_ID", "CONTRACT_VERSION", "CSR_REGION", "REG", "REGISTERS", "SRAM_WINDOW_BASE",
    "SRAM_WINDOW_MAX", "Access", "Field", "Region", "Register",
    "BUS_ADDR_WIDTH", "BUS_DATA_WIDTH", "ChipParams", "AxiResp", "ErrorCode",
]


def sram_region(params: ChipParams) -> Region:
    """The SRAM window of a build: exactly as large as its SRAM buffer."""
    return Region("SRAM", SRAM_WINDOW_BASE, params.sram_bytes)


__all__.append("sram_region")
