"""The analogue path: the macro port at the chip top and the crossbar descriptor.

Macro port. The chip drives the ReRAM macros (modelled in Python) through one
request/response stream pair. A request is one analogue operation on one macro:
  PULSE   one SET or RESET pulse on cell (row, col), amplitude and width codes
  VERIFY  read cell (row, col); the response carries its conductance code
  MVM     drive the rows with one input bit plane (drive bit i -> row i at V_read,
          or at -V_read if negate bit i is set too; 0 V otherwise), convert columns
          col .. col+n_cols-1; the response carries one signed ADC code per column,
          code k in bits [k*adc_bits, (k+1)*adc_bits)
The macro answers exactly MACRO_LATENCY[op] cycles after it accepts a request;
the cycle counts of the golden model rely on it.

Crossbar descriptor. The host (and later the sequencer) asks the crossbar
controller for work with a 2-word descriptor in the SRAM buffer:
  PROGRAM  write-verify the block of cells rows row0.., cols col0.. of one macro
           towards target conductance codes (src: one byte per cell, row major);
           dst receives one byte per cell: pulses used, bit 7 set if the cell did
           not converge within max_pulses
  MVM      acc = x . W for a layer of n_rows inputs and n_cols outputs placed on
           macros macro.. (tiles of 128x128, row tile r / column tile c on macro
           macro + r * n_col_tiles + c); src: int8 inputs, dst: int32 outputs.
           Each input bit plane is converted n = 2**reads_log2 times in a row (the
           same drive; plane p, read r is the tile's conversion p * n + r) and every
           code is accumulated; the results leave shifted by gain_shift - reads_log2,
           i.e. the mean of the n reads (exact: reads_log2 <= gain_shift is checked,
           ErrorCode.XBAR_READS). Independent read noise averages down by sqrt(n),
           at n times the conversions' time and energy.
           With spikes = 1 the inputs are spikes, 0 or 1 (issue 21): only plane 0 is
           driven and converted (its n reads), so acc = x . W in the time of one plane;
           an input other than 0 and 1 is refused (ErrorCode.XBAR_SPIKE_INPUT) before
           any macro operation and before any result is written or sent
"""

from amaranth import unsigned
from amaranth.lib import data, enum

from .params import ChipParams

__all__ = [
    "MacroOp", "Polarity", "MACRO_LATENCY", "MACRO_LATENCY_CLOCK_HZ", "macro_request_layout",
    "macro_response_layout",
    "XbarOp", "XbarDescriptor", "XBAR_DESC_BITS", "INPUT_BITS", "ACC_BITS", "PROGRAM_TARGET_BITS",
    "PULSE_COUNT_BITS", "NOT_CONVERGED_FLAG", "READS_LOG2_BITS", "READS_PER_PLANE",
    "SPIKE_PLANES", "ispp_amplitude",
]


class MacroOp(enum.Enum, shape=2):
    PULSE = 0
    VERIFY = 1
    MVM = 2


class Polarity(enum.IntEnum, shape=1):
    """A programming pulse's direction: the macro port's polarity bit, and the macro
    model's index (an IntEnum, so numpy arrays of it index tables directly)."""

    SET = 0  # raise the conductance (towards LRS)
    RESET = 1  # lower it (towards HRS)


# Cycles from request accepted to response valid, at the 100 MHz simulated clock.
# PULSE: 100 ns, a programming pulse plus settling (write-verify schemes use 10 ns -
# 1 us pulses, e.g. Yao et al., Nature 577, 2020). VERIFY: 50 ns, one sense of one
# cell. MVM: 200 ns per bit plane, assumed: row drive and column integration, then an
# 8-bit SAR conversion with one ADC shared by 4 columns (4 conversions of ~25 ns);
# published RRAM CIM macros take 0.1-1 us per input bit (e.g. NeuRRAM, Wan et al.,
# Nature 608, 2022).
MACRO_LATENCY = {MacroOp.PULSE: 10, MacroOp.VERIFY: 5, MacroOp.MVM: 20}
# The clock those cycle counts are stated at: the analogue operations take a fixed
# time (100 ns, 50 ns, 200 ns); the cost model keeps that time when it prices the chip
# at another clock (rmlora.sw.cost.table).
MACRO_LATENCY_CLOCK_HZ = 100_000_000


def macro_request_layout(p: ChipParams) -> data.StructLayout:
    return data.StructLayout({
        "op": MacroOp,
        "macro": unsigned(4),
        "row": unsigned(p.macro_row_bits),  # PULSE/VERIFY: the cell's row
        "col": unsigned(p.macro_col_bits),  # PULSE/VERIFY: the cell; MVM: first column
        "n_cols": unsigned(p.macro_col_bits + 1),  # MVM: columns converted
        "polarity": Polarity,
        "amplitude": unsigned(4),
        "width": unsigned(4),
        "gain_shift": unsigned(4),  # MVM: ADC LSB = 2**gain_shift weight units
        "drive": unsigned(p.macro_rows),  # MVM: the input bit plane, bit i on row i
        "negate": unsigned(p.macro_rows),  # MVM: rows driven at -V_read (negative inputs)
    })


def macro_response_layout(p: ChipParams) -> data.StructLayout:
    return data.StructLayout({
        "verify_code": unsigned(p.verify_bits),
        "adc": unsigned(p.macro_cols * p.adc_bits),  # signed codes, first column lowest
    })


class XbarOp(enum.Enum, shape=2):
    MVM = 0
    PROGRAM = 1


# int8 activations, applied bit-serially in sign-magnitude: plane k drives the rows
# whose |x| has bit k set, at -V_read where x < 0, and weighs +2**k (|-128| = 2**7
# needs the eighth plane). Two's complement planes would drive every high plane for a
# small negative input (-1 = 0xFF) and collect those planes' read noise at weights up
# to 2**7: on the face Mixer's signed layers that measured 3-4x the noise (RMS) of
# sign-magnitude, whose noise grows with |x| only.
INPUT_BITS = 8
ACC_BITS = 32  # signed accumulators written back per output column
# A PROGRAM target code is one SRAM byte per cell (src), so verify codes of at most 8 bits
PROGRAM_TARGET_BITS = 8
PULSE_COUNT_BITS = 7
NOT_CONVERGED_FLAG = 1 << PULSE_COUNT_BITS
# An MVM descriptor's reads_log2: each bit plane converted 1, 2, 4 or 8 times
READS_LOG2_BITS = 2
READS_PER_PLANE = tuple(1 << k for k in range(1 << READS_LOG2_BITS))
# A spike-mode MVM's input planes: a spike (0 or 1) sets bit 0 of its code only
SPIKE_PLANES = 1


class XbarDescriptor(data.Struct):
    op: XbarOp
    macro: unsigned(4)  # first macro of the layer / the macro to program
    row0: unsigned(8)  # first row used in each macro (a single-tile layer may sit anywhere)
    col0: unsigned(8)
    n_rows: unsigned(16)  # MVM: layer inputs; PROGRAM: rows of the block
    n_cols: unsigned(16)  # MVM: layer outputs; PROGRAM: columns of the block
    src: unsigned(16)  # SRAM word address: MVM inputs / PROGRAM target codes
    dst: unsigned(16)  # SRAM word address: MVM outputs / PROGRAM pulse counts
    gain_shift: unsigned(4)  # MVM
    tolerance: unsigned(4)  # PROGRAM: |verify code - target| accepted
    max_pulses: unsigned(PULSE_COUNT_BITS)  # PROGRAM: give up on a cell after this many
    amplitude: unsigned(4)  # PROGRAM: start amplitude code of the ISPP ramp
    width: unsigned(4)  # PROGRAM: pulse width code
    # MVM: each bit plane converted 2**reads_log2 times and averaged (<= gain_shift).
    # Last, so the fields before it keep their bits (0 = one read, as before it existed)
    reads_log2: unsigned(READS_LOG2_BITS)
    # MVM: 1 = the inputs are spikes (0 or 1, checked): plane 0 alone is driven and
    # converted. After reads_log2, so the fields before it keep their bits (0 = int8
    # inputs over INPUT_BITS planes, as before it existed)
    spikes: unsigned(1)


XBAR_DESC_BITS = 128  # the descriptor occupies 128 bits of SRAM (the layout is 112)


def ispp_amplitude(start: int, previous: int | None, same_direction: bool) -> int:
    """Write-verify's pulse amplitude code (incremental step pulse programming).

    The first pulse of a cell, and the first after the direction reverses (an
    overshoot), uses the start amplitude; each further pulse in the same direction
    is one code stronger, up to 15. Small steps near the target, faster ones when
    the cell is slow to move (ISPP-style write-verify as in Wan et al., Nature 608,
    2022, Extended Data Fig. 3).
    """
    if previous is None or not same_direction:
        return start
    return min(previous + 1, 15)
