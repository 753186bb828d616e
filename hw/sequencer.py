"""Sequencer: runs a layer program (rmlora.contract.sequencer) on the crossbar
controller and the LoRA unit, and owns the SRAM core port they share.

Per SeqLayer record: fetch the record, the crossbar descriptor and the LoRA
descriptor's head (one DescriptorFetch, back to back); check them; then for
each of the record's vectors (a layer pass) run the MVM with its results streamed
into the p FIFO, keeping each x word the crossbar controller reads (an x buffer:
the LoRA unit's x is not read from the SRAM a second time); run the LoRA unit,
feeding it x from that buffer while it takes x, and p from the FIFO, packing its
y into the y FIFO; write y back to the vector's dst; after the last vector write
the record's SeqStats record (the whole pass). The FIFOs hold a whole layer
(LORA_MAX_FEATURES entries), so the units never wait on each other and the cycle
count is exact (rmlora.contract.timing names the phases,
rmlora.sw.golden.chip.record_cycles sums them).

A layer of LIF neurons (act = LIF, rmlora.contract.neuron; issue 21): CHECK starts
the fetch of its NeuronLayer descriptor (FETCH_ND) and CHECK_ND checks its membranes
and counts (in the SRAM, apart from each other and from the pass's outputs) before
the first MVM. Its write-back, per y word of P currents: read the word's membranes
(LIF_READ_MEM, and LIF_READ_MEM_HI when the word's neurons take two words of int16)
and counts (LIF_READ_COUNT), none of them at the pass's first vector (a new
sequence); give the neuron block (hw/neuron.py, three registered stages) the first P/2
neurons, a membrane word's (LIF_UPDATE), then the other P/2 (LIF_UPDATE_HI), and wait
a cycle for the first half's results (LIF_UPDATE_WAIT); write the first half's
membranes as the second half leaves the block (LIF_WRITE_MEM), then those
(LIF_WRITE_MEM_HI), the spikes where y would go (LIF_WRITE_SPIKES) and the counts
(LIF_WRITE_COUNT): a SRAM word a cycle and three cycles a word more, to update. A block of
P/2 lanes, not P: the second half's update hides under the first's write, and the
lanes' multipliers and shifters are half the gates.

A refusal by either unit (its own ErrorCode, logged by the unit) or by the
sequencer's checks (SEQ_*) stops the program: never a hang. When idle, the
crossbar controller belongs to the host (XB_CTRL); a host START of it while a
program runs is refused with SEQ_BUSY.
"""

from amaranth import Cat, Const, Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.lora import LORA_DESC_BITS, LORA_MAX_FEATURES, Activation, LoraLayer
from rmlora.contract.neuron import MEM_BITS, NEURON_DESC_BITS, NeuronLayer
from rmlora.contract.sequencer import SEQ_RECORD_BITS, SEQ_STATS_BITS, SeqLayer, SeqStats
from rmlora.contract.timing import lora_desc_head_words
from rmlora.contract.xbar import ACC_BITS, XBAR_DESC_BITS, XbarDescriptor, XbarOp

from .decoder import ErrorEventSignature
from .descriptor_fetch import DescriptorFetch
from .neuron import LifUpdate
from .sram_buffer import SramPortSignature
from .unit import UnitSignature

__all__ = ["Sequencer"]


class Sequencer(wiring.Component):
    def __init__(self, params: ChipParams = ChipParams()):
        self.params = p = params
        port = SramPortSignature(p.sram_addr_width, p.sram_width)
        super().__init__({
            "start": In(1),
            "prog_addr": In(16),
            "irq_ack": In(1),
            "busy": Out(1),
            "done": Out(1),
            "failed": Out(1),
            "irq": Out(1),
            "layer": Out(16),
            "perf_cycles": Out(32),
            "clear_perf": Out(1),  # START zeroes every PERF_* counter: they count one run
            "host_clear_perf": In(1),  # CTRL.CLEAR_PERF: zero perf_cycles too
            "error": Out(ErrorEventSignature),
            # the SRAM core port, and the units' ports it serves
            "sram": Out(port),
            "xbar_sram": In(port),
            "lora_sram": In(port),
            # crossbar controller: the host drives it while no program runs
            "host_xbar_start": In(1),
            "host_xbar_desc": In(16),
            "xbar": In(UnitSignature()),  # flipped: the sequencer starts the unit
            "xbar_stream_p": Out(1),
            "xbar_reuse": Out(1),  # the next vector of a pass: the descriptor stays
            "xbar_src_offset": Out(16),
            "xbar_p": In(stream.Signature(signed(ACC_BITS))),
            "xbar_adc": In(32),
            "xbar_mvm": In(32),
            # LoRA unit
            "lora": In(UnitSignature()),
            "lora_x": Out(stream.Signature(unsigned(p.sram_width))),
            "lora_p": Out(stream.Signature(signed(ACC_BITS))),
            "lora_y": In(stream.Signature(signed(8))),
            "lora_macs": In(32),
            "lora_cache": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        P = p.sram_word_bytes
        wb_log = (P - 1).bit_length()
        rec_w, xd_w = p.words_for(SEQ_RECORD_BITS), p.words_for(XBAR_DESC_BITS)
        stats_w, nd_w = p.words_for(SEQ_STATS_BITS), p.words_for(NEURON_DESC_BITS)
        head_w = lora_desc_head_words(p)

        def words(n):  # ceil(n / P)
            return (n + P - 1) >> wb_log

        # ---- the fetched record and descriptors ----
        rec_raw = Signal(rec_w * p.sram_width)
        rec = data.View(SeqLayer, rec_raw[:data.Layout.cast(SeqLayer).size])
        xd_raw = Signal(xd_w * p.sram_width)
        xd = data.View(XbarDescriptor, xd_raw[:data.Layout.cast(XbarDescriptor).size])
        ld_raw = Signal(head_w * p.sram_width)
        ld_bits = data.Layout.cast(LoraLayer)

        def ld_field(name):
            return ld_raw[ld_bits[name].offset:][:ld_bits[name].width]
        n_in, n_out, lut = ld_field("n_in"), ld_field("n_out"), ld_field("lut")
        lif = Signal()  # a layer of LIF neurons: lut is its NeuronLayer descriptor
        m.d.comb += lif.eq(ld_field("act") == Activation.LIF.value)
        nd_raw = Signal(nd_w * p.sram_width)
        nd = data.View(NeuronLayer, nd_raw[:data.Layout.cast(NeuronLayer).size])
        rec_addr = Signal(16)

        # the pass's last vector: its input and output words. Registered every cycle
        # (issue 25: with the range compares behind them, these products were the
        # sequencer's longest path on an ECP5): the record and the crossbar descriptor
        # are stored before FETCH_LD, which takes 2 cycles, so they are current in CHECK.
        last_src, last_dst = Signal(33), Signal(33)
        m.d.sync += [last_src.eq(xd.src + (rec.vectors - 1) * rec.src_stride),
                     last_dst.eq(rec.dst + (rec.vectors - 1) * rec.dst_stride)]
        # `base + ceil(n / P) > depth` as `base * P + n > depth * P`: the same for integers,
        # without the rounding adder
        sram_bytes = p.sram_depth << wb_log
        check = Signal(ErrorCode)
        with m.If(~(xd.op == XbarOp.MVM) | (xd.n_rows != n_in) | (xd.n_cols != n_out)):
            m.d.comb += check.eq(ErrorCode.SEQ_SHAPE)
        with m.Elif(rec.vectors == 0):
            m.d.comb += check.eq(ErrorCode.SEQ_VECTORS)
        with m.Elif(((last_dst << wb_log) + n_out > sram_bytes)
                    | ((last_src << wb_log) + n_in > sram_bytes)
                    | ((rec.stats != 0) & (rec.stats + stats_w > p.sram_depth))
                    | (lif & (lut + nd_w > p.sram_depth))):
            m.d.comb += check.eq(ErrorCode.SEQ_SRAM_RANGE)
        # the layer pass: the vector running and its input and output offsets (words)
        vector, src_off, dst_off = Signal(16), Signal(16), Signal(16)

        # ---- FIFOs between the units, emptied at each layer's start ----
        flush = Signal()
        m.submodules.p_fifo = p_fifo = ResetInserter(flush)(
            SyncFIFOBuffered(width=ACC_BITS, depth=LORA_MAX_FEATURES))
        m.submodules.y_fifo = y_fifo = ResetInserter(flush)(
            SyncFIFOBuffered(width=p.sram_width, depth=LORA_MAX_FEATURES // P))
        m.d.comb += [
            p_fifo.w_data.eq(self.xbar_p.p), p_fifo.w_en.eq(self.xbar_p.valid),
            self.xbar_p.ready.eq(p_fifo.w_rdy),
            self.lora_p.p.eq(p_fifo.r_data), self.lora_p.valid.eq(p_fifo.r_rdy),
            p_fifo.r_en.eq(self.lora_p.ready),
        ]
        # y packer: P outputs a word; the last word of a layer may be partial
        y_word, y_count = Signal(p.sram_width), Signal(10)
        y_lane = y_count[:wb_log] if wb_log else Const(0, 1)
        packed = Signal(p.sram_width)
        m.d.comb += [packed.eq(y_word), packed.word_select(y_lane, 8).eq(self.lora_y.p),
                     self.lora_y.ready.eq(y_fifo.w_rdy), y_fifo.w_data.eq(packed)]
        with m.If(self.lora_y.valid & self.lora_y.ready):
            push = (y_lane == P - 1) | (y_count + 1 == n_out)
            m.d.comb += y_fifo.w_en.eq(push)
            m.d.sync += [y_word.eq(Mux(push, 0, packed)), y_count.eq(y_count + 1)]

        # ---- the SRAM core port: the sequencer's own accesses, else the owning unit ----
        own = Signal()  # the sequencer drives the port this cycle
        to_lora = Signal()  # the LoRA unit owns the port (else the crossbar controller)
        seq_port = {name: Signal.like(getattr(self.sram, name), name=f"seq_{name}")
                    for name in ("addr", "r_en", "w_en", "w_data")}
        for name, mine in seq_port.items():
            m.d.comb += getattr(self.sram, name).eq(
                Mux(own, mine, Mux(to_lora, getattr(self.lora_sram, name),
                                   getattr(self.xbar_sram, name))))
        m.d.comb += [self.xbar_sram.r_data.eq(self.sram.r_data),
                     self.lora_sram.r_data.eq(self.sram.r_data)]

        def read(addr):
            m.d.comb += [own.eq(1), seq_port["addr"].eq(addr), seq_port["r_en"].eq(1)]

        def write(addr, word, enables=(1 << P) - 1):
            m.d.comb += [own.eq(1), seq_port["addr"].eq(addr), seq_port["w_en"].eq(enables),
                         seq_port["w_data"].eq(word)]

        # ---- the x feeder: reads x words while the LoRA unit waits for them ----
        # x as the crossbar controller read it (M_LOAD): a read of a word of x in the
        # XBAR state is kept, at its index, the cycle its word arrives
        x_words = LORA_MAX_FEATURES // P
        x_bits = (x_words - 1).bit_length()
        m.submodules.x_buf = x_buf = Memory(shape=p.sram_width, depth=x_words, init=[])
        x_wr, x_rd = x_buf.write_port(), x_buf.read_port()
        in_xbar = Signal()  # the XBAR state: the crossbar controller owns the port
        # x's first word and length, registered every cycle (issue 25: behind the
        # controller's read address they made a long path). What they come from is set
        # by CHECK or in VECTOR; the controller's first read is 3 cycles or more later
        # (its CHECK_CODE, CHECK, M_TILE come first).
        x_base, x_len = Signal(17), Signal(16)
        m.d.sync += [x_base.eq(xd.src + src_off), x_len.eq(words(n_in))]
        # y's first word and length, likewise (WRITE_Y comes after the LoRA unit's run)
        y_base, y_len = Signal(17), Signal(16)
        m.d.sync += [y_base.eq(rec.dst + dst_off), y_len.eq(words(n_out))]

        # ---- a LIF layer's state: CHECK_ND's checks on the fetched NeuronLayer ----
        # n_out int16 membranes and n_out int8 counts in the SRAM (the byte form of the
        # range checks above), apart from each other and from the pass's outputs (the
        # span from the first vector's to the last's). The lengths are registered like
        # y_len: n_out is stored long before CHECK_ND.
        mem_len = Signal(16)
        m.d.sync += mem_len.eq(words(n_out << 1))
        spikes_end = Signal(34)
        m.d.comb += spikes_end.eq(last_dst + y_len)

        def apart(a0, a1, b0, b1):  # word ranges [a0, a1) and [b0, b1) do not overlap
            return (a1 <= b0) | (b1 <= a0)

        nd_check = Signal(ErrorCode)
        with m.If(((nd.mem << wb_log) + (n_out << 1) > sram_bytes)
                  | ((nd.count << wb_log) + n_out > sram_bytes)):
            m.d.comb += nd_check.eq(ErrorCode.SEQ_SRAM_RANGE)
        with m.Elif(~(apart(rec.dst, spikes_end, nd.mem, nd.mem + mem_len)
                      & apart(rec.dst, spikes_end, nd.count, nd.count + y_len)
                      & apart(nd.mem, nd.mem + mem_len, nd.count, nd.count + y_len))):
            m.d.comb += nd_check.eq(ErrorCode.SEQ_NEURON_OVERLAP)
        x_index = Signal(16)
        m.d.comb += x_index.eq(self.xbar_sram.addr - x_base)
        keep, keep_at = Signal(), Signal(x_bits)
        m.d.sync += [keep.eq(in_xbar & self.xbar_sram.r_en
                             & (self.xbar_sram.addr >= x_base)
                             & (x_index < x_len)), keep_at.eq(x_index[:x_bits])]
        m.d.comb += [x_wr.en.eq(keep), x_wr.addr.eq(keep_at), x_wr.data.eq(self.sram.r_data),
                     x_rd.en.eq(0)]  # a read port's enable is 1 unless driven
        f_k, f_valid = Signal(10), Signal()
        m.d.comb += [self.lora_x.valid.eq(f_valid), self.lora_x.p.eq(x_rd.data)]
        x_taken = self.lora_x.valid & self.lora_x.ready

        # ---- per-layer statistics: the counters' values when the layer began ----
        layer_cycles = Signal(32)
        snap_adc, snap_mvm, snap_macs = Signal(32), Signal(32), Signal(32)
        snap_sram, snap_cache, sram_count = Signal(32), Signal(32), Signal(32)
        with m.If(self.sram.r_en | self.sram.w_en.any()):  # core-port words, every block
            m.d.sync += sram_count.eq(sram_count + 1)
        stats = Signal(stats_w * p.sram_width)
        stats_view = data.View(SeqStats, stats[:data.Layout.cast(SeqStats).size])

        busy = Signal()
        m.d.comb += self.busy.eq(busy)
        with m.If(busy):
            m.d.sync += [self.perf_cycles.eq(self.perf_cycles + 1),
                         layer_cycles.eq(layer_cycles + 1)]
        with m.If(self.host_clear_perf):  # after the count: a clear wins
            m.d.sync += self.perf_cycles.eq(0)
        irq = Signal()
        m.d.comb += self.irq.eq(irq)
        with m.If(self.irq_ack):
            m.d.sync += irq.eq(0)

        # the crossbar controller: the host's while idle
        m.d.comb += [self.xbar.start.eq(Mux(busy, 0, self.host_xbar_start)),
                     self.xbar.desc_addr.eq(Mux(busy, rec.xbar, self.host_xbar_desc)),
                     self.xbar_stream_p.eq(busy), self.lora.desc_addr.eq(rec.lora)]

        # the write-back's word of y: its neurons (lanes) and their bytes' write enables
        word = Signal(16)
        last_word = Signal()
        lanes = Signal(range(P + 1))
        m.d.comb += [last_word.eq(word + 1 == y_len),
                     lanes.eq(Mux(last_word, (n_out - (word << wb_log))[:wb_log + 1], P))]

        def enables(n_bytes):  # the first n_bytes of a word
            return ((Const(1, P + 1) << n_bytes) - 1)[:P]

        # a LIF layer's write-back: the word's membranes take two SRAM words unless it is
        # the last and holds at most P/2 neurons; the neuron block updates a membrane
        # word's P/2 neurons at a time, the word's first half (`half` 0) in LIF_UPDATE,
        # its second in LIF_UPDATE_HI, where the count word is still on r_data (no access)
        assert MEM_BITS == 16, "a word of P neurons' int16 membranes is two SRAM words"
        m.submodules.lif_update = lif_update = LifUpdate(P // 2)
        two_mem, hi_bytes = Signal(), Signal(range(P + 1))
        m.d.comb += [two_mem.eq(lanes > P // 2), hi_bytes.eq((lanes << 1) - P)]
        mem_in = Signal(2 * p.sram_width)  # the word's membranes as read
        # `half` a register, set by the step into LIF_UPDATE_HI: not decoded from the state,
        # whose decode ahead of the membrane select and the multiply was the whole chip's
        # critical path (47.56 MHz) once the neuron block's add had its own stage
        half = Signal()
        m.d.sync += half.eq(0)
        spike_lo, count_lo = Signal(4 * P), Signal(4 * P)  # the first half's results
        mem_at, count_at = nd.mem + (word << 1), nd.count + word
        m.d.comb += [lif_update.first.eq(vector == 0), lif_update.desc.eq(nd),
                     lif_update.current.eq(y_fifo.r_data.word_select(half, 4 * P)),
                     lif_update.mem.eq(mem_in.word_select(half, p.sram_width)),
                     lif_update.count.eq(self.sram.r_data.word_select(half, 4 * P))]

        def error(code, addr):
            m.d.comb += [self.error.valid.eq(1), self.error.code.eq(code),
                         self.error.addr.eq(addr)]

        def stop():
            m.d.sync += [busy.eq(0), self.failed.eq(1), irq.eq(1)]
            m.next = "IDLE"

        m.submodules.fetcher = fetcher = DescriptorFetch(p, max(rec_w, xd_w))
        m.d.comb += fetcher.sram.r_data.eq(self.sram.r_data)

        def start_fetch(addr, n_words):
            m.d.comb += [fetcher.start.eq(1), fetcher.addr.eq(addr), fetcher.n_words.eq(n_words)]

        def fetch(state, n_words, raw, then: str, start_next=None):
            """Wait in `state` while the record's words arrive in `raw`; then go to `then`,
            starting the next fetch (addr, words) in the same cycle if given."""
            with m.State(state):
                with m.If(fetcher.sram.r_en):
                    read(fetcher.sram.addr)
                with m.If(fetcher.words.valid):
                    sel = fetcher.words.p.index[:max(1, (n_words - 1).bit_length())]
                    m.d.sync += raw.word_select(sel, p.sram_width).eq(fetcher.words.p.data)
                with m.If(fetcher.done):
                    if start_next is not None:
                        start_fetch(*start_next)
                    m.next = then

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    with m.If(self.prog_addr + rec_w > p.sram_depth):
                        error(ErrorCode.SEQ_SRAM_RANGE, self.prog_addr)
                        m.d.sync += [self.done.eq(0), self.failed.eq(1), irq.eq(1),
                                     self.layer.eq(0)]
                    with m.Else():
                        m.d.comb += self.clear_perf.eq(1)
                        m.d.sync += [busy.eq(1), self.done.eq(0), self.failed.eq(0), irq.eq(0),
                                     self.layer.eq(0), self.perf_cycles.eq(0),
                                     rec_addr.eq(self.prog_addr)]
                        m.next = "NEXT"
            with m.State("NEXT"):  # a record begins
                m.d.comb += flush.eq(1)
                start_fetch(rec_addr, rec_w)
                m.d.sync += [word.eq(0), layer_cycles.eq(1), snap_adc.eq(self.xbar_adc),
                             snap_mvm.eq(self.xbar_mvm), snap_macs.eq(self.lora_macs),
                             snap_sram.eq(sram_count), snap_cache.eq(self.lora_cache),
                             y_count.eq(0), y_word.eq(0), f_k.eq(0), f_valid.eq(0),
                             vector.eq(0), src_off.eq(0), dst_off.eq(0)]
                m.next = "FETCH_REC"
            fetch("FETCH_REC", rec_w, rec_raw, "CHECK_REC")
            with m.State("CHECK_REC"):
                with m.If((rec.xbar + xd_w > p.sram_depth)
                          | (rec.lora + p.words_for(LORA_DESC_BITS) > p.sram_depth)):
                    error(ErrorCode.SEQ_SRAM_RANGE, rec_addr)
                    stop()
                with m.Else():
                    start_fetch(rec.xbar, xd_w)
                    m.next = "FETCH_XD"
            fetch("FETCH_XD", xd_w, xd_raw, "FETCH_LD", start_next=(rec.lora, head_w))
            fetch("FETCH_LD", head_w, ld_raw, "CHECK")
            with m.State("CHECK"):
                with m.If(check != ErrorCode.NONE):
                    error(check, rec_addr)
                    stop()
                with m.Elif(lif):
                    start_fetch(lut, nd_w)
                    m.next = "FETCH_ND"
                with m.Else():
                    m.d.comb += self.xbar.start.eq(1)
                    m.next = "XBAR"
            fetch("FETCH_ND", nd_w, nd_raw, "CHECK_ND")
            with m.State("CHECK_ND"):
                with m.If(nd_check != ErrorCode.NONE):
                    error(nd_check, rec_addr)
                    stop()
                with m.Else():
                    m.d.comb += self.xbar.start.eq(1)
                    m.next = "XBAR"
            with m.State("XBAR"):
                m.d.comb += in_xbar.eq(1)
                with m.If(~self.xbar.busy & self.xbar.refused):
                    stop()
                with m.Elif(~self.xbar.busy & self.xbar.done):
                    m.d.comb += self.lora.start.eq(1)
                    m.next = "LORA"
            with m.State("LORA"):
                m.d.comb += to_lora.eq(1)
                issue = self.lora_x.ready & (f_k < x_len) & (~f_valid | x_taken)
                with m.If(issue):
                    m.d.comb += [x_rd.en.eq(1), x_rd.addr.eq(f_k[:x_bits])]
                    m.d.sync += f_k.eq(f_k + 1)
                with m.If(issue | x_taken):
                    m.d.sync += f_valid.eq(issue)
                with m.If(~self.lora.busy & self.lora.refused):
                    stop()
                with m.Elif(~self.lora.busy & self.lora.done):  # done: every y has left
                    with m.If(~lif):
                        m.next = "WRITE_Y"
                    with m.Elif(vector == 0):  # a new sequence: no state to read
                        m.next = "LIF_UPDATE"
                    with m.Else():
                        m.next = "LIF_READ_MEM"

            def vector_written():
                """The vector's last word is written in this cycle: the pass's next vector,
                or the record's statistics."""
                m.d.sync += word.eq(0)
                with m.If(vector + 1 != rec.vectors):
                    m.next = "VECTOR"
                with m.Else():
                    m.d.sync += [
                        stats_view.cycles.eq(layer_cycles),
                        stats_view.adc.eq(self.xbar_adc - snap_adc),
                        stats_view.mvm.eq(self.xbar_mvm - snap_mvm),
                        stats_view.macs.eq(self.lora_macs - snap_macs),
                        stats_view.sram.eq(sram_count + 1 - snap_sram),  # + 1: this write
                        stats_view.cache.eq(self.lora_cache - snap_cache),
                    ]
                    m.next = "STATS"
                    with m.If(rec.stats == 0):
                        m.next = "END"

            with m.State("WRITE_Y"):  # y words from the FIFO to dst, one a cycle
                with m.If(y_fifo.r_rdy):
                    write(y_base + word, y_fifo.r_data, enables(lanes))
                    m.d.comb += y_fifo.r_en.eq(1)
                    m.d.sync += word.eq(word + 1)
                    with m.If(last_word):
                        vector_written()
            # a LIF layer's write-back of the word: read its state (not at vector 0)...
            with m.State("LIF_READ_MEM"):
                read(mem_at)
                m.next = "LIF_READ_COUNT"
                with m.If(two_mem):
                    m.next = "LIF_READ_MEM_HI"
            with m.State("LIF_READ_MEM_HI"):
                read(mem_at + 1)
                m.d.sync += mem_in[:p.sram_width].eq(self.sram.r_data)
                m.next = "LIF_READ_COUNT"
            with m.State("LIF_READ_COUNT"):
                read(count_at)
                m.d.sync += mem_in.word_select(two_mem, p.sram_width).eq(self.sram.r_data)
                m.next = "LIF_UPDATE"
            with m.State("LIF_UPDATE"):  # ... update it with y's word (the count arrives)...
                with m.If(y_fifo.r_rdy):
                    m.d.comb += lif_update.en.eq(1)
                    m.d.sync += half.eq(1)
                    m.next = "LIF_UPDATE_HI"
            with m.State("LIF_UPDATE_HI"):  # ... its second half (the first in S next)...
                m.d.comb += lif_update.en.eq(1)
                m.next = "LIF_UPDATE_WAIT"
            with m.State("LIF_UPDATE_WAIT"):  # ... (the first half in R, the second in S)
                m.next = "LIF_WRITE_MEM"
            with m.State("LIF_WRITE_MEM"):  # ... and write membranes, spikes and counts
                write(mem_at, lif_update.mem_next,
                      enables(Mux(two_mem, P, lanes << 1)))
                m.d.comb += y_fifo.r_en.eq(1)
                m.d.sync += [spike_lo.eq(lif_update.spike),
                             count_lo.eq(lif_update.count_next)]
                m.next = "LIF_WRITE_SPIKES"
                with m.If(two_mem):
                    m.next = "LIF_WRITE_MEM_HI"
            with m.State("LIF_WRITE_MEM_HI"):
                write(mem_at + 1, lif_update.mem_next, enables(hi_bytes))
                m.next = "LIF_WRITE_SPIKES"
            with m.State("LIF_WRITE_SPIKES"):
                write(y_base + word, Cat(spike_lo, lif_update.spike), enables(lanes))
                m.next = "LIF_WRITE_COUNT"
            with m.State("LIF_WRITE_COUNT"):
                write(count_at, Cat(count_lo, lif_update.count_next), enables(lanes))
                m.d.sync += word.eq(word + 1)
                with m.If(last_word):
                    vector_written()
                with m.Elif(vector == 0):
                    m.next = "LIF_UPDATE"
                with m.Else():
                    m.next = "LIF_READ_MEM"
            with m.State("VECTOR"):  # the pass's next vector: the descriptors stay
                m.d.comb += [flush.eq(1), self.xbar.start.eq(1), self.xbar_reuse.eq(1),
                             self.xbar_src_offset.eq(src_off + rec.src_stride)]
                m.d.sync += [vector.eq(vector + 1), src_off.eq(src_off + rec.src_stride),
                             dst_off.eq(dst_off + rec.dst_stride), y_count.eq(0),
                             y_word.eq(0), f_k.eq(0), f_valid.eq(0)]
                m.next = "XBAR"
            with m.State("STATS"):
                write(rec.stats + word, stats.word_select(word[:max(1, (stats_w - 1)
                                                                     .bit_length())],
                                                          p.sram_width))
                m.d.sync += word.eq(word + 1)
                with m.If(word + 1 == stats_w):
                    m.next = "END"
            with m.State("END"):
                m.d.sync += self.layer.eq(self.layer + 1)
                with m.If(rec.last):
                    m.d.sync += [busy.eq(0), self.done.eq(1), irq.eq(1)]
                    m.next = "IDLE"
                with m.Elif(rec_addr + 2 * rec_w > p.sram_depth):
                    error(ErrorCode.SEQ_SRAM_RANGE, rec_addr + rec_w)
                    stop()
                with m.Else():
                    m.d.sync += rec_addr.eq(rec_addr + rec_w)
                    m.next = "NEXT"

        with m.If(busy & self.start):
            error(ErrorCode.SEQ_BUSY, self.prog_addr)
        with m.If(busy & self.host_xbar_start):
            error(ErrorCode.SEQ_BUSY, self.host_xbar_desc)
        return m
