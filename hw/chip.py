"""Chip top: host bus, registers, SRAM buffer, sequencer, crossbar controller,
LoRA unit and the macro port.

    AXI4-Lite -> AxiLiteBridge -> BusDecoder -+-> CsrBank (registers)
                                              +-> SramWindow --+-> SramArbiter -> SramBuffer.host
    AXI4 (bursts) -> BulkPort -------------------------------+
    Sequencer <-> SramBuffer.core, shared in time by:
        XbarController (MVM, PROGRAM) --p--> Sequencer --p, x--> LoraUnit --y--> Sequencer
    XbarController <-> macro_req / macro_resp: the ReRAM macros (analogue, modelled
                       in Python and attached in cosimulation)
    irq: a layer program ended (SEQ_STATUS.IRQ) and SEQ_CTRL.IRQ_EN is set

Every register value is wired here from the block that owns it, using the field
positions of the contract's register table.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

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
from rmlora.contract.perf import PERF_COUNTERS
from rmlora.contract.xbar import macro_request_layout, macro_response_layout

from .axi_lite import AxiLiteBridge, AxiLiteSignature
from .bulk_port import BulkPort, bulk_axi_signature
from .core import ChipCore
from .csr_bank import CsrBank
from .cycle_counter import CycleCounter
from .decoder import BusDecoder
from .error_log import ErrorLog
from .sram_arbiter import SramArbiter
from .sram_window import SramWindow

__all__ = ["Chip", "chip_signature", "N_ERROR_SOURCES"]

# the error log's sources, lowest number kept first: bus decoder, crossbar controller,
# LoRA unit, sequencer, bulk port writes, bulk port reads
N_ERROR_SOURCES = 6


def pack_fields(reg, **values):
    """Register word from field values (signals or ints), placed per the contract."""
    word = 0
    for name, value in values.items():
        word = word | (value << reg.field(name).lsb)
    return word


def chip_signature(params: ChipParams) -> wiring.Signature:
    """The chip top's ports (besides clk and rst): control bus, bulk port, macro port."""
    return wiring.Signature({
        "s_axil": In(AxiLiteSignature()),
        "s_axi": In(bulk_axi_signature(params)),
        "macro_req": Out(stream.Signature(macro_request_layout(params))),
        "macro_resp": In(stream.Signature(macro_response_layout(params))),
        "irq": Out(1),
    })


class Chip(wiring.Component):
    def __init__(self, params: ChipParams = ChipParams()):
        self.params = params
        super().__init__(chip_signature(params))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.bridge = bridge = AxiLiteBridge()
        m.submodules.decoder = decoder = BusDecoder([CSR_REGION, sram_region(p)])
        m.submodules.csr = csr = CsrBank(REGISTERS)
        m.submodules.window = window = SramWindow(p)
        m.submodules.bulk = bulk = BulkPort(p)
        m.submodules.arbiter = arbiter = SramArbiter(p)
        m.submodules.errors = errors = ErrorLog(n_sources=N_ERROR_SOURCES)
        m.submodules.cycles = cycles = CycleCounter()
        m.submodules.core = core = ChipCore(p)
        xbar, lora, seq = core.xbar, core.lora, core.seq

        wiring.connect(m, wiring.flipped(self.s_axil), bridge.axi)
        wiring.connect(m, bridge.bus, decoder.bus)
        wiring.connect(m, decoder.target("CSR"), csr.bus)
        wiring.connect(m, decoder.target("SRAM"), window.bus)
        wiring.connect(m, wiring.flipped(self.s_axi), bulk.axi)
        wiring.connect(m, window.sram, arbiter.window)
        wiring.connect(m, bulk.sram, arbiter.bulk)
        wiring.connect(m, arbiter.sram, core.host_sram)
        sources = (decoder.error, xbar.error, lora.error, seq.error,
                   bulk.write_error, bulk.read_error)
        for i, event in enumerate(sources):
            wiring.connect(m, event, getattr(errors, f"event{i}"))
        wiring.connect(m, core.macro_req, wiring.flipped(self.macro_req))
        wiring.connect(m, wiring.flipped(self.macro_resp), core.macro_resp)

        def bit(reg, field):
            return getattr(csr, reg.lower())[REG[reg].field(field).lsb]

        clear_perf = bit("CTRL", "CLEAR_PERF") | seq.clear_perf
        m.d.comb += [
            seq.start.eq(bit("SEQ_CTRL", "START")),
            seq.host_clear_perf.eq(bit("CTRL", "CLEAR_PERF")),
            seq.irq_ack.eq(bit("SEQ_CTRL", "IRQ_ACK")),
            seq.prog_addr.eq(csr.seq_prog),
            csr.seq_status.eq(pack_fields(REG["SEQ_STATUS"], BUSY=seq.busy, DONE=seq.done,
                                          ERROR=seq.failed, IRQ=seq.irq, LAYER=seq.layer)),
            self.irq.eq(seq.irq & bit("SEQ_CTRL", "IRQ_EN")),
            lora.enable.eq(csr.lora_enable),
            lora.clear_perf.eq(clear_perf),
        ]

        major, minor, patch = CONTRACT_VERSION
        m.d.comb += [
            csr.id.eq(CHIP_ID),
            csr.version.eq(REG["VERSION"].pack(MAJOR=major, MINOR=minor, PATCH=patch)),
            csr.hw_sram.eq(REG["HW_SRAM"].pack(
                WIDTH_BYTES=p.sram_width // 8, DEPTH_LOG2=p.sram_addr_width)),
            csr.hw_macro.eq(REG["HW_MACRO"].pack(
                N_MACROS=p.n_macros, ADC_BITS=p.adc_bits, ROWS=p.macro_rows, COLS=p.macro_cols)),
            errors.clear.eq(bit("CTRL", "CLEAR_ERR")),
            xbar.clear_perf.eq(clear_perf),
            seq.host_xbar_start.eq(bit("XB_CTRL", "START")),
            seq.host_xbar_desc.eq(csr.xb_desc),
            csr.xb_status.eq(pack_fields(REG["XB_STATUS"], BUSY=xbar.busy, DONE=xbar.done,
                                         ERROR=xbar.refused)),
            csr.xb_failed.eq(xbar.failed),
            csr.status.eq(pack_fields(REG["STATUS"], ERROR=errors.code != ErrorCode.NONE)),
            csr.err_code.eq(errors.code),
            csr.err_addr.eq(errors.addr),
            csr.err_count.eq(errors.count),
            cycles.latch.eq(csr.cycle_lo_read),
            csr.cycle_lo.eq(cycles.lo),
            csr.cycle_hi.eq(cycles.hi),
        ]
        counting = {"seq": seq, "xbar": xbar, "lora": lora}
        for c in PERF_COUNTERS:
            m.d.comb += getattr(csr, c.register.lower()).eq(getattr(counting[c.block], c.port))
        return m
