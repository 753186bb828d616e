"""A driver that talks to the chip only through read32/write32 on the control port, as
the C firmware does: inputs and outputs through the SRAM window, the layer program
started through SEQ_PROG/SEQ_CTRL and polled on SEQ_STATUS."""

import numpy as np

from rmlora.contract import REG, SRAM_WINDOW_BASE, AxiResp
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.sw.formats.records import LayerStats, read_stats

OKAY = AxiResp.OKAY.value
MAX_POLLS = 10


def reg_read(bus, name: str) -> int:
    resp, data = bus.read32(REG[name].offset)
    assert resp == OKAY, name
    return data


def reg_write(bus, name: str, value: int):
    assert bus.write32(REG[name].offset, value) == OKAY, name


def write_bytes(bus, offset: int, data: bytes):
    """Bytes to the SRAM from a word-aligned byte offset, padded with zeros to words."""
    data = bytes(data) + bytes(-len(data) % 4)
    for i in range(0, len(data), 4):
        assert bus.write32(SRAM_WINDOW_BASE + offset + i,
                           int.from_bytes(data[i:i + 4], "little")) == OKAY


def read_bytes(bus, offset: int, n: int) -> bytes:
    out = bytearray()
    for i in range(0, n, 4):
        resp, word = bus.read32(SRAM_WINDOW_BASE + offset + i)
        assert resp == OKAY
        out += word.to_bytes(4, "little")
    return bytes(out[:n])


def start(bus, prog_addr: int, enabled: int) -> dict:
    """Run a layer program; SEQ_STATUS's fields once it ended (IRQ acknowledged after)."""
    reg_write(bus, "LORA_ENABLE", enabled)
    reg_write(bus, "SEQ_PROG", prog_addr)
    reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(START=1, IRQ_EN=1))
    for _ in range(MAX_POLLS):
        status = REG["SEQ_STATUS"].unpack(reg_read(bus, "SEQ_STATUS"))
        if status["DONE"] or status["ERROR"]:
            break
    assert status["IRQ"] and bus.irq
    reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_ACK=1, IRQ_EN=1))
    assert not bus.irq
    return status


def perf(bus) -> dict[str, int]:
    return {name: reg_read(bus, name) for name in PERF_REGISTERS}


def run_segment(bus, segment, x: np.ndarray, enabled: int
                ) -> tuple[np.ndarray, dict[str, LayerStats]]:
    """y (B, outputs, n_out) of x (B, inputs, n_in) int8, one run per batch item, and the
    last run's SeqStats records by layer."""
    p = bus.params
    wb = p.sram_word_bytes
    pad = -(-segment.n_in // wb) * wb
    y = np.zeros((len(x), len(segment.outputs), segment.n_out), dtype=np.int8)
    for b in range(len(x)):
        for v, word in enumerate(segment.inputs):
            vector = np.zeros(pad, dtype=np.int8)
            vector[:segment.n_in] = x[b, v]
            write_bytes(bus, word * wb, vector.tobytes())
        status = start(bus, segment.program, enabled)
        assert status["DONE"] and not status["ERROR"], status
        assert status["LAYER"] == len(segment.records)
        for v, word in enumerate(segment.outputs):
            y[b, v] = np.frombuffer(read_bytes(bus, word * wb, segment.n_out), dtype=np.int8)
    stats_bytes = p.words_for(SEQ_STATS_BITS) * wb
    stats = {r.layer: read_stats(read_bytes(bus, r.stats * wb, stats_bytes), 0, p)
             for r in segment.records if r.stats}
    return y, stats
