"""The host's view of the chip: address regions and control/status registers.

The control bus is AXI4-Lite, 32-bit words. Every access must be word aligned
(byte writes use WSTRB); an unaligned address is answered with SLVERR.

The SRAM buffer is reachable two ways. The window at SRAM_WINDOW_BASE on the
control bus serves single words: a driver reads back any word it wrote (that is
how the runtime proves that a deleted adapter is gone) with the same accesses as
its registers. Bulk data (adapter images, layer inputs, every layer's outputs)
goes through a second port, an AXI4 subordinate with bursts of SRAM words
(rmlora/contract/bulk_port.py). Why a second port now: the window moves one
32-bit word per 7 bus cycles at best, one handshake per word (host-bus traffic
was what kept a cosimulated inference slow, issue 23); a burst moves a whole SRAM
word per cycle after one address handshake. It is AXI4 rather than AXI4-Stream
so the bulk path stays memory-mapped: the same offsets, readable and writable,
as the window.
"""

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Access", "Field", "Register", "Region",
    "CSR_REGION", "SRAM_WINDOW_BASE", "SRAM_WINDOW_MAX",
    "CHIP_ID", "CONTRACT_VERSION", "REGISTERS", "REG",
]

CHIP_ID = 0x524D4C52  # ASCII "RMLR"
CONTRACT_VERSION = (0, 5, 0)  # major.minor.patch of this contract

SRAM_WINDOW_BASE = 0x0010_0000
SRAM_WINDOW_MAX = 0x0010_0000  # the window may span at most 1 MiB


class Access(Enum):
    RO = "ro"  # reads the chip's state; a write is refused with SLVERR
    RW = "rw"  # storage the host writes and reads back


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str
    # A pulse field acts when written with 1 and always reads 0 (it is held for
    # exactly one cycle), e.g. CTRL.CLEAR_ERR.
    pulse: bool = False

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: Access
    doc: str
    fields: tuple[Field, ...] = ()
    reset: int = 0
    # The chip is told when the host reads it (e.g. CYCLE_LO latches CYCLE_HI).
    read_strobe: bool = False

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}")

    @property
    def writable_mask(self) -> int:
        """Bits a host write sets: its fields' (reserved bits read 0), or all 32."""
        if self.access is Access.RO:
            return 0
        return sum(f.mask for f in self.fields) if self.fields else 0xFFFF_FFFF

    def pack(self, **values: int) -> int:
        """The register word with the named fields set (host side)."""
        word = 0
        for name, value in values.items():
            f = self.field(name)
            if not 0 <= value < 1 << f.width:
                raise ValueError(f"{self.name}.{name}={value} does not fit in {f.width} bits")
            word |= value << f.lsb
        return word

    def unpack(self, word: int) -> dict[str, int]:
        return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in self.fields}


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    size: int

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size


CSR_REGION = Region("CSR", 0x0000_0000, 0x1000)

REGISTERS: tuple[Register, ...] = (
    Register("ID", 0x000, Access.RO, "Constant CHIP_ID, 'RMLR'", reset=CHIP_ID),
    Register(
        "VERSION", 0x004, Access.RO, "Contract version the RTL was built from",
        fields=(
            Field("PATCH", 0, 8, "patch"),
            Field("MINOR", 8, 8, "minor"),
            Field("MAJOR", 16, 8, "major"),
        ),
    ),
    Register(
        "HW_SRAM", 0x008, Access.RO, "SRAM buffer geometry of this build",
        fields=(
            Field("WIDTH_BYTES", 0, 8, "bytes per SRAM word"),
            Field("DEPTH_LOG2", 8, 5, "log2 of the number of SRAM words"),
        ),
    ),
    Register(
        "HW_MACRO", 0x00C, Access.RO, "ReRAM macro geometry of this build",
        fields=(
            Field("N_MACROS", 0, 5, "number of macros"),
            Field("ADC_BITS", 5, 4, "column ADC resolution"),
            Field("ROWS", 9, 9, "rows per macro"),
            Field("COLS", 18, 9, "columns per macro"),
        ),
    ),
    Register(
        "CTRL", 0x010, Access.RW, "Control",
        fields=(
            Field("CLEAR_ERR", 0, 1, "write 1: clear ERR_CODE, ERR_ADDR, ERR_COUNT", pulse=True),
            Field("CLEAR_PERF", 1, 1, "write 1: zero the PERF_* counters", pulse=True),
        ),
    ),
    Register(
        "STATUS", 0x014, Access.RO, "Status",
        fields=(Field("ERROR", 0, 1, "ERR_CODE is not NONE"),),
    ),
    Register(
        "ERR_CODE", 0x018, Access.RO, "First ErrorCode since the last CLEAR_ERR",
        fields=(Field("CODE", 0, 8, "ErrorCode"),),
    ),
    Register("ERR_ADDR", 0x01C, Access.RO, "Bus address of the access that set ERR_CODE"),
    Register("ERR_COUNT", 0x020, Access.RO, "Errors since the last CLEAR_ERR (saturates)"),
    Register("SCRATCH", 0x024, Access.RW, "Free for the host: bus and driver self-test"),
    Register(
        "CYCLE_LO", 0x028, Access.RO,
        "Free-running cycle counter, low word; reading it latches the high word",
        read_strobe=True,
    ),
    Register("CYCLE_HI", 0x02C, Access.RO, "High word latched by the last CYCLE_LO read"),
    # crossbar controller (analogue path)
    Register(
        "XB_DESC", 0x040, Access.RW, "SRAM word address of the crossbar descriptor to run",
        fields=(Field("ADDR", 0, 16, "SRAM word address"),),
    ),
    Register(
        "XB_CTRL", 0x044, Access.RW, "Crossbar controller control",
        fields=(Field("START", 0, 1, "write 1: run the descriptor at XB_DESC", pulse=True),),
    ),
    Register(
        "XB_STATUS", 0x048, Access.RO, "Crossbar controller status",
        fields=(
            Field("BUSY", 0, 1, "a command is running"),
            Field("DONE", 1, 1, "the last command finished (cleared by START)"),
            Field("ERROR", 2, 1, "the last command was refused (code in ERR_CODE)"),
        ),
    ),
    Register("XB_FAILED", 0x04C, Access.RO, "Cells of the last PROGRAM that did not converge"),
    Register("PERF_XB_CYCLES", 0x050, Access.RO, "Cycles the crossbar controller was busy"),
    Register("PERF_ADC", 0x054, Access.RO, "Column ADC conversions"),
    Register("PERF_MVM", 0x058, Access.RO, "Macro MVM operations (input bit plane conversions)"),
    Register("PERF_PULSES", 0x05C, Access.RO, "Programming pulses"),
    Register("PERF_VERIFY", 0x060, Access.RO, "Verify reads"),
    # sequencer (layer programs) and LoRA unit
    Register(
        "SEQ_PROG", 0x080, Access.RW, "SRAM word address of the layer program to run",
        fields=(Field("ADDR", 0, 16, "SRAM word address of the first SeqLayer record"),),
    ),
    Register(
        "SEQ_CTRL", 0x084, Access.RW, "Sequencer control",
        fields=(
            Field("START", 0, 1, "write 1: zero the PERF_* counters and run the program at "
                  "SEQ_PROG", pulse=True),
            Field("IRQ_ACK", 1, 1, "write 1: clear SEQ_STATUS.IRQ", pulse=True),
            Field("IRQ_EN", 2, 1, "drive the irq output while SEQ_STATUS.IRQ is set"),
        ),
    ),
    Register(
        "SEQ_STATUS", 0x088, Access.RO, "Sequencer status",
        fields=(
            Field("BUSY", 0, 1, "a program is running"),
            Field("DONE", 1, 1, "the last program ran to its last record (cleared by START)"),
            Field("ERROR", 2, 1, "the last program stopped on an error (code in ERR_CODE)"),
            Field("IRQ", 3, 1, "a program ended (done or error) since the last IRQ_ACK/START"),
            Field("LAYER", 16, 16, "records finished by the running or last program"),
        ),
    ),
    Register(
        "LORA_ENABLE", 0x08C, Access.RW, "Adapter slots the LoRA unit applies",
        fields=(Field("SLOTS", 0, 4, "bit s: apply slot s's adapters"),),
    ),
    Register("PERF_SEQ_CYCLES", 0x090, Access.RO, "Cycles the sequencer was busy"),
    Register("PERF_LORA_CYCLES", 0x094, Access.RO, "Cycles the LoRA unit was busy"),
    Register("PERF_MACS", 0x098, Access.RO, "LoRA unit multiply-accumulates"),
    Register("PERF_SRAM_READS", 0x09C, Access.RO, "SRAM words read by the LoRA unit"),
    Register("PERF_CACHE_READS", 0x0A0, Access.RO,
             "Adapter words the LoRA unit read from its cache instead of the SRAM"),
)

REG: dict[str, Register] = {r.name: r for r in REGISTERS}


def _check_registers():
    """Fail at import if the table itself is inconsistent."""
    offsets = [r.offset for r in REGISTERS]
    assert len(set(offsets)) == len(offsets), "two registers share an offset"
    assert len(REG) == len(REGISTERS), "two registers share a name"
    for r in REGISTERS:
        assert r.offset % 4 == 0 and CSR_REGION.contains(r.offset), r.name
        used = 0
        for f in r.fields:
            assert f.lsb + f.width <= 32 and not used & f.mask, f"{r.name}.{f.name}"
            used |= f.mask
        assert not (r.access is Access.RO and any(f.pulse for f in r.fields)), r.name


_check_registers()
