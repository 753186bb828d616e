"""Reference model of everything the host bus can see: registers, error log, SRAM.

The scoreboard of the bus testbenches: each access is applied to the model,
which returns the response and read data the chip must give. Built only from
the contract, never from the RTL. The cycle counter is not modelled (its value
depends on timing); the testbench checks it separately. The crossbar controller
and the sequencer are idle here (the bus benches never write XB_CTRL or SEQ_CTRL,
whose START would run them: tb_xbar and tb_chip test that): status and counters
read 0. rmlora.sw.runtime.golden_bus.GoldenBus extends it with the sequencer (`act`).
"""

from dataclasses import dataclass, field

from rmlora.contract import (
    CHIP_ID,
    CONTRACT_VERSION,
    CSR_REGION,
    REG,
    REGISTERS,
    Access,
    AxiResp,
    ChipParams,
    ErrorCode,
    sram_region,
)
from rmlora.contract.perf import PERF_REGISTERS

__all__ = ["ACTIONS", "BusModel", "Outcome"]

UNTIMED = {"CYCLE_LO", "CYCLE_HI"}
ACTIONS = {"XB_CTRL", "SEQ_CTRL"}  # writes that start other blocks: outside this model
IDLE_ZERO = {"XB_STATUS", "XB_FAILED", "SEQ_STATUS", *PERF_REGISTERS}


@dataclass
class Outcome:
    resp: AxiResp
    data: int | None = None  # read data; None for writes and untimed registers


@dataclass
class BusModel:
    params: ChipParams = field(default_factory=ChipParams)

    def __post_init__(self):
        self.sram = bytearray(self.params.sram_bytes)
        self.reset()

    def reset(self):
        """Registers and error log to their reset values; SRAM contents survive."""
        self.storage = {r.name: r.reset for r in REGISTERS if r.access is Access.RW}
        self.err_code, self.err_addr, self.err_count = ErrorCode.NONE, 0, 0

    def _ro_value(self, name: str) -> int:
        if name in IDLE_ZERO:
            return 0
        major, minor, patch = CONTRACT_VERSION
        p = self.params
        return {
            "ID": CHIP_ID,
            "VERSION": REG["VERSION"].pack(MAJOR=major, MINOR=minor, PATCH=patch),
            "HW_SRAM": REG["HW_SRAM"].pack(WIDTH_BYTES=self.params.sram_width // 8,
                                           DEPTH_LOG2=self.params.sram_addr_width),
            "HW_MACRO": REG["HW_MACRO"].pack(N_MACROS=p.n_macros, ADC_BITS=p.adc_bits,
                                             ROWS=p.macro_rows, COLS=p.macro_cols),
            "STATUS": REG["STATUS"].pack(ERROR=int(self.err_code != ErrorCode.NONE)),
            "ERR_CODE": self.err_code.value,
            "ERR_ADDR": self.err_addr,
            "ERR_COUNT": self.err_count,
        }[name]

    def _error(self, addr: int, code: ErrorCode) -> Outcome:
        if self.err_code == ErrorCode.NONE:
            self.err_code, self.err_addr = code, addr
        self.err_count = min(self.err_count + 1, 0xFFFF_FFFF)
        return Outcome(code.axi_resp, 0)  # refused reads return zero data

    def act(self, name: str, word: int):
        """A write of `word` to XB_CTRL or SEQ_CTRL, before it is stored: a subclass that
        models the block it starts (rmlora.sw.runtime.golden_bus) acts on it here."""
        raise ValueError(f"BusModel does not model writes to {name}")

    def _check(self, addr: int):
        """The error an access to addr raises before reaching a target, if any."""
        if addr % 4:
            return ErrorCode.BUS_MISALIGNED
        if sram_region(self.params).contains(addr):
            return None
        if CSR_REGION.contains(addr) and any(r.offset == addr for r in REGISTERS):
            return None
        return ErrorCode.BUS_UNMAPPED

    def read(self, addr: int) -> Outcome:
        code = self._check(addr)
        if code is not None:
            return self._error(addr, code)
        window = sram_region(self.params)
        if window.contains(addr):
            off = addr - window.base
            return Outcome(AxiResp.OKAY, int.from_bytes(self.sram[off:off + 4], "little"))
        reg = next(r for r in REGISTERS if r.offset == addr)
        if reg.name in UNTIMED:
            return Outcome(AxiResp.OKAY, None)
        if reg.access is Access.RW:
            return Outcome(AxiResp.OKAY, self.storage[reg.name])
        return Outcome(AxiResp.OKAY, self._ro_value(reg.name))

    def write(self, addr: int, value: int, strobe: int = 0xF) -> Outcome:
        code = self._check(addr)
        if code is not None:
            return self._error(addr, code)
        window = sram_region(self.params)
        if window.contains(addr):
            off = addr - window.base
            for b in range(4):
                if strobe >> b & 1:
                    self.sram[off + b] = value >> 8 * b & 0xFF
            return Outcome(AxiResp.OKAY)
        reg = next(r for r in REGISTERS if r.offset == addr)
        if reg.access is Access.RO:
            return self._error(addr, ErrorCode.BUS_READ_ONLY)
        byte_mask = sum(0xFF << 8 * b for b in range(4) if strobe >> b & 1)
        keep = reg.writable_mask & byte_mask
        new = (self.storage[reg.name] & ~keep) | (value & keep)
        pulses = sum(f.mask for f in reg.fields if f.pulse)
        if reg.name in ACTIONS:
            self.act(reg.name, new)
        if reg.name == "CTRL" and new & REG["CTRL"].field("CLEAR_ERR").mask:
            self.err_code, self.err_addr, self.err_count = ErrorCode.NONE, 0, 0
        self.storage[reg.name] = new & ~pulses  # pulse fields read back 0
        return Outcome(AxiResp.OKAY)
