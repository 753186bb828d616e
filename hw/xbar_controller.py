"""Crossbar controller: write-verify programming and bit-serial MVM on the ReRAM macros.

Runs one crossbar descriptor (rmlora.contract.xbar) fetched from the SRAM buffer:

PROGRAM, cell by cell (row-major): read the target code; then repeat
    verify -> |code - target| <= tolerance: done
              pulses == max_pulses:         give up (counted in `failed`)
              else one SET (code low) or RESET (code high) pulse whose amplitude
              ramps while the direction holds (contract.xbar.ispp_amplitude)
and write the cell's pulse count (bit 7: did not converge) to the result array.
Never loops forever: at most max_pulses pulses per cell.

MVM, per column tile: clear the accumulators; per row tile load the int8 inputs
from SRAM as sign and magnitude, then for each of the 8 magnitude bit planes drive
the rows with that plane (negative inputs' rows at -V_read, contract.xbar)
2**reads_log2 times in a row, get one ADC code per column each time and add it,
shifted by plane + gain_shift - reads_log2 (the reads' mean), into 32-bit
accumulators (wrapping); write them back, or,
with `stream_p` (the sequencer's mode), send them on the `p` stream, one a cycle.
A spike-mode MVM (the descriptor's `spikes`, issue 21) drives and converts plane 0
only. Its inputs must be 0 or 1, and are all checked before its first conversion:
the first row tile's as the first M_LOAD loads them, the rest read once before
(S_SCAN, none for a layer of one row tile); any other value is refused with
XBAR_SPIKE_INPUT at the end of that M_LOAD, before any macro request or result.
In a layer pass the sequencer starts the next vector's MVM with `reuse` (the
descriptor already fetched and checked stays: no fetch) and `src_offset` (words
added to the descriptor's src; the offset is part of the SRAM range check).

The descriptor is read by a DescriptorFetch, a word every other cycle
(timing.XBAR_FETCH_SPACING), and checked before any macro is touched (CHECK_CODE
registers the checks' ErrorCode, CHECK acts on it); a bad one is refused with an
ErrorCode on `error` and `refused` set, never a hang. Timing is
exact, phase by phase as rmlora.contract.timing names them (summed in
rmlora.sw.golden.xbar.mvm_cycles and .program): every macro operation costs 1
request cycle plus MACRO_LATENCY[op] cycles.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.perf import perf_ports
from rmlora.contract.timing import XBAR_FETCH_SPACING
from rmlora.contract.xbar import (
    ACC_BITS,
    INPUT_BITS,
    NOT_CONVERGED_FLAG,
    PROGRAM_TARGET_BITS,
    READS_PER_PLANE,
    SPIKE_PLANES,
    XBAR_DESC_BITS,
    MacroOp,
    Polarity,
    XbarDescriptor,
    XbarOp,
    macro_request_layout,
    macro_response_layout,
)

from .decoder import ErrorEventSignature
from .descriptor_fetch import DescriptorFetch
from .sram_buffer import SramPortSignature
from .unit import unit_members

__all__ = ["XbarController"]

PERF = perf_ports("xbar")


def _ceil_shift(value, shift):
    return (value + (1 << shift) - 1) >> shift


class XbarController(wiring.Component):
    def __init__(self, params: ChipParams = ChipParams()):
        self.params = p = params
        super().__init__({
            **unit_members(),  # start, desc_addr, busy, done, refused
            "clear_perf": In(1),
            "failed": Out(32),
            **{name: Out(32) for name in PERF},
            "error": Out(ErrorEventSignature),
            "sram": Out(SramPortSignature(p.sram_addr_width, p.sram_width)),
            "macro_req": Out(stream.Signature(macro_request_layout(p))),
            "macro_resp": In(stream.Signature(macro_response_layout(p))),
            # MVM results to `p` (one int32 per output, in order) instead of the SRAM:
            # how the sequencer hands them to the LoRA unit
            "stream_p": In(1),
            "p": Out(stream.Signature(signed(ACC_BITS))),
            # a layer pass: start without fetching the descriptor (the one in use
            # stays), and read the inputs from src + src_offset; both taken at start
            "reuse": In(1),
            "src_offset": In(16),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        R, C, WB = p.macro_rows, p.macro_cols, p.sram_word_bytes
        r_log, c_log, wb_log = p.macro_row_bits, p.macro_col_bits, (WB - 1).bit_length()
        desc_words = p.words_for(XBAR_DESC_BITS)
        sram, req, resp = self.sram, self.macro_req, self.macro_resp

        desc_raw = Signal(desc_words * p.sram_width)
        desc = data.View(XbarDescriptor, desc_raw[:data.Layout.cast(XbarDescriptor).size])
        desc_addr = Signal(16)
        word = Signal(16)  # word counter of the current SRAM transfer
        m.submodules.fetch = fetch = DescriptorFetch(p, desc_words, XBAR_FETCH_SPACING)
        m.d.comb += [fetch.addr.eq(self.desc_addr), fetch.n_words.eq(desc_words),
                     fetch.sram.r_data.eq(sram.r_data)]
        with m.If(fetch.words.valid):
            m.d.sync += desc_raw.word_select(
                fetch.words.p.index[:max(1, (desc_words - 1).bit_length())],
                p.sram_width).eq(fetch.words.p.data)

        # ---- descriptor checks, in two registered stages ----
        # Combinational they were the chip's critical path on an ECP5 (issue 25). Stage 1
        # runs every cycle on the stored descriptor: the fetch stores its last word at
        # least a cycle before it is done (XBAR_FETCH_SPACING >= 2), and a `reuse` start
        # keeps the descriptor, so stage 1 is current in CHECK_CODE. Stage 2, in
        # CHECK_CODE, adds src_offset (taken at start) and registers the ErrorCode that
        # CHECK acts on. An SRAM range `base + ceil(bytes / WB) <= depth` is checked as
        # `base * WB + bytes <= depth * WB`, the same for integers, without the rounding adder.
        assert XBAR_FETCH_SPACING >= 2, "stage 1 needs the descriptor a cycle before CHECK_CODE"
        is_mvm = desc.op == XbarOp.MVM
        n_rt = Signal(16)  # row tiles (MVM)
        n_ct = Signal(16)
        # spike mode: the inputs beyond the first row tile, and their words (S_SCAN)
        scan_rows = Signal(16)
        scan_words = Signal(16)
        m.d.sync += [n_rt.eq(_ceil_shift(desc.n_rows, r_log)),
                     n_ct.eq(_ceil_shift(desc.n_cols, c_log)),
                     scan_rows.eq(desc.n_rows - R),
                     scan_words.eq(_ceil_shift(desc.n_rows, wb_log) - (R >> wb_log))]
        empty = Signal()
        tile_ok = Signal()  # the block fits the macro (n_rows > R: a multi-tile MVM)
        few_tiles = Signal()  # no more row or column tiles than macros
        cells = desc.n_rows[:9] * desc.n_cols[:9]
        src_end = Signal(16 + wb_log + 1)  # of the inputs, in bytes, before src_offset
        dst_ok = Signal()
        sram_bytes = p.sram_depth << wb_log
        m.d.sync += [
            empty.eq((desc.n_rows == 0) | (desc.n_cols == 0)),
            tile_ok.eq(Mux(is_mvm & (desc.n_rows > R), desc.row0 == 0,
                           desc.row0 + desc.n_rows <= R)
                       & Mux(is_mvm & (desc.n_cols > C), desc.col0 == 0,
                             desc.col0 + desc.n_cols <= C)),
            few_tiles.eq((desc.n_rows <= p.n_macros * R) & (desc.n_cols <= p.n_macros * C)),
            src_end.eq((desc.src << wb_log) + Mux(is_mvm, desc.n_rows, cells)),
            dst_ok.eq((desc.dst << wb_log) + Mux(is_mvm, desc.n_cols << 2, cells)
                      <= sram_bytes),
        ]
        src_offset = Signal(16)
        # the inputs' first word: the descriptor's src + the offset, registered every cycle
        # (both are set by CHECK_CODE; src is used from CHECK on)
        src = Signal(17)
        m.d.sync += src.eq(desc.src + src_offset)
        n_tiles = n_rt[:5] * n_ct[:5]
        macros_ok = Mux(is_mvm, few_tiles & (desc.macro + n_tiles <= p.n_macros),
                        desc.macro < p.n_macros)
        src_ok = src_end + (src_offset << wb_log) <= sram_bytes
        check = Signal(ErrorCode)  # stage 2's ErrorCode, registered in CHECK_CODE
        with m.If(~((desc.op == XbarOp.MVM) | (desc.op == XbarOp.PROGRAM))):
            m.d.sync += check.eq(ErrorCode.XBAR_OPCODE)
        with m.Elif(empty):
            m.d.sync += check.eq(ErrorCode.XBAR_EMPTY)
        with m.Elif(~tile_ok):
            m.d.sync += check.eq(ErrorCode.XBAR_TILE)
        with m.Elif(~macros_ok):
            m.d.sync += check.eq(ErrorCode.XBAR_MACRO_RANGE)
        with m.Elif(~is_mvm & (desc.max_pulses == 0)):
            m.d.sync += check.eq(ErrorCode.XBAR_MAX_PULSES)
        with m.Elif(is_mvm & (desc.reads_log2 > desc.gain_shift)):
            m.d.sync += check.eq(ErrorCode.XBAR_READS)
        with m.Elif(~(src_ok & dst_ok)):
            m.d.sync += check.eq(ErrorCode.XBAR_SRAM_RANGE)
        with m.Else():
            m.d.sync += check.eq(ErrorCode.NONE)

        # ---- PROGRAM state ----
        row = Signal(range(R + 1))
        col = Signal(range(C + 1))
        cell = Signal(16)  # row-major cell index = byte offset in src and dst
        target = Signal(PROGRAM_TARGET_BITS)
        code = Signal(p.verify_bits)
        pulses = Signal(8)
        error = Signal(signed(max(p.verify_bits, 8) + 2))
        abs_error = Signal(max(p.verify_bits, 8) + 1)
        m.d.comb += [error.eq(code - target), abs_error.eq(Mux(error < 0, -error, error))]
        result = Signal(8)
        amp = Signal(4)  # amplitude of the cell's previous pulse
        last_polarity = Signal(Polarity)
        has_last = Signal()  # the cell has had a pulse

        # ---- MVM state ----
        ct = Signal(16)
        rt = Signal(16)
        tile_macro = Signal(8)
        plane = Signal(range(INPUT_BITS))
        read = Signal(range(READS_PER_PLANE[-1]))  # the plane's conversions so far
        # Registered when the descriptor is checked (the checks pass only with
        # reads_log2 <= gain_shift): the plane's last read, the last plane (plane 0 in
        # spike mode), and the results' shift
        last_read = Signal.like(read)
        last_plane = Signal.like(plane)
        out_shift = Signal.like(desc.gain_shift)
        # Spike mode: an input byte seen so far (S_SCAN, the first M_LOAD) other than 0 or 1
        spike_bad = Signal()
        # The tile's rows are counted down from n_rows at each row tile (M_LOAD uses them
        # at once); its columns, its input rows' mask and its inputs' first word are
        # registered (issue 25: derived from rt and ct in the same cycle they were the
        # controller's longest paths after the checks). ct and the mask are set at least a
        # cycle before their use (M_TILE before M_LOAD, M_LOAD two cycles or more).
        rows_left = Signal(16)  # of the layer, from this row tile on
        rows_in_tile = Signal(range(R + 1))
        cols_in_tile = Signal(range(C + 1))
        cols_left = desc.n_cols - (ct << c_log)
        m.d.comb += rows_in_tile.eq(Mux(rows_left > R, R, rows_left))
        m.d.sync += cols_in_tile.eq(Mux(cols_left > C, C, cols_left))
        in_base = Signal(17)  # the row tile's first input word
        inputs = Signal(R * INPUT_BITS)  # |x| of the row tile's int8 inputs, input i in byte i
        negative = Signal(R)  # input i < 0: its row is driven at -V_read
        # The accumulators count in units of 2**gain_shift: each code is added shifted
        # by its plane only (0-7), and the gain shift is applied to the results leaving
        # (one or sram_width/32 a cycle). Equal mod 2**32 to adding code << (plane +
        # gain_shift), with 128 shifters of 0-7 bits instead of 128 of 0-22: 4,300
        # fewer LUT4s on an ECP5 (rmlora.hw.fpga), the same cycles. With n =
        # 2**reads_log2 reads per plane they hold n times the sum, and leave shifted by
        # gain_shift - reads_log2 (out_shift): the mean of the reads, exactly.
        acc = Signal(C * ACC_BITS)
        in_words = _ceil_shift(rows_in_tile, wb_log)
        out_words = _ceil_shift(cols_in_tile << 2, wb_log)
        row_mask = Signal(R)
        m.d.sync += row_mask.eq((Const(1, R + 1) << rows_in_tile) - 1)
        per_word = p.sram_width // ACC_BITS  # results in one SRAM word
        # The results leave from the low end of `acc`, which shifts down by what left
        # (M_WRITE, M_STREAM; it is cleared in M_TILE before it is used again): no
        # 128-to-1 multiplexer on the way out (issue 25: it was the controller's longest
        # path once the checks were registered). Zeros above it when a word holds more
        # results than a tile has columns (its byte enables leave them unwritten).
        leaving = Cat(acc, Const(0, max(0, per_word - C) * ACC_BITS))

        def scaled(result):  # an accumulator in weight units (see `acc`)
            return (result << out_shift)[:ACC_BITS]

        # The input bytes of the SRAM word read the cycle before (S_SCAN, M_LOAD) that are
        # not spikes: bytes from x_left on (the word's bytes past the inputs) do not count
        x_left = Signal(signed(18))  # inputs from the word's first byte on
        x_bad = Signal()
        m.d.comb += x_bad.eq(Cat((sram.r_data.word_select(i, 8)[1:] != 0) & (x_left > i)
                                 for i in range(WB)).any())

        planes = [Cat(inputs[i * INPUT_BITS + b] for i in range(R)) for b in range(INPUT_BITS)]
        drive = Signal(R)
        negate = Signal(R)
        m.d.comb += negate.eq((negative & row_mask) << desc.row0)
        with m.Switch(plane):
            for b in range(INPUT_BITS):
                with m.Case(b):
                    m.d.comb += drive.eq((planes[b] & row_mask) << desc.row0)

        # ---- macro request defaults ----
        m.d.comb += [
            req.p.macro.eq(desc.macro), req.p.row.eq(desc.row0 + row),
            req.p.col.eq(desc.col0 + col), req.p.width.eq(desc.width), resp.ready.eq(1),
        ]

        busy = Signal()
        m.d.comb += self.busy.eq(busy)
        with m.If(busy):
            m.d.sync += self.perf_cycles.eq(self.perf_cycles + 1)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start & self.reuse):  # the descriptor in use, checked again
                    m.d.sync += [busy.eq(1), self.done.eq(0), self.refused.eq(0),
                                 src_offset.eq(self.src_offset), word.eq(0)]
                    m.next = "CHECK_CODE"
                with m.Elif(self.start):
                    with m.If(self.desc_addr + desc_words > p.sram_depth):
                        self._refuse(m, ErrorCode.XBAR_SRAM_RANGE, self.desc_addr)
                    with m.Else():
                        m.d.comb += fetch.start.eq(1)
                        m.d.sync += [busy.eq(1), self.done.eq(0), self.refused.eq(0),
                                     desc_addr.eq(self.desc_addr), word.eq(0),
                                     src_offset.eq(self.src_offset)]
                        m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += [sram.addr.eq(fetch.sram.addr), sram.r_en.eq(fetch.sram.r_en)]
                with m.If(fetch.done):
                    m.next = "CHECK_CODE"
            with m.State("CHECK_CODE"):  # stage 2 of the checks: `check` registered
                m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(check != ErrorCode.NONE):
                    self._refuse(m, check, desc_addr)
                    m.d.sync += busy.eq(0)
                with m.Elif(is_mvm):
                    m.d.sync += [ct.eq(0), tile_macro.eq(desc.macro),
                                 last_read.eq((Const(1, len(read) + 1) << desc.reads_log2) - 1),
                                 last_plane.eq(Mux(desc.spikes, SPIKE_PLANES, INPUT_BITS) - 1),
                                 out_shift.eq(desc.gain_shift - desc.reads_log2),
                                 spike_bad.eq(0), word.eq(0), in_base.eq(src + (R >> wb_log))]
                    m.next = "M_TILE"
                    with m.If(desc.spikes & (desc.n_rows > R)):
                        m.next = "S_SCAN"
                with m.Else():
                    m.d.sync += [row.eq(0), col.eq(0), cell.eq(0), self.failed.eq(0)]
                    m.next = "P_TARGET"

            # ---------------- PROGRAM ----------------
            with m.State("P_TARGET"):
                m.d.comb += [sram.addr.eq(src + (cell >> wb_log)), sram.r_en.eq(1)]
                m.next = "P_TARGET_DATA"
            with m.State("P_TARGET_DATA"):
                m.d.sync += [target.eq(sram.r_data.word_select(cell[:wb_log], 8) if wb_log
                                       else sram.r_data[:8]),
                             pulses.eq(0), has_last.eq(0)]
                m.next = "P_VERIFY"
            with m.State("P_VERIFY"):
                m.d.comb += [req.valid.eq(1), req.p.op.eq(MacroOp.VERIFY)]
                with m.If(req.ready):
                    m.d.sync += self.perf_verify.eq(self.perf_verify + 1)
                    m.next = "P_VERIFY_WAIT"
            with m.State("P_VERIFY_WAIT"):
                with m.If(resp.valid):
                    m.d.sync += code.eq(resp.p.verify_code)
                    m.next = "P_DECIDE"
            with m.State("P_DECIDE"):
                with m.If(abs_error <= desc.tolerance):
                    m.d.sync += result.eq(pulses)
                    m.next = "P_WRITE"
                with m.Elif(pulses == desc.max_pulses):
                    m.d.sync += [result.eq(pulses | NOT_CONVERGED_FLAG),
                                 self.failed.eq(self.failed + 1)]
                    m.next = "P_WRITE"
                with m.Else():
                    m.next = "P_PULSE"
            with m.State("P_PULSE"):
                polarity = Signal(Polarity)
                m.d.comb += polarity.eq(Mux(error < 0, Polarity.SET, Polarity.RESET))
                ramp = has_last & (last_polarity == polarity)
                amplitude = Mux(ramp, Mux(amp == 15, 15, amp + 1), desc.amplitude)
                m.d.comb += [req.valid.eq(1), req.p.op.eq(MacroOp.PULSE),
                             req.p.polarity.eq(polarity), req.p.amplitude.eq(amplitude)]
                with m.If(req.ready):
                    m.d.sync += [pulses.eq(pulses + 1), self.perf_pulses.eq(self.perf_pulses + 1),
                                 amp.eq(amplitude), last_polarity.eq(polarity), has_last.eq(1)]
                    m.next = "P_PULSE_WAIT"
            with m.State("P_PULSE_WAIT"):
                with m.If(resp.valid):
                    m.next = "P_VERIFY"
            with m.State("P_WRITE"):
                lane = cell[:wb_log] if wb_log else 0
                m.d.comb += [sram.addr.eq(desc.dst + (cell >> wb_log)),
                             sram.w_en.eq(Const(1, WB) << lane),
                             sram.w_data.eq(result.replicate(WB))]
                m.d.sync += cell.eq(cell + 1)
                with m.If(col + 1 == desc.n_cols):
                    m.d.sync += [col.eq(0), row.eq(row + 1)]
                    with m.If(row + 1 == desc.n_rows):
                        m.d.sync += [busy.eq(0), self.done.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "P_TARGET"
                with m.Else():
                    m.d.sync += col.eq(col + 1)
                    m.next = "P_TARGET"

            # ---------------- MVM ----------------
            with m.State("S_SCAN"):  # spike mode: the inputs beyond the first row tile
                # pipelined like M_LOAD: issue word k while checking word k-1
                with m.If(word < scan_words):
                    m.d.comb += [sram.addr.eq(in_base + word), sram.r_en.eq(1)]
                with m.If(word != 0):
                    m.d.comb += x_left.eq(scan_rows - ((word - 1) << wb_log))
                    m.d.sync += spike_bad.eq(spike_bad | x_bad)
                m.d.sync += word.eq(word + 1)
                with m.If(word == scan_words):
                    m.next = "M_TILE"
            with m.State("M_TILE"):
                m.d.sync += [acc.eq(0), rt.eq(0), word.eq(0), inputs.eq(0), negative.eq(0),
                             rows_left.eq(desc.n_rows), in_base.eq(src)]
                m.next = "M_LOAD"
            with m.State("M_LOAD"):
                # pipelined: issue word k while capturing word k-1
                with m.If(word < in_words):
                    m.d.comb += [sram.addr.eq(in_base + word), sram.r_en.eq(1)]
                with m.If(word != 0):
                    lane = (word - 1)[:max(1, r_log - wb_log)]
                    xs = [sram.r_data.word_select(i, 8) for i in range(WB)]
                    m.d.comb += x_left.eq(rows_in_tile - ((word - 1) << wb_log))
                    m.d.sync += [
                        inputs.word_select(lane, p.sram_width).eq(
                            Cat(Mux(x[7], -x, x)[:8] for x in xs)),  # |-128| = 0x80
                        negative.word_select(lane, WB).eq(Cat(x[7] for x in xs)),
                        spike_bad.eq(spike_bad | x_bad),
                    ]
                m.d.sync += word.eq(word + 1)
                with m.If(word == in_words):
                    m.d.sync += [plane.eq(0), read.eq(0)]
                    m.next = "M_CONVERT"
                    # spike mode: every input has been seen by the end of the first load
                    with m.If(desc.spikes & (ct == 0) & (rt == 0) & (spike_bad | x_bad)):
                        self._refuse(m, ErrorCode.XBAR_SPIKE_INPUT, desc_addr)
                        m.d.sync += busy.eq(0)
            with m.State("M_CONVERT"):
                m.d.comb += [req.valid.eq(1), req.p.op.eq(MacroOp.MVM), req.p.macro.eq(tile_macro),
                             req.p.col.eq(desc.col0), req.p.n_cols.eq(cols_in_tile),
                             req.p.gain_shift.eq(desc.gain_shift), req.p.drive.eq(drive),
                             req.p.negate.eq(negate)]
                with m.If(req.ready):
                    m.d.sync += [self.perf_mvm.eq(self.perf_mvm + 1),
                                 self.perf_adc.eq(self.perf_adc + cols_in_tile)]
                    m.next = "M_WAIT"
            with m.State("M_WAIT"):
                with m.If(resp.valid):
                    for j in range(C):
                        a = acc.word_select(j, ACC_BITS)
                        code_j = resp.p.adc.word_select(j, p.adc_bits).as_signed()
                        term = code_j << plane
                        m.d.sync += a.eq(a + term)
                    with m.If(read != last_read):  # the same plane again (M_LOAD zeroes read)
                        m.d.sync += read.eq(read + 1)
                        m.next = "M_CONVERT"
                    with m.Elif(plane == last_plane):
                        with m.If(rt + 1 == n_rt):
                            m.d.sync += word.eq(0)
                            m.next = "M_WRITE"
                            with m.If(self.stream_p):
                                m.next = "M_STREAM"
                        with m.Else():
                            m.d.sync += [rt.eq(rt + 1), tile_macro.eq(tile_macro + n_ct),
                                         word.eq(0), inputs.eq(0), negative.eq(0),
                                         rows_left.eq(rows_left - R),
                                         in_base.eq(src + (((rt + 1) << r_log) >> wb_log))]
                            m.next = "M_LOAD"
                    with m.Else():
                        m.d.sync += [read.eq(0), plane.eq(plane + 1)]
                        m.next = "M_CONVERT"
            with m.State("M_WRITE"):
                base = desc.dst + ((ct << c_log) >> (wb_log - 2))
                bytes_left = Signal(signed(16))  # of the tile's results, from this word on
                m.d.comb += bytes_left.eq((cols_in_tile << 2) - (word << wb_log))
                m.d.comb += [sram.addr.eq(base + word),
                             sram.w_data.eq(Cat(scaled(leaving.word_select(i, ACC_BITS))
                                                for i in range(per_word))),
                             sram.w_en.eq(Mux(bytes_left >= WB, (1 << WB) - 1,
                                              (Const(1, WB + 1)
                                               << bytes_left.as_unsigned()[:wb_log + 1]) - 1))]
                m.d.sync += [word.eq(word + 1), acc.eq(acc >> (per_word * ACC_BITS))]
                with m.If(word + 1 == out_words):
                    self._next_column_tile(m, ct, n_ct, tile_macro, desc, busy)

            with m.State("M_STREAM"):  # one result a cycle while `p` takes them
                m.d.comb += [self.p.valid.eq(1),
                             self.p.p.eq(scaled(leaving.word_select(0, ACC_BITS)))]
                with m.If(self.p.ready):
                    m.d.sync += [word.eq(word + 1), acc.eq(acc >> ACC_BITS)]
                    with m.If(word + 1 == cols_in_tile):
                        self._next_column_tile(m, ct, n_ct, tile_macro, desc, busy)

        # A START while busy is ignored and reported (if the running command is refused
        # in the very same cycle, ERR_CODE shows XBAR_BUSY; XB_STATUS.ERROR still tells).
        with m.If(self.start & busy):
            m.d.comb += [self.error.valid.eq(1), self.error.code.eq(ErrorCode.XBAR_BUSY),
                         self.error.addr.eq(self.desc_addr)]

        with m.If(self.clear_perf):
            m.d.sync += [getattr(self, name).eq(0) for name in PERF]
        return m

    def _next_column_tile(self, m, ct, n_ct, tile_macro, desc, busy):
        with m.If(ct + 1 == n_ct):
            m.d.sync += [busy.eq(0), self.done.eq(1)]
            m.next = "IDLE"
        with m.Else():
            m.d.sync += [ct.eq(ct + 1), tile_macro.eq(desc.macro + ct + 1)]
            m.next = "M_TILE"

    def _refuse(self, m, code, addr):
        m.d.comb += [self.error.valid.eq(1), self.error.code.eq(code), self.error.addr.eq(addr)]
        m.d.sync += [self.refused.eq(1), self.done.eq(0)]
        m.next = "IDLE"
