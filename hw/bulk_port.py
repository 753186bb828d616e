"""Bulk port: an AXI4 subordinate that bursts straight into the SRAM buffer.

One beat is one SRAM word (the data width is the build's `sram_width`), and its
WSTRB are the SRAM's byte enables. Each burst is checked whole in its address
handshake (`rmlora.contract.bulk_port.bulk_refusal`: INCR only, full size,
word-aligned, inside one 4 KiB page and the SRAM). A refused write burst takes
and drops all its W beats and answers one error B; a refused read burst answers
arlen+1 error beats with zero data and RLAST on the last. Each refusal is reported
once, in the address handshake, on `write_error` or `read_error`.

One burst per direction at a time, its ID echoed. Writes and reads run side by
side and share the SRAM request port (`sram`), alternating when both want it; the
port waits while the arbiter gives the cycle to the bus window (`granted` low).

Throughput with a manager that keeps up: one beat per cycle both ways. Read
latency: AR handshake to first R beat 2 cycles (issue, then the SRAM's one-cycle
read). The read beats pass through a 3-entry FIFO, filled only while it has room
for every read in flight, so RREADY backpressure never loses a word and the RREADY
input reaches no SRAM signal combinationally.
"""

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from rmlora.contract import AxiResp, ChipParams, ErrorCode
from rmlora.contract.bulk_port import (
    AXI_BOUNDARY_BYTES,
    BULK_ADDR_WIDTH,
    BULK_ID_WIDTH,
    AxiBurst,
    bulk_beat_bytes,
)

from .axi4 import Axi4Signature
from .decoder import ErrorEventSignature
from .sram_arbiter import SramRequestSignature

__all__ = ["BulkPort", "bulk_axi_signature"]

BULK_CODES = tuple(c for c in ErrorCode if c.name.startswith("BULK_"))
READ_FIFO_DEPTH = 3  # one beat draining, one landing from the SRAM, one issued


class ReadBeat(data.Struct):
    rid: unsigned(BULK_ID_WIDTH)
    resp: AxiResp
    last: unsigned(1)
    from_sram: unsigned(1)  # 0: a refused burst's beat, whose data is zero


def bulk_axi_signature(params: ChipParams):
    """The bulk port's AXI4 bus, seen from the manager: one beat is one SRAM word."""
    return Axi4Signature(BULK_ADDR_WIDTH, params.sram_width, BULK_ID_WIDTH)


def response(code):
    """The AXI response that goes with a (latched) ErrorCode: ErrorCode.axi_resp as logic."""
    resp = AxiResp.OKAY
    for c in BULK_CODES:
        resp = Mux(code == c, c.axi_resp, resp)
    return resp


class BulkPort(wiring.Component):
    def __init__(self, params: ChipParams):
        self.params = p = params
        super().__init__({
            "axi": In(bulk_axi_signature(p)),
            "sram": Out(SramRequestSignature(p.sram_addr_width, p.sram_width)),
            "write_error": Out(ErrorEventSignature),
            "read_error": Out(ErrorEventSignature),
        })

    def refusal(self, m: Module, addr, length, size, burst) -> Signal:
        """The burst's ErrorCode (NONE if taken), in bulk_refusal's order."""
        p = self.params
        beat = bulk_beat_bytes(p)
        shift = beat.bit_length() - 1
        span = (length + 1) << shift  # bytes of the whole burst
        code = Signal(ErrorCode)
        with m.If(burst != AxiBurst.INCR):
            m.d.comb += code.eq(ErrorCode.BULK_BURST_TYPE)
        with m.Elif(size != shift):
            m.d.comb += code.eq(ErrorCode.BULK_NARROW)
        with m.Elif(addr[:shift] != 0):
            m.d.comb += code.eq(ErrorCode.BULK_MISALIGNED)
        with m.Elif(addr[:12] + span > AXI_BOUNDARY_BYTES):
            m.d.comb += code.eq(ErrorCode.BULK_4K_CROSSING)
        with m.Elif(addr + span > p.sram_bytes):
            m.d.comb += code.eq(ErrorCode.BULK_RANGE)
        return code

    def elaborate(self, platform):
        m = Module()
        p, axi, sram = self.params, self.axi, self.sram
        shift = bulk_beat_bytes(p).bit_length() - 1

        # --- write burst: address phase, beats, response
        w_id = Signal(BULK_ID_WIDTH)
        w_word = Signal(p.sram_addr_width)
        w_left = Signal(8)  # beats after the current one
        w_code = Signal(ErrorCode)
        w_wants = Signal()  # a beat to write is waiting for the SRAM
        aw_code = self.refusal(m, axi.awaddr, axi.awlen, axi.awsize, axi.awburst)
        w_take = Signal()  # a W beat is taken this cycle

        m.d.comb += [axi.bid.eq(w_id), axi.bresp.eq(response(w_code))]
        with m.FSM(name="write"):
            with m.State("ADDR"):
                m.d.comb += axi.awready.eq(1)
                with m.If(axi.awvalid):
                    m.d.sync += [w_id.eq(axi.awid), w_word.eq(axi.awaddr[shift:]),
                                 w_left.eq(axi.awlen), w_code.eq(aw_code)]
                    m.d.comb += [self.write_error.valid.eq(aw_code != ErrorCode.NONE),
                                 self.write_error.code.eq(aw_code),
                                 self.write_error.addr.eq(axi.awaddr)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(w_code == ErrorCode.NONE):
                    m.d.comb += w_wants.eq(axi.wvalid)
                with m.Else():
                    m.d.comb += w_take.eq(axi.wvalid)  # dropped
                with m.If(w_take):
                    m.d.sync += [w_word.eq(w_word + 1), w_left.eq(w_left - 1)]
                    with m.If(w_left == 0):
                        m.next = "RESP"
            with m.State("RESP"):
                m.d.comb += axi.bvalid.eq(1)
                with m.If(axi.bready):
                    m.next = "ADDR"
        m.d.comb += axi.wready.eq(w_take)

        # --- read burst: address phase, then one beat issued per cycle while the FIFO
        # has room; each beat reaches the FIFO the cycle after it is issued
        r_id = Signal(BULK_ID_WIDTH)
        r_word = Signal(p.sram_addr_width)
        r_left = Signal(8)
        r_code = Signal(ErrorCode)
        r_active = Signal()  # beats of the burst remain to be issued
        r_wants = Signal()  # a beat to read is waiting for the SRAM
        r_issue = Signal()
        ar_code = self.refusal(m, axi.araddr, axi.arlen, axi.arsize, axi.arburst)
        beat_bits = data.Layout.cast(ReadBeat).size
        m.submodules.fifo = fifo = SyncFIFO(width=p.sram_width + beat_bits,
                                            depth=READ_FIFO_DEPTH)
        landing = Signal(ReadBeat)  # the beat issued last cycle
        landing_valid = Signal()
        room = fifo.level + landing_valid < READ_FIFO_DEPTH

        m.d.comb += axi.arready.eq(~r_active)
        with m.If(axi.arvalid & ~r_active):
            m.d.sync += [r_id.eq(axi.arid), r_word.eq(axi.araddr[shift:]),
                         r_left.eq(axi.arlen), r_code.eq(ar_code), r_active.eq(1)]
            m.d.comb += [self.read_error.valid.eq(ar_code != ErrorCode.NONE),
                         self.read_error.code.eq(ar_code),
                         self.read_error.addr.eq(axi.araddr)]
        with m.If(r_active & room):
            with m.If(r_code == ErrorCode.NONE):
                m.d.comb += r_wants.eq(1)
            with m.Else():
                m.d.comb += r_issue.eq(1)
        with m.If(r_issue):
            m.d.sync += [r_word.eq(r_word + 1), r_left.eq(r_left - 1)]
            with m.If(r_left == 0):
                m.d.sync += r_active.eq(0)
        m.d.sync += [
            landing_valid.eq(r_issue),
            landing.rid.eq(r_id), landing.resp.eq(response(r_code)),
            landing.last.eq(r_left == 0), landing.from_sram.eq(r_code == ErrorCode.NONE),
        ]
        word = Mux(landing.from_sram, sram.r_data, 0)
        m.d.comb += [fifo.w_en.eq(landing_valid),
                     fifo.w_data.eq(word | landing.as_value() << p.sram_width)]
        out = ReadBeat(fifo.r_data[p.sram_width:])
        m.d.comb += [
            axi.rvalid.eq(fifo.r_rdy), fifo.r_en.eq(axi.rready),
            axi.rdata.eq(fifo.r_data[:p.sram_width]), axi.rid.eq(out.rid),
            axi.rresp.eq(out.resp), axi.rlast.eq(out.last),
        ]

        # --- the one SRAM request port: reads and writes take turns when both wait
        read_turn = Signal()
        pick_read = r_wants & (~w_wants | read_turn)
        m.d.comb += [
            sram.addr.eq(Mux(pick_read, r_word, w_word)),
            sram.r_en.eq(pick_read),
            sram.w_en.eq(Mux(w_wants & ~pick_read, axi.wstrb, 0)),
            sram.w_data.eq(axi.wdata),
        ]
        with m.If(sram.granted):
            with m.If(pick_read):
                m.d.comb += r_issue.eq(1)
            with m.Elif(w_wants):
                m.d.comb += w_take.eq(1)
            with m.If(r_wants & w_wants):
                m.d.sync += read_turn.eq(~pick_read)
        return m
