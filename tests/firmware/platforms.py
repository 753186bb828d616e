"""Buses for the C driver in tests: the bus model (registers, error log, SRAM window;
rmlora.sim.bus_model), and wrappers that make it misbehave."""

from rmlora.contract import CSR_REGION, REG, ChipParams
from rmlora.sim.bus_model import BusModel


class ModelBus:
    """The C driver's platform over BusModel: every access as the RTL's bus answers it
    (no program runs: SEQ_CTRL is not written by the calls tested on it)."""

    def __init__(self, params: ChipParams = ChipParams()):
        self.model = BusModel(params)
        self.accesses = 0

    def read32(self, addr: int) -> tuple[int, int]:
        self.accesses += 1
        out = self.model.read(addr)
        return out.resp.value, out.data or 0

    def write32(self, addr: int, value: int) -> int:
        self.accesses += 1
        return self.model.write(addr, value).resp.value


class LyingBus(ModelBus):
    """A bus whose register reads are overridden: another chip, version or geometry."""

    def __init__(self, **registers: int):
        super().__init__()
        self.registers = {CSR_REGION.base + REG[name].offset: v for name, v in registers.items()}

    def read32(self, addr):
        if addr in self.registers:
            return 0, self.registers[addr]
        return super().read32(addr)


class FailingBus(ModelBus):
    """A bus that answers SLVERR from the n-th access on (as a hung or absent device
    behind an interconnect would), or ignores writes to one address."""

    def __init__(self, fail_from: int | None = None, drop_writes_at: int | None = None):
        super().__init__()
        self.fail_from, self.drop_writes_at = fail_from, drop_writes_at

    def read32(self, addr):
        if self.fail_from is not None and self.accesses >= self.fail_from:
            return 2, 0
        return super().read32(addr)

    def write32(self, addr, value):
        if self.fail_from is not None and self.accesses >= self.fail_from:
            return 2
        if addr == self.drop_writes_at:
            self.accesses += 1
            return 0
        return super().write32(addr, value)
