"""Cycle costs of the chip's state machines, phase by phase.

The chip's timing is data-independent, so the golden model predicts every cycle
count exactly (rmlora.sw.golden: xbar.mvm_cycles, lora.cycles, chip.record_cycles)
as a sum of these phases; the RTL's state machines take exactly this long
(hw/descriptor_fetch.py, hw/xbar_controller.py, hw/lora_unit.py, hw/sequencer.py)
and the tests compare the two with ==. A state named in CAPITALS below is the RTL
state of that name.

Every change here changes the chip's timing, i.e. every cycle figure the
simulation and the benchmarks report.
"""

from amaranth.lib import data

from .lora import LoraLayer
from .xbar import MACRO_LATENCY, MacroOp

__all__ = [
    "SRAM_READ_LATENCY", "FETCH_SPACING", "XBAR_FETCH_SPACING", "fetch_cycles",
    "stream_read_cycles", "CHECK_CYCLES", "XBAR_CHECK_CODE_CYCLES", "xbar_check_cycles",
    "macro_op_cycles",
    "PROGRAM_CELL_CYCLES", "VERIFY_DECIDE_CYCLES", "MVM_TILE_CYCLES", "spike_scan_cycles",
    "LORA_NEXT_ENTRY_CYCLES", "LORA_CHECK_PRODUCTS_CYCLES", "LORA_X_CYCLES_PER_WORD",
    "LORA_PIPE_STAGES",
    "LORA_A_DRAIN_CYCLES", "LORA_TAIL_CYCLES", "LORA_DONE_LAG_CYCLES",
    "lora_desc_head_words", "SEQ_HANDOFF_CYCLES",
    "SEQ_X_FEED_LAG_CYCLES", "SEQ_RECORD_START_CYCLES", "SEQ_RECORD_END_CYCLES",
    "SEQ_VECTOR_CYCLES", "SEQ_LIF_UPDATE_CYCLES", "SEQ_STATE_WORD_CYCLES",
]

# The SRAM buffer's read port answers the cycle after the read (sram_buffer.py).
SRAM_READ_LATENCY = 1

# Descriptor fetch (hw/descriptor_fetch.py): a read every `spacing` cycles. The LoRA
# unit and the sequencer read back to back; the crossbar controller issues a read,
# stores its word, then issues the next (FETCH, FETCH_DATA, FETCH_NEXT before the
# shared component): its cycle counts, and every figure built on them, keep that.
FETCH_SPACING = 1
XBAR_FETCH_SPACING = 2


def fetch_cycles(words: int, spacing: int = FETCH_SPACING) -> int:
    """Cycles of fetching a `words`-word record: a read every `spacing` cycles, and the
    cycle in which the last word arrives (spacing 1) or the next read would be issued
    (spacing 2) ends the fetch."""
    return spacing * words + SRAM_READ_LATENCY


def stream_read_cycles(words: int) -> int:
    """Cycles of reading `words` SRAM words back to back and using each the cycle after
    (M_LOAD, the LUT load, the LoRA unit's A phase)."""
    return words + SRAM_READ_LATENCY


# CHECK: the fetched descriptor's checks (combinational), and the decision on them.
CHECK_CYCLES = 1
# The crossbar controller's CHECK_CODE, before its CHECK (on every start, a `reuse` one
# too): its checks' ErrorCode registered, from sums registered the cycle before (issue
# 25: combinational, the checks were the whole chip's critical path on an ECP5)
XBAR_CHECK_CODE_CYCLES = 1


def xbar_check_cycles() -> int:
    """The crossbar controller's checks: CHECK_CODE, then CHECK."""
    return XBAR_CHECK_CODE_CYCLES + CHECK_CYCLES


def macro_op_cycles(op: MacroOp) -> int:
    """One macro operation: the request cycle, then MACRO_LATENCY[op] cycles waiting."""
    return 1 + MACRO_LATENCY[op]


# ---- crossbar controller ----
PROGRAM_CELL_CYCLES = 3  # per cell: P_TARGET, P_TARGET_DATA (its target code), P_WRITE
VERIFY_DECIDE_CYCLES = 1  # P_DECIDE, after each verify read
MVM_TILE_CYCLES = 1  # M_TILE: clear the accumulators of a column tile


def spike_scan_cycles(scan_words: int) -> int:
    """S_SCAN: a spike-mode MVM's inputs must all be 0 or 1 before its first conversion
    (issue 21). M_LOAD loads a row tile's inputs and converts them before it loads the
    next, so the inputs beyond the first row tile (`scan_words` SRAM words) are read once
    first, back to back; the first row tile's are checked as the first M_LOAD loads them,
    at no cost, and a refusal ends that M_LOAD. No cycle for a layer of one row tile."""
    return stream_read_cycles(scan_words) if scan_words else 0

# ---- LoRA unit ----
LORA_NEXT_ENTRY_CYCLES = 1  # NEXT_ENTRY: pick the next enabled slot (or see none is left)
# CHECK_PRODUCTS: the checks' products (each adapter's A and B words) registered before
# CHECK compares them (issue 25: they were the pipelined unit's longest path)
LORA_CHECK_PRODUCTS_CYCLES = 1
LORA_X_CYCLES_PER_WORD = 1  # X_IN: an x word a cycle while the stream is valid
# The LoRA unit's pipeline behind a word's use (hw/lora_unit.py, issue 25): the PE
# array's products of its registered operands (O: no memory's output feeds a multiplier),
# the products summed (S), the multiply by q_mult or the scale (X), the accumulator (A),
# the rounding shift (R). A word's result (a q byte, a y) is formed this many cycles
# after its use; a word still enters every cycle.
LORA_PIPE_STAGES = 5
# A phase: the last q is written as the last word passes R, and the B phase's first word
# is issued in that cycle (the q memory's read port is transparent to its write port, so
# it reads that q): one cycle less than the stages. (O, added for issue 25, cost no cycle
# of a run: before it B started the cycle after the last q write, after 4 stages.)
LORA_A_DRAIN_CYCLES = LORA_PIPE_STAGES - 1
# B phase: it ends at its last issue, and `busy` falls (issue 20: the PE array and q are
# free, so the next START is taken while the run's last words pass U..R and their y leave;
# before, the B phase's drain, 6 cycles, and DRAIN, 1, were in every run). A run's cycles
# are its busy cycles, START to the cycle the unit can take the next START. After busy
# falls the last word is used, then passes the stages: a miss START (it fetches a
# descriptor that those words still read) waits for them, a hit does not.
LORA_TAIL_CYCLES = 1 + LORA_PIPE_STAGES
# ... and `done` rises the cycle after the last y leaves: this long after busy fell when y
# is always ready (the sequencer waits for done before it writes y back)
LORA_DONE_LAG_CYCLES = LORA_TAIL_CYCLES + 1

# ---- sequencer ----
def lora_desc_head_words(params) -> int:
    """FETCH_LD: the words of the LoRA layer descriptor the sequencer reads, those that hold
    n_in, n_out, act and lut (its first 60 bits): 1 at sram_width >= 64, 2 at 32. Issue 21:
    a LIF layer's lut names its neuron descriptor; before, the sequencer read only the
    word with n_in and n_out, which at 32 bits does not hold act (bits 42-43)."""
    lut = data.Layout.cast(LoraLayer)["lut"]
    return params.words_for(lut.offset + lut.width)


SEQ_HANDOFF_CYCLES = 1  # XBAR / LORA: the cycle in which the sequencer sees a unit done
SEQ_X_FEED_LAG_CYCLES = 1  # the x feeder's first read is a cycle behind the LoRA unit
SEQ_RECORD_START_CYCLES = 1  # NEXT: a record begins (FIFOs flushed, counters snapped)
SEQ_RECORD_END_CYCLES = 1  # END: the record is counted, the program goes on or ends
SEQ_VECTOR_CYCLES = 1  # VECTOR: a layer pass moves to its next vector (FIFOs flushed)
# A LIF layer (issue 21, contract/neuron.py): CHECK starts the fetch of its NeuronLayer
# descriptor (FETCH_ND, fetch_cycles), CHECK_ND checks its membranes and counts
# (CHECK_CYCLES); per output word of y the write-back reads the word's membranes (one or
# two words) and counts (LIF_READ_*: none at the pass's first vector), gives the neuron
# block (three registered stages) its first half, then its second (LIF_UPDATE,
# LIF_UPDATE_HI), waits a cycle for the first half's results (LIF_UPDATE_WAIT; the
# second half leaves the block under the first's write), then writes membranes, spikes
# and counts (LIF_WRITE_*), one SRAM word a cycle. Three cycles a word: one with the
# block in one stage, two in two, before its stages were split for the FPGA clock
# (README, FPGA)
SEQ_LIF_UPDATE_CYCLES = 3
SEQ_STATE_WORD_CYCLES = 1
