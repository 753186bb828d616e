"""Chip top: host bus, register bank, error log, cycle counter and SRAM buffer.

    AXI4-Lite -> AxiLiteBridge -> BusDecoder -+-> CsrBank (registers)
                                              +-> SramWindow -> SramBuffer.host
    SramBuffer.core: the compute blocks' port (sequencer, LoRA unit)

Every register value is wired here from the block that owns it, using the field
positions of the contract's register table.
"""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from rmlora.contract import (
    CHIP_ID,
    CONTRACT_VERSION,
    CSR_REGION,
    REG,
    REGISTERS,
    ChipParams,
    ErrorCode,
    sram_region,
)

from .axi_lite import AxiLiteBridge, AxiLiteSignature
from .csr_bank import CsrBank
from .cycle_counter import CycleCounter
from .decoder import BusDecoder
from .error_log import ErrorLog
from .sram_buffer import SramBuffer
from .sram_window import SramWindow

__all__ = ["Chip"]


def pack_fields(reg, **values):
    """Register word from field values (signals or ints), placed per the contract."""
    word = 0
    for name, value in values.items():
        word = word | (value << reg.field(name).lsb)
    return word


class Chip(wiring.Component):
    s_axil: In(AxiLiteSignature())

    def __init__(self, params: ChipParams = ChipParams()):
        self.params = params
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.bridge = bridge = AxiLiteBridge()
        m.submodules.decoder = decoder = BusDecoder([CSR_REGION, sram_region(p)])
        m.submodules.csr = csr = CsrBank(REGISTERS)
        m.submodules.window = window = SramWindow(p)
        m.submodules.sram = sram = SramBuffer(p)
        m.submodules.errors = errors = ErrorLog()
        m.submodules.cycles = cycles = CycleCounter()

        wiring.connect(m, wiring.flipped(self.s_axil), bridge.axi)
        wiring.connect(m, bridge.bus, decoder.bus)
        wiring.connect(m, decoder.target("CSR"), csr.bus)
        wiring.connect(m, decoder.target("SRAM"), window.bus)
        wiring.connect(m, window.sram, sram.host)
        wiring.connect(m, decoder.error, errors.event)

        major, minor, patch = CONTRACT_VERSION
        m.d.comb += [
            csr.id.eq(CHIP_ID),
            csr.version.eq(REG["VERSION"].pack(MAJOR=major, MINOR=minor, PATCH=patch)),
            csr.hw_sram.eq(REG["HW_SRAM"].pack(
                WIDTH_BYTES=p.sram_width // 8, DEPTH_LOG2=p.sram_addr_width)),
            errors.clear.eq(csr.ctrl[REG["CTRL"].field("CLEAR_ERR").lsb]),
            csr.status.eq(pack_fields(REG["STATUS"], ERROR=errors.code != ErrorCode.NONE)),
            csr.err_code.eq(errors.code),
            csr.err_addr.eq(errors.addr),
            csr.err_count.eq(errors.count),
            cycles.latch.eq(csr.cycle_lo_read),
            csr.cycle_lo.eq(cycles.lo),
            csr.cycle_hi.eq(cycles.hi),
        ]
        return m
