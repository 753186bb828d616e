"""The chip's performance counters: which block counts what, under which register.

Defined once: the RTL names its counter ports `perf_<name>` from here and the chip
top wires each to its register, the golden model's counts use the same names, the
host reads the registers listed here, and the C header lists them.
"""

from dataclasses import dataclass

from .memory_map import REGISTERS

__all__ = ["PerfCounter", "PERF_COUNTERS", "PERF_REGISTERS", "PERF_BLOCKS", "perf_names",
           "perf_ports", "perf_registers"]

PERF_BLOCKS = ("seq", "xbar", "lora")  # sequencer, crossbar controller, LoRA unit


@dataclass(frozen=True)
class PerfCounter:
    register: str  # its read-only register in memory_map.REGISTERS
    block: str  # the block that counts it, one of PERF_BLOCKS
    name: str  # the count's name: RTL port perf_<name>, golden model count <name>

    @property
    def port(self) -> str:
        return f"perf_{self.name}"


# In the order the host reads them. All are 32-bit, wrap, and are zeroed by
# CTRL.CLEAR_PERF and by SEQ_CTRL.START.
PERF_COUNTERS: tuple[PerfCounter, ...] = (
    PerfCounter("PERF_SEQ_CYCLES", "seq", "cycles"),
    PerfCounter("PERF_XB_CYCLES", "xbar", "cycles"),
    PerfCounter("PERF_ADC", "xbar", "adc"),
    PerfCounter("PERF_MVM", "xbar", "mvm"),
    PerfCounter("PERF_LORA_CYCLES", "lora", "cycles"),
    PerfCounter("PERF_MACS", "lora", "macs"),
    PerfCounter("PERF_SRAM_READS", "lora", "sram_reads"),
    PerfCounter("PERF_CACHE_READS", "lora", "cache_reads"),
    PerfCounter("PERF_PULSES", "xbar", "pulses"),
    PerfCounter("PERF_VERIFY", "xbar", "verify"),
)

PERF_REGISTERS: tuple[str, ...] = tuple(c.register for c in PERF_COUNTERS)


def _of(block: str) -> tuple[PerfCounter, ...]:
    if block not in PERF_BLOCKS:
        raise ValueError(f"block={block!r}: must be one of {PERF_BLOCKS}")
    return tuple(c for c in PERF_COUNTERS if c.block == block)


def perf_names(block: str) -> tuple[str, ...]:
    """A block's counts by name ("cycles", "adc", ...), in PERF_COUNTERS order."""
    return tuple(c.name for c in _of(block))


def perf_ports(block: str) -> tuple[str, ...]:
    """A block's counter ports ("perf_cycles", ...)."""
    return tuple(c.port for c in _of(block))


def perf_registers(block: str) -> dict[str, str]:
    """A block's counts by name -> their registers."""
    return {c.name: c.register for c in _of(block)}


def _check():
    """Fail at import if a PERF_* register has no counter here or one counter is listed twice."""
    in_map = {r.name for r in REGISTERS if r.name.startswith("PERF_")}
    assert set(PERF_REGISTERS) == in_map and len(PERF_REGISTERS) == len(in_map), (
        "PERF_COUNTERS and the PERF_* registers differ")
    assert all(c.block in PERF_BLOCKS for c in PERF_COUNTERS)
    for block in PERF_BLOCKS:
        names = perf_names(block)
        assert len(set(names)) == len(names), f"{block} counts a name twice"


_check()
