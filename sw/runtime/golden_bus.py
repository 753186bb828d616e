"""The golden chip behind its AXI4-Lite control port: what a firmware driver's
read32/write32 see, without a simulator.

GoldenBus is sim.bus_model.BusModel (decoding, the error log, RW/RO/pulse fields, the
SRAM window: the RTL's behaviour, checked against it by tests/cosim/tb_bus.py) on a
GoldenBackend's own SRAM array and macros, plus the sequencer: SEQ_CTRL.START runs the
layer program at SEQ_PROG with LORA_ENABLE through the golden model (rmlora.sw.golden),
and SEQ_STATUS, the error log and every PERF_* register then read as the RTL's do after
that run (rmlora.sw.golden.perf; equal to Verilator's, tests/cosim/test_golden_bus_cosim.py).

A run is instantaneous: SEQ_STATUS never reads BUSY, and a START while busy (SEQ_BUSY)
cannot happen. Not modelled: a host crossbar command (XB_CTRL.START raises, as in
BusModel), and the cycle counter, which is a model clock: one cycle per bus access
plus each run's PERF_SEQ_CYCLES (monotonic, as the RTL's, but not its count). A
program that writes over its own records or descriptors, or has no last record within
SEQ_MAX_LAYERS, raises ValueError (the golden model decodes a program once).
"""

from dataclasses import replace

from rmlora.contract import REG, AxiResp, ErrorCode
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.sim.bus_model import BusModel
from rmlora.sw.golden import chip as gchip
from rmlora.sw.golden.perf import run_perf, stop_addr

__all__ = ["GoldenBus"]

SEQ_CTRL = REG["SEQ_CTRL"]
# CTRL.CLEAR_PERF zeroes every PERF_* counter, the sequencer's too (hw/chip.py)
CLEARED_BY_CTRL = PERF_REGISTERS


class GoldenBus(BusModel):
    def __init__(self, backend):
        """`backend`: a GoldenBackend (its params, sram array and macros; not imported
        here, since GoldenBackend.firmware() opens the C driver on this bus)."""
        super().__init__(backend.params)
        self.backend = backend
        self.sram = backend.sram  # the backend's array: one chip, driven either way
        self.perf = dict.fromkeys(PERF_REGISTERS, 0)
        self.done = self.failed = self.seq_irq = False
        self.layer = 0
        self.cycles = 0
        self.cycle_hi = 0  # CYCLE_HI as the last CYCLE_LO read latched it

    # ---- the driver's two calls ----
    def read32(self, addr: int) -> tuple[int, int]:
        """(AXI response, data) of a 32-bit read."""
        self.cycles += 1
        out = self.read(addr)
        if out.data is None:  # CYCLE_LO (latches the high word) or CYCLE_HI
            if addr == REG["CYCLE_LO"].offset:
                self.cycle_hi = self.cycles >> 32
                return out.resp.value, self.cycles & 0xFFFF_FFFF
            return out.resp.value, self.cycle_hi
        return out.resp.value, out.data

    def write32(self, addr: int, value: int) -> int:
        """AXI response of a 32-bit write (all four byte strobes)."""
        self.cycles += 1
        out = self.write(addr, value)
        clear_perf = REG["CTRL"].field("CLEAR_PERF").mask
        if out.resp is AxiResp.OKAY and addr == REG["CTRL"].offset and value & clear_perf:
            self.perf.update(dict.fromkeys(CLEARED_BY_CTRL, 0))
        return out.resp.value

    @property
    def irq(self) -> bool:
        """The chip's irq pin: SEQ_STATUS.IRQ while SEQ_CTRL.IRQ_EN is set."""
        return self.seq_irq and bool(self.storage["SEQ_CTRL"] & SEQ_CTRL.field("IRQ_EN").mask)

    # ---- BusModel's hooks ----
    def _ro_value(self, name: str) -> int:
        if name == "SEQ_STATUS":
            return REG["SEQ_STATUS"].pack(BUSY=0, DONE=int(self.done), ERROR=int(self.failed),
                                          IRQ=int(self.seq_irq), LAYER=self.layer)
        if name in self.perf:
            return self.perf[name]
        return super()._ro_value(name)

    def act(self, name: str, word: int):
        if name == "XB_CTRL":
            if word & REG["XB_CTRL"].field("START").mask:
                raise ValueError("GoldenBus does not model host crossbar commands (XB_CTRL."
                                 "START); deploy weights through GoldenBackend.program")
            return
        if word & SEQ_CTRL.field("IRQ_ACK").mask:
            self.seq_irq = False
        if word & SEQ_CTRL.field("START").mask:  # its end sets IRQ again: START wins
            self._run(self.storage["SEQ_PROG"], self.storage["LORA_ENABLE"])

    def _run(self, prog_addr: int, enabled: int):
        """The program, run to its end or its error, as the sequencer leaves it."""
        p, sram = self.params, self.backend.sram
        mem = sram.tobytes()
        program = gchip.decode_program(mem, prog_addr, enabled, p)
        self.done, self.failed, self.seq_irq, self.layer = False, True, True, 0
        if not program.records:  # refused at START: no run, the counters untouched
            self._error(prog_addr, ErrorCode.SEQ_SRAM_RANGE)
            return
        try:  # on a one-row view of the SRAM: the run writes it in place, up to its error
            stats = gchip.run_program(sram[None, :], prog_addr, enabled, self.backend.macros,
                                      0, program)
        except gchip.ChipError as e:
            if isinstance(e, gchip.InputRefused):  # stopped as it ran, not at a check
                program = replace(program, error=e)
            self._error(stop_addr(mem, prog_addr, program, enabled, p), e.code)
            self.layer = e.layer
        else:
            self.done, self.failed, self.layer = True, False, len(stats)
        self.perf = run_perf(mem, program, enabled, p)
        self.cycles += self.perf["PERF_SEQ_CYCLES"]
