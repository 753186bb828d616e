"""Digital LoRA unit: the adapters' branch of a layer, and the layer's requantisation.

Computes, for one layer (rmlora.contract.lora has the formulas and formats),
    y = act(requant(p * out_mult + sum over enabled slots i of (B_i q_i(A_i x)) * scale_i))
with a PE array of P = SRAM-word-bytes int8 MACs that streams A_i and B_i from the
SRAM buffer, one word per cycle, through the core read port; there is no second
copy of the adapter data. x arrives on a stream (P lanes a beat) and is held in a
small memory (as are the LUT and q: memories, not registers behind wide multiplexers,
halved the unit's gate count, issue 25); p arrives on a stream (one int32 an output)
and y leaves on one (one int8 an output), so the unit can sit behind the crossbar
controller or be fed by a testbench with random stalls.

Phases (their cycles named in rmlora.contract.timing, summed in
rmlora.sw.golden.lora.cycles): fetch the layer descriptor and the enabled slots' adapter
entries (a DescriptorFetch); check them (a bad one is refused with an ErrorCode, never a
hang; the checks' products are registered a cycle first, CHECK_PRODUCTS); load the LUT
(LUT activation only, the same fetch); take x (X_IN: the unit does not touch the SRAM,
so in the chip the sequencer reads x from the same port and streams it in; on a cache
hit x streams in under the A phase instead, which reads the cache); A phase: h = A_i x
row by row, requantised to q_i; B phase: per output j, B_i row j dotted with q_i,
combined with p_j, requantised, activated and sent. A read issues every cycle and its
word is used the next; its result (a q byte, a y) leaves timing.LORA_PIPE_STAGES cycles
after its use (issue 25: operands registered, products, sum, multiply, accumulate,
requantise, a register between each); a word still enters every cycle. The A phase costs
its words, one cycle, and its drain (LORA_A_DRAIN_CYCLES, a stage less: B reads only
finished q, its first word in the cycle the last q is written, through the q memory's
bypass); the B phase costs its words: at its last issue `busy` falls (issue 20), for the
PE array and q are free, and the next START is taken while the run's last words pass
U..R and their y leave. `done` rises once they have (timing.LORA_DONE_LAG_CYCLES after
busy falls with y always ready), unless a START came first: that run owns done. So a
layer pass (a START per vector) runs its next hit's A words behind the last run's B
words; each word carries its phase, slot and flags through the stages, and the
multiplier's operand, the requantiser's shift, the q write and y follow the word, not
the FSM's state. A miss START (it fetches a new descriptor, which those words still
read) first waits for them to leave (SETTLE, timing.LORA_TAIL_CYCLES at most without
stalls). The pipeline stalls as a whole on an empty p (an output's first word at X) or a
full y (an output's last word at R), every stage and the issue holding, in either phase;
the read ports hold their words, so nothing is lost. A run's cycles (PERF_LORA_CYCLES,
rmlora.sw.golden.lora.cycles) are its busy ones: START to the cycle the unit can take
the next START.

Adapter cache (ChipParams.lora_cache_words, a Memory beside the PE array): a layer
is applied to many vectors one record each (rmlora.contract.sequencer), so the
unit keeps what it read for the last layer. A run whose enabled adapters fit the
cache writes every A and B word into it in read order as it uses it; the next START
with the same descriptor address and LORA_ENABLE (and no `cache_flush` since: the
sequencer's START, any host write to the SRAM) is a hit: it skips the descriptor,
entry and LUT fetches and the check (their registers and the LUT memory still hold
them) and reads A and B from the cache in the same order, at the same one-cycle
latency, so a hit reads no SRAM word at all. A run leaves the cache valid at its last
issue, when busy falls (its last word is written as it is used, the next cycle, and a
hit's first read comes after); a flush from then on, while the last words are still in
the pipeline too, makes the next START a miss. Chosen over a weight-stationary loop
over the vectors, which needs every vector's x and p held in the unit (20 x 32 bytes
of x and 20 x 32 int32 of p for a face token layer, more than the FIFOs), and over
re-ordering the program, which would change the sequencer, the compiler and the
runtime together.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.lora import (
    ACTIVATION_CODES,
    LORA_ACC_BITS,
    LORA_DESC_BITS,
    LORA_H_BITS,
    LORA_MAX_FEATURES,
    LORA_MAX_RANK,
    LORA_SLOTS,
    LUT_ENTRIES,
    MULT_BITS,
    Activation,
    AdapterEntry,
    LoraLayer,
)
from rmlora.contract.perf import perf_ports

from .decoder import ErrorEventSignature
from .descriptor_fetch import DescriptorFetch
from .sram_buffer import SramPortSignature
from .unit import unit_members

__all__ = ["LoraUnit", "PERF", "requant"]

PERF = perf_ports("lora")


def rounding_half(shift, w):
    """The rounding constant of round_shift for a value of w bits: 2**(shift-1) for a shift
    of 1..w-1, else 0 (a shift of 0 does not round; at w or more the result is 0 anyway).
    The B phase's pipeline adds it into the accumulator a stage before the shift."""
    half = Const(1, w + 1) << (shift - 1).as_unsigned()[:(w - 1).bit_length()]
    return Mux((shift == 0) | (shift >= w), 0, half)


def shift_clamp(m, wide, shift, w):
    """clamp(wide >> shift, -128, 127), and 0 for a shift of w or more: the second half of
    round_shift, on a value to which rounding_half(shift, w) has been added."""
    r = Signal(signed(len(wide)), name="rq_rounded")
    out = Signal(signed(8), name="rq_out")
    m.d.comb += [
        r.eq(Mux(shift >= w, 0, wide >> shift)),
        out.eq(Mux(r > 127, 127, Mux(r < -128, -128, r))),
    ]
    return out


def round_shift(m, v, shift):
    """clamp(round_half_up(v / 2**shift), -128, 127) for a signed v, combinational, one
    bit wider than v: v of w bits holds |v| < 2**(w-1), so for a shift of w or more
    v + 2**(shift-1) lies in [0, 2**shift) and the result is 0; below that the rounding
    constant is at most 2**(w-2) and the sum fits w+1 bits. The unit runs it in two
    pipeline stages (rounding_half, then shift_clamp); this is the two in one."""
    w = len(v)
    wide = Signal(signed(w + 1), name="rq_value")
    m.d.comb += wide.eq(v + rounding_half(shift, w))
    return shift_clamp(m, wide, shift, w)


def requant(m, value, mult, shift):
    """clamp(round_half_up(value * mult / 2**shift), -128, 127), as wide as the product."""
    product = value * mult
    v = Signal(signed(len(product)), name="rq_product")
    m.d.comb += v.eq(product)
    return round_shift(m, v, shift)


class LoraUnit(wiring.Component):
    def __init__(self, params: ChipParams = ChipParams()):
        self.params = p = params
        self.lanes = p.sram_word_bytes
        super().__init__({
            **unit_members(),  # start, desc_addr, busy, done, refused
            "enable": In(LORA_SLOTS),
            "clear_perf": In(1),
            "cache_flush": In(1),  # forget the adapter cache (the SRAM may have changed)
            **{name: Out(32) for name in PERF},
            "error": Out(ErrorEventSignature),
            "sram": Out(SramPortSignature(p.sram_addr_width, p.sram_width)),
            "x": In(stream.Signature(unsigned(8 * self.lanes))),
            "p": In(stream.Signature(signed(32))),
            "y": Out(stream.Signature(signed(8))),
        })

    def elaborate(self, platform):
        m = Module()
        p, P = self.params, self.lanes
        wb_log = (P - 1).bit_length()
        dw = p.words_for(LORA_DESC_BITS)
        lut_words = LUT_ENTRIES // P
        sram = self.sram
        m.d.comb += sram.w_en.eq(0)
        # the layer descriptor, the adapter entries and the LUT, back to back
        m.submodules.fetch = fetch = DescriptorFetch(p, max(dw, lut_words))
        m.d.comb += fetch.sram.r_data.eq(sram.r_data)

        def words(n):  # ceil(n / P)
            return (n + P - 1) >> wb_log

        # ---- the layer descriptor and the adapter entries, as fetched ----
        layer_raw = Signal(dw * p.sram_width)
        layer = data.View(LoraLayer, layer_raw[:data.Layout.cast(LoraLayer).size])
        entry_raw = [Signal(dw * p.sram_width, name=f"entry{s}_raw") for s in range(LORA_SLOTS)]
        entry = [data.View(AdapterEntry, e[:data.Layout.cast(AdapterEntry).size])
                 for e in entry_raw]
        entry_addr = Cat(layer.entry0, layer.entry1, layer.entry2, layer.entry3)
        active = Signal(LORA_SLOTS)  # enabled, and this layer has an adapter in the slot
        C = p.lora_cache_words
        cache_valid, hit, fill = Signal(), Signal(), Signal()  # see the module docstring
        spoiled = Signal()  # a flush came during this run: its fill is not kept
        # a word at U reads its operand from the cache (u_hit) and writes it there (u_fill) as
        # its own run did: the next run may have begun (a hit) while it waits at U
        u_hit, u_fill = Signal(name="u_hit"), Signal(name="u_fill")
        tag_addr, tag_en = Signal(16), Signal(LORA_SLOTS)
        c_issue, u_c = Signal(16, name="c_issue"), Signal(16, name="u_c")  # cache indices
        if C:
            m.submodules.cache = cache = Memory(shape=p.sram_width, depth=C, init=[])
            cache_rd, cache_wr = cache.read_port(), cache.write_port()
            c_bits = (C - 1).bit_length()
            m.d.comb += cache_rd.en.eq(0)  # a read port's enable is 1 unless driven
            m.d.comb += [cache_rd.addr.eq(c_issue[:c_bits]), cache_wr.addr.eq(u_c[:c_bits]),
                         cache_wr.data.eq(sram.r_data)]
            operand = Mux(u_hit, cache_rd.data, sram.r_data)  # the word's, not the run's
            with m.If(cache_rd.en):
                m.d.sync += self.perf_cache_reads.eq(self.perf_cache_reads + 1)
        else:
            operand = sram.r_data

        def per_slot(values, index, width):
            return Cat(values).word_select(index, width)

        def rank(s):
            return per_slot([e.rank for e in entry], s, 5)

        # ---- checks on the fetched descriptor ----
        n_w = Signal(16)
        m.d.comb += n_w.eq(words(layer.n_in))
        check = Signal(ErrorCode)
        rank_zero = Cat(active[s] & (entry[s].rank == 0) for s in range(LORA_SLOTS)).any()
        rank_max = Cat(active[s] & (entry[s].rank > LORA_MAX_RANK) for s in range(LORA_SLOTS)).any()
        # The checks in three registered steps (issue 25: once the datapath was pipelined
        # they were the unit's longest paths): each adapter's A and B words (a_words,
        # b_words), then the checks on them (check_r) and their sum (slot_words), then
        # whether a pass fits the cache (fits_r). The registers they start from stand
        # still from NEXT_ENTRY's last cycle on: CHECK_PRODUCTS (a cycle, in
        # timing.LORA_CHECK_PRODUCTS_CYCLES) lets the first step settle, CHECK takes
        # check_r, and X_IN, a cycle or more later, takes fits_r.
        a_words = [Signal(16, name=f"a_words{s}") for s in range(LORA_SLOTS)]
        b_words = [Signal(16, name=f"b_words{s}") for s in range(LORA_SLOTS)]
        m.d.sync += [a_words[s].eq(entry[s].rank * n_w) for s in range(LORA_SLOTS)]
        m.d.sync += [b_words[s].eq(layer.n_out * words(entry[s].rank))
                     for s in range(LORA_SLOTS)]
        out_of_sram = Cat(
            active[s] & ((entry[s].a_addr + a_words[s] > p.sram_depth)
                         | (entry[s].b_addr + b_words[s] > p.sram_depth))
            for s in range(LORA_SLOTS)).any() | (
            (layer.act == Activation.LUT) & (layer.lut + lut_words > p.sram_depth))
        slot_words = [Signal(16, name=f"slot{s}_words") for s in range(LORA_SLOTS)]
        m.d.sync += [slot_words[s].eq(Mux(active[s], a_words[s] + b_words[s], 0))
                     for s in range(LORA_SLOTS)]
        with m.If((layer.n_in == 0) | (layer.n_out == 0) | (layer.n_in > LORA_MAX_FEATURES)
                  | (layer.n_out > LORA_MAX_FEATURES)
                  | ~layer.act.as_value().matches(*ACTIVATION_CODES)):
            m.d.comb += check.eq(ErrorCode.LORA_SHAPE)
        with m.Elif(rank_zero):
            m.d.comb += check.eq(ErrorCode.LORA_RANK_ZERO)
        with m.Elif(rank_max):
            m.d.comb += check.eq(ErrorCode.LORA_RANK_MAX)
        with m.Elif(out_of_sram):
            m.d.comb += check.eq(ErrorCode.LORA_SRAM_RANGE)
        check_r, fits_r = Signal(ErrorCode, name="check_r"), Signal(name="fits_r")
        m.d.sync += [check_r.eq(check), fits_r.eq((sum(slot_words) <= C) if C else 0)]

        # ---- operands: x, q and the LUT held in memories ----
        # x and the LUT in memories, not registers behind wide multiplexers (issue 25):
        # x is read a cycle ahead, at the A phase's issue (transparent to the write of
        # the same word, which on a cache hit streams in under the A phase); the LUT is
        # read as y is formed and its byte picked as y leaves
        m.submodules.x_mem = x_mem = Memory(shape=8 * P, depth=LORA_MAX_FEATURES // P, init=[])
        x_wr = x_mem.write_port()
        x_rd = x_mem.read_port(transparent_for=(x_wr,))
        x_bits = (LORA_MAX_FEATURES // P - 1).bit_length()
        q_words = -(-LORA_MAX_RANK // P)
        # q_i (a byte per row of A_i) in a memory of q_words words per slot: written a
        # byte at a time in the A phase, read a word ahead in the B phase (held on a stall)
        m.submodules.q_mem = q_mem = Memory(shape=8 * P, depth=LORA_SLOTS * q_words, init=[])
        # transparent: the B phase's first word is issued (its q word read) in the cycle the
        # A phase's last q byte is written, and reads it through the bypass
        q_wr = q_mem.write_port(granularity=8)
        q_rd = q_mem.read_port(transparent_for=(q_wr,))
        q_bits = (LORA_SLOTS * q_words - 1).bit_length()
        m.d.comb += q_rd.en.eq(0)
        m.submodules.lut_mem = lut_mem = Memory(shape=8 * P, depth=lut_words, init=[])
        lut_wr, lut_rd = lut_mem.write_port(), lut_mem.read_port()
        lut_bits = max(1, (lut_words - 1).bit_length())
        m.d.comb += lut_rd.en.eq(0)  # read only as a LUT output is formed: held while y waits
        y_lut = Signal(name="y_lut")  # the output waiting is a LUT entry
        y_byte = Signal(max(1, wb_log), name="y_byte")  # its byte in the LUT word read

        # ---- the read pipeline: issue (i_*) this cycle, use (u_*) the next ----
        i_slot = Signal(range(LORA_SLOTS), name="i_slot")
        i_row, i_w = Signal(16, name="i_row"), Signal(16, name="i_w")
        u_valid, u_slot = Signal(name="u_valid"), Signal(range(LORA_SLOTS), name="u_slot")
        u_row, u_w = Signal(16, name="u_row"), Signal(16, name="u_w")
        u_first_out, u_last_ad = Signal(name="u_first_out"), Signal(name="u_last_ad")
        u_last_out = Signal(name="u_last_out")
        u_b = Signal(name="u_b")  # the word is a B word (an A word otherwise)

        later = [Cat(active[t] for t in range(s + 1, LORA_SLOTS)) if s + 1 < LORA_SLOTS
                 else Const(0, 1) for s in range(LORA_SLOTS)]
        is_last_slot = per_slot([~later[s].any() for s in range(LORA_SLOTS)], i_slot, 1)
        next_slot = Signal(range(LORA_SLOTS))
        first_slot = Signal(range(LORA_SLOTS))
        for s in reversed(range(LORA_SLOTS)):
            with m.If(active[s]):
                m.d.comb += first_slot.eq(s)
            if s > 0:  # slot 0 is never after another
                with m.If(active[s] & (s > i_slot)):
                    m.d.comb += next_slot.eq(s)
        m.d.comb += x_rd.addr.eq(i_w[:x_bits])  # the A phase's issue: used the next cycle
        y_reg, y_full = Signal(signed(8), name="y_reg"), Signal(name="y_full")
        m.d.comb += [self.y.valid.eq(y_full),
                     self.y.p.eq(Mux(y_lut, lut_rd.data.word_select(y_byte, 8), y_reg))]
        with m.If(self.y.valid & self.y.ready):
            m.d.sync += y_full.eq(0)

        # one PE array for both phases: the adapter word against x (A) or against q (B),
        # as the word at U is (the next run's A words may follow a run's last B word)
        pe_b = Signal(8 * P, name="pe_b")
        m.d.comb += pe_b.eq(Mux(u_b, q_rd.data, x_rd.data))
        row_words_b = Signal(16)  # words of a row of the issuing slot's B
        m.d.comb += row_words_b.eq(words(rank(i_slot)))

        # ---- the pipeline behind the use (issue 25): timing.LORA_PIPE_STAGES registers ----
        # A word used in cycle U (its adapter word arrives from the SRAM or the cache, its
        # x or q word from their memory; both are registered) goes on through O (the PE
        # array multiplies the registered operands), S (the products summed into h or d),
        # X (h * q_mult or d * scale; p * out_mult on an output's first word, which takes
        # p), A (the accumulator, with the rounding constant) and R (shift and clamp: q
        # written, or y formed and activated). O is there so that no memory's output feeds
        # a multiplier (issue 25: the whole chip's critical path ran from the SRAM's block
        # RAM through its bank select and the operand mux into a DSP, 22.3 ns at 44.9 MHz).
        # Each word carries its phase (`b`) with its slot, row and flags, so the
        # multiplier's operand, the requantiser's shift, the q write and y follow the word,
        # not the state: a run's last B words pass O..R while the next run (a cache hit)
        # issues its A words behind them (issue 20). The stages move together: all of them
        # hold while X waits for p (an output's first word) or R for room in y (an output's
        # last word), and the issue holds with them, whatever phase it is in; the read ports
        # hold their words (x_rd, q_rd; the cache's and the SRAM's are read only at issue).
        # One multiplier and one requantiser serve both phases.
        stall = Signal()
        adv = Signal()  # every stage moves on this cycle
        m.d.comb += [adv.eq(~stall), x_rd.en.eq(adv), q_rd.en.eq(adv)]
        o_ad = Signal(8 * P, name="o_ad")  # O: the adapter word (from the SRAM or the cache)
        o_pe = Signal(8 * P, name="o_pe")  # O: x (A) or q (B)
        o_valid, o_first_w = Signal(name="o_valid"), Signal(name="o_first_w")
        pp = [Signal(signed(16), name=f"pp{i}") for i in range(P)]  # S: the lanes' products
        s_valid, s_first_w = Signal(name="s_valid"), Signal(name="s_first_w")
        hd = Signal(signed(LORA_H_BITS), name="hd")  # X: h (A) or d (B, < LORA_D_BITS)
        x_valid = Signal(name="x_valid")
        mx = Signal(signed(LORA_H_BITS + MULT_BITS), name="mx")  # A: h * q_mult, d * scale
        pm = Signal(signed(32 + MULT_BITS), name="pm")  # A: p * out_mult
        a_valid, a_shift = Signal(name="a_valid"), Signal(len(layer.out_shift), name="a_shift")
        # R: with the rounding constant added, |.| < 2**47 + 2**46 (round_shift's w + 1)
        acc = Signal(signed(LORA_ACC_BITS + 1), name="acc")
        r_valid, r_shift = Signal(name="r_valid"), Signal(len(layer.out_shift), name="r_shift")
        PIPE_STAGES = 5  # O, S, X, A, R: the registers o_ad/o_pe, pp, hd, mx/pm and acc
        assert PIPE_STAGES == timing.LORA_PIPE_STAGES

        def ctl(prefix):  # the control a word carries from stage to stage
            return {f: Signal(w, name=f"{prefix}_{f}") for f, w in (
                ("slot", len(u_slot)), ("row", 5), ("b", 1), ("last_ad", 1), ("first_out", 1),
                ("last_out", 1))}
        u_ctl = {"slot": u_slot, "row": u_row[:5], "b": u_b, "last_ad": u_last_ad,
                 "first_out": u_first_out, "last_out": u_last_out}
        o_ctl, s_ctl, x_ctl, a_ctl, r_ctl = ctl("o"), ctl("s"), ctl("x"), ctl("a"), ctl("r")
        with m.If(adv):
            for src, dst in ((u_ctl, o_ctl), (o_ctl, s_ctl), (s_ctl, x_ctl), (x_ctl, a_ctl),
                             (a_ctl, r_ctl)):
                m.d.sync += [dst[f].eq(src[f]) for f in dst]
            m.d.sync += [o_valid.eq(u_valid), s_valid.eq(o_valid), x_valid.eq(s_valid),
                         a_valid.eq(x_valid), r_valid.eq(a_valid), o_first_w.eq(u_w == 0),
                         s_first_w.eq(o_first_w), r_shift.eq(a_shift)]
            # U -> O: the operands, as they arrive
            m.d.sync += [o_ad.eq(operand), o_pe.eq(pe_b)]
            # O -> S: the PE array's products
            m.d.sync += [pp[i].eq(o_ad.word_select(i, 8).as_signed()
                                  * o_pe.word_select(i, 8).as_signed()) for i in range(P)]
            # S -> X: summed into h or d (restarted at a row's first word; a bubble
            # between words of a row, x arriving late on a hit, leaves it alone)
            with m.If(s_valid):
                m.d.sync += hd.eq(Mux(s_first_w, 0, hd) + sum(pp))
            # X -> A: the one multiplier; p * out_mult, and the shift of the requantiser
            mult = Mux(x_ctl["b"],
                       per_slot([e.scale_mult for e in entry], x_ctl["slot"], MULT_BITS),
                       per_slot([e.q_mult for e in entry], x_ctl["slot"], MULT_BITS)).as_signed()
            m.d.sync += [mx.eq(hd * mult), pm.eq(self.p.p * layer.out_mult),
                         a_shift.eq(Mux(x_ctl["b"], layer.out_shift,
                                        per_slot([e.q_shift for e in entry], x_ctl["slot"],
                                                 len(layer.out_shift))))]
            # A -> R: acc = [p * out_mult + rounding] + sum_i d_i * scale_i (B), one
            # h * q_mult + rounding a row (A; its other words' sums are never used)
            a_b = a_ctl["b"]
            start = ~a_b | a_ctl["first_out"]
            base = Mux(start, Mux(a_b, pm, 0) + rounding_half(a_shift, LORA_ACC_BITS), acc)
            with m.If(a_valid):
                m.d.sync += acc.eq(base + Mux(a_ctl["last_ad"] | ~a_b, mx, 0))
        rq_out = shift_clamp(m, acc, r_shift, LORA_ACC_BITS)
        # an output takes p as its first word passes X, and puts y out at R (only B words
        # carry first_out and last_out)
        m.d.comb += [
            stall.eq((x_valid & x_ctl["first_out"] & ~self.p.valid)
                     | (r_valid & r_ctl["last_out"] & y_full & ~self.y.ready)),
            self.p.ready.eq(x_valid & x_ctl["first_out"] & adv)]
        # A: q_i[row] = requant(h). An A word at R never waits (whatever is ahead of it has
        # left; B words come after the run's last q), and a repeated write would be the same
        with m.If(~r_ctl["b"] & r_valid & r_ctl["last_ad"]):
            m.d.comb += [
                q_wr.addr.eq((r_ctl["slot"] * q_words + (r_ctl["row"] >> wb_log))[:q_bits]),
                q_wr.data.eq(rq_out.as_unsigned().replicate(P)),
                q_wr.en.eq(Const(1, P) << r_ctl["row"][:wb_log])]
        pipe_empty = ~(u_valid | o_valid | s_valid | x_valid | a_valid | r_valid)
        # the last word at A: it writes its q byte next cycle, as it passes R
        pipe_last_at_a = a_valid & ~(u_valid | o_valid | s_valid | x_valid)

        # ---- U: the word's use (wherever the FSM is: a run's last B word is used after
        # its busy fell); R: an output's y formed and activated ----
        if C:
            m.d.comb += cache_wr.en.eq(u_valid & u_fill)  # at its read index; held, the same
        with m.If(adv):
            m.d.sync += u_valid.eq(0)  # unless a word is issued this cycle (below)
        with m.If(r_valid & r_ctl["last_out"] & adv):
            act = Signal(signed(8))
            with m.Switch(layer.act):
                with m.Case(Activation.RELU):
                    m.d.comb += act.eq(Mux(rq_out < 0, 0, rq_out))
                with m.Case(Activation.LUT):  # the entry leaves from lut_rd
                    entry_at = (rq_out + 128)[:8]
                    m.d.comb += [lut_rd.en.eq(1), lut_rd.addr.eq(entry_at[wb_log:][:lut_bits])]
                    m.d.sync += y_byte.eq(entry_at[:max(1, wb_log)])
                with m.Default():  # IDENTITY, and LIF: y is the neurons' current
                    m.d.comb += act.eq(rq_out)
            m.d.sync += [y_reg.eq(act), y_full.eq(1), y_lut.eq(layer.act == Activation.LUT)]

        busy = Signal()
        m.d.comb += self.busy.eq(busy)
        with m.If(busy):
            m.d.sync += self.perf_cycles.eq(self.perf_cycles + 1)
        with m.If(sram.r_en):
            m.d.sync += self.perf_sram_reads.eq(self.perf_sram_reads + 1)
        # done is owed from the B phase's last issue (busy falls) until the run's last output
        # has left; a START taken meanwhile takes the unit, and done waits for that run
        owed = Signal()
        with m.If(owed & pipe_empty & (~y_full | self.y.ready)):
            m.d.sync += [owed.eq(0), self.done.eq(1)]

        def refuse(code, addr):
            m.d.comb += [self.error.valid.eq(1), self.error.code.eq(code),
                         self.error.addr.eq(addr)]
            m.d.sync += [self.refused.eq(1), busy.eq(0)]
            m.next = "IDLE"

        word = Signal(16, name="word")

        def take_x(when):
            """Take an x beat (when `when`) into x word `word`; lanes past n_in are zero."""
            m.d.comb += self.x.ready.eq(word < n_w)
            beat = Signal(8 * P, name="x_beat")
            for li in range(P):
                m.d.comb += beat.word_select(li, 8).eq(
                    Mux((word << wb_log) + li < layer.n_in, self.x.p.word_select(li, 8), 0))
            m.d.comb += [x_wr.addr.eq(word[:x_bits]), x_wr.data.eq(beat)]
            with m.If(when & (word < n_w)):
                m.d.comb += x_wr.en.eq(1)
                m.d.sync += word.eq(word + 1)
        fetch_to = Signal(range(LORA_SLOTS + 1))  # LORA_SLOTS: the layer descriptor
        got = fetch.words

        def fetching():  # the fetch owns the SRAM port
            m.d.comb += [sram.addr.eq(fetch.sram.addr), sram.r_en.eq(fetch.sram.r_en)]

        def start_fetch(addr, n_words):
            m.d.comb += [fetch.start.eq(1), fetch.addr.eq(addr), fetch.n_words.eq(n_words)]

        def read_adapter(addr):
            """Issue the read of the next A or B word: from the cache on a hit; a miss that
            fits the cache writes it there as it is used."""
            if C:
                with m.If(hit):
                    m.d.comb += cache_rd.en.eq(1)
                with m.Else():
                    m.d.comb += [sram.addr.eq(addr), sram.r_en.eq(1)]
            else:
                m.d.comb += [sram.addr.eq(addr), sram.r_en.eq(1)]
            m.d.sync += [c_issue.eq(c_issue + 1), u_c.eq(c_issue), u_hit.eq(hit),
                         u_fill.eq(fill)]

        def count_macs(lanes_left):
            """PERF_MACS at the issue of an adapter word (P lanes, fewer in a row's last
            word): counted while the run is busy, though the word is used after."""
            m.d.sync += self.perf_macs.eq(self.perf_macs + Mux(lanes_left > P, P, lanes_left))

        # each slot's next A (then B) word: its rows are contiguous and issued in order,
        # so a pointer that counts up replaces address = base + row * row_words + word
        ptrs = [Signal(len(entry[s].a_addr), name=f"ptr{s}") for s in range(LORA_SLOTS)]

        def point_at(field):
            m.d.sync += [ptrs[s].eq(getattr(entry[s], field)) for s in range(LORA_SLOTS)]

        def read_next():
            """Issue the read of the issuing slot's next word and step its pointer."""
            read_adapter(per_slot(ptrs, i_slot, len(ptrs[0])))
            with m.Switch(i_slot):
                for s in range(LORA_SLOTS):
                    with m.Case(s):
                        m.d.sync += ptrs[s].eq(ptrs[s] + 1)

        def begin_passes():
            """The issue's counters to the first A word (u_valid is the previous run's last
            word, if it is still at U)."""
            m.d.sync += [word.eq(0), i_slot.eq(first_slot), i_row.eq(0), i_w.eq(0),
                         c_issue.eq(0)]
            point_at("a_addr")

        with m.FSM():
            with m.State("IDLE"):
                hit_now = (cache_valid & ~self.cache_flush & (self.desc_addr == tag_addr)
                           & (self.enable == tag_en))
                with m.If(self.start):
                    m.d.sync += [spoiled.eq(0), owed.eq(0)]
                    with m.If(hit_now):  # descriptor, entries and LUT are still held
                        begin_passes()
                        m.d.sync += [busy.eq(1), self.done.eq(0), self.refused.eq(0),
                                     hit.eq(1), fill.eq(0)]
                        with m.If(active.any()):  # x streams in under the A phase
                            m.next = "A_PHASE"
                        with m.Else():
                            m.next = "X_IN"
                    with m.Elif(self.desc_addr + dw > p.sram_depth):
                        refuse(ErrorCode.LORA_SRAM_RANGE, self.desc_addr)
                    with m.Else():
                        m.d.sync += [busy.eq(1), self.done.eq(0), self.refused.eq(0),
                                     fetch_to.eq(LORA_SLOTS), active.eq(0), hit.eq(0),
                                     fill.eq(0), cache_valid.eq(0), tag_addr.eq(self.desc_addr),
                                     tag_en.eq(self.enable)]
                        with m.If(pipe_empty):
                            start_fetch(self.desc_addr, dw)
                            m.next = "FETCH"
                        with m.Else():
                            m.next = "SETTLE"
            # a miss waits for the last run's words to leave the pipeline: they read the
            # descriptor the fetch replaces (the y waiting to leave needs none of it)
            with m.State("SETTLE"):
                with m.If(pipe_empty):
                    start_fetch(tag_addr, dw)
                    m.next = "FETCH"
            with m.State("FETCH"):
                fetching()
                with m.If(got.valid):
                    wsel = got.p.index[:max(1, (dw - 1).bit_length())]
                    with m.Switch(fetch_to):
                        for s in range(LORA_SLOTS):
                            with m.Case(s):
                                m.d.sync += entry_raw[s].word_select(wsel, p.sram_width).eq(
                                    got.p.data)
                        with m.Case(LORA_SLOTS):
                            m.d.sync += layer_raw.word_select(wsel, p.sram_width).eq(
                                got.p.data)
                with m.If(fetch.done):
                    m.next = "NEXT_ENTRY"
            with m.State("NEXT_ENTRY"):  # fetch the lowest enabled slot's entry still due
                pending = Signal(LORA_SLOTS)
                lowest = Signal(range(LORA_SLOTS))
                m.d.comb += pending.eq(self.enable & ~active & Cat(
                    entry_addr.word_select(s, 16) != 0 for s in range(LORA_SLOTS)))
                for s in reversed(range(LORA_SLOTS)):
                    with m.If(pending[s]):
                        m.d.comb += lowest.eq(s)
                addr = entry_addr.word_select(lowest, 16)
                with m.If(pending == 0):
                    m.next = "CHECK_PRODUCTS"
                with m.Elif(addr + dw > p.sram_depth):
                    refuse(ErrorCode.LORA_SRAM_RANGE, addr)
                with m.Else():
                    start_fetch(addr, dw)
                    m.d.sync += [fetch_to.eq(lowest),
                                 active.eq(active | (Const(1, LORA_SLOTS) << lowest))]
                    m.next = "FETCH"
            with m.State("CHECK_PRODUCTS"):  # a_words and b_words settle (see check_r)
                m.next = "CHECK"
            with m.State("CHECK"):
                begin_passes()
                with m.If(check_r != ErrorCode.NONE):
                    refuse(check_r, self.desc_addr)
                with m.Elif(layer.act == Activation.LUT):
                    start_fetch(layer.lut, lut_words)
                    m.next = "LUT"
                with m.Else():
                    m.next = "X_IN"
            with m.State("LUT"):
                fetching()
                m.d.comb += [lut_wr.addr.eq(got.p.index[:lut_bits]), lut_wr.data.eq(got.p.data),
                             lut_wr.en.eq(got.valid)]
                with m.If(fetch.done):
                    m.next = "X_IN"
            with m.State("X_IN"):  # x is taken whole before A is read: the SRAM is free
                with m.If(~hit):  # a miss keeps what it reads if it fits (see fits_r)
                    m.d.sync += fill.eq(fits_r)
                take_x(self.x.valid)
                with m.If(self.x.valid & (word + 1 == n_w)):
                    with m.If(active.any()):
                        m.next = "A_PHASE"
                    with m.Else():
                        m.next = "B_PHASE"

            # ---- A phase: h_k = A_i[k] . x over the row's words, q_i[k] = requant(h_k) ----
            with m.State("A_PHASE"):
                # On a hit A comes from the cache and the SRAM port is free, so x is taken
                # here too (the sequencer reads it): a word of A's first row waits for its
                # x word, which may be taken in the same cycle. On a miss x is all in. A
                # word is issued only as the stages move: the last run's last words may
                # still be waiting for room in y ahead of it.
                take_x(self.x.valid)
                x_in = (word == n_w) | (i_w < word) | (self.x.valid & (i_w == word))
                issuing = i_row < rank(i_slot)
                last_w = i_w + 1 == n_w
                with m.If(issuing & x_in & adv):
                    read_next()
                    count_macs(layer.n_in - (i_w << wb_log))
                    m.d.sync += [u_valid.eq(1), u_slot.eq(i_slot), u_row.eq(i_row), u_w.eq(i_w),
                                 u_b.eq(0), u_last_ad.eq(last_w), u_first_out.eq(0),
                                 u_last_out.eq(0)]
                    with m.If(last_w):
                        m.d.sync += [i_w.eq(0), i_row.eq(i_row + 1)]
                        with m.If((i_row + 1 == rank(i_slot)) & ~is_last_slot):
                            m.d.sync += [i_row.eq(0), i_slot.eq(next_slot)]
                    with m.Else():
                        m.d.sync += i_w.eq(i_w + 1)
                # the last q is written as the last word passes R, and B's first word is
                # issued in that cycle: q_rd is transparent to q_wr, so it reads that q
                # (timing.LORA_A_DRAIN_CYCLES). With adv: the last word moves on to R.
                with m.If(~issuing & pipe_last_at_a & adv):
                    m.d.sync += [i_row.eq(0), i_w.eq(0), i_slot.eq(first_slot)]
                    point_at("b_addr")
                    m.next = "B_PHASE"

            # ---- B phase: per output j, acc = p_j * out_mult + sum_i (B_i[j] . q_i) * scale_i ----
            # It ends at its last issue (issue 20): the PE array and q are free, so the unit
            # takes the next START while the last words pass U..R and their y leave.
            with m.State("B_PHASE"):
                any_active = active.any()
                last_w = ~any_active | (i_w + 1 == row_words_b)
                last_ad = last_w & (~any_active | is_last_slot)
                m.d.comb += q_rd.addr.eq((i_slot * q_words + i_w)[:q_bits])  # read at issue
                with m.If(adv):
                    m.d.sync += u_fill.eq(0)  # a word with no adapter keeps nothing
                    with m.If(any_active):
                        read_next()
                        count_macs(rank(i_slot) - (i_w << wb_log))
                    m.d.sync += [u_valid.eq(1), u_slot.eq(i_slot), u_row.eq(i_row), u_w.eq(i_w),
                                 u_b.eq(1), u_first_out.eq((i_w == 0) & (i_slot == first_slot)),
                                 u_last_ad.eq(last_w & any_active), u_last_out.eq(last_ad)]
                    with m.If(last_ad):
                        m.d.sync += [i_row.eq(i_row + 1), i_w.eq(0), i_slot.eq(first_slot)]
                        with m.If(i_row + 1 == layer.n_out):  # the run's last word
                            m.d.sync += [busy.eq(0), owed.eq(1),
                                         cache_valid.eq((hit | fill) & ~spoiled)]
                            m.next = "IDLE"
                    with m.Elif(last_w):
                        m.d.sync += [i_w.eq(0), i_slot.eq(next_slot)]
                    with m.Else():
                        m.d.sync += i_w.eq(i_w + 1)

        # A START while busy is ignored and reported.
        with m.If(self.start & busy):
            m.d.comb += [self.error.valid.eq(1), self.error.code.eq(ErrorCode.LORA_BUSY),
                         self.error.addr.eq(self.desc_addr)]

        with m.If(self.cache_flush):
            m.d.sync += [cache_valid.eq(0), spoiled.eq(1)]

        with m.If(self.clear_perf):
            m.d.sync += [getattr(self, name).eq(0) for name in PERF]
        return m
