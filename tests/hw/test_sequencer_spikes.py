"""Layer programs with a spike-mode crossbar descriptor (issue 21) on the chip core under
amaranth.sim (the builders of test_sequencer): the RTL equals the golden chip in every
SRAM byte, SeqStats record, macro counter and PERF_* counter, run to the end or stopped
by an input that is not a spike, wherever the program stops."""

from dataclasses import replace

import numpy as np
import pytest

from rmlora.contract import ErrorCode
from rmlora.contract.lora import Activation
from rmlora.contract.packing import unpack_fields
from rmlora.contract.xbar import XBAR_DESC_BITS, XbarDescriptor, XbarOp
from rmlora.sw.formats.records import read_packed, read_stats
from rmlora.sw.golden import chip as gchip
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.perf import run_perf
from rmlora.sw.runtime.golden_backend import GoldenBackend
from rmlora.sw.runtime.golden_bus import GoldenBus
from tests.sw import bus_driver

from .test_sequencer import CFG, PROG, SW, WB, P, build_pass_program, run_core, twins

ENABLED = 0b0011
VECTORS = 3
# a spike layer of 20 inputs (2 row tiles of the 16-row macros: S_SCAN reads the 4
# beyond the first) into an int8 layer that reads its outputs
LAYERS = [
    (dict(n_rows=20, n_cols=10, macro=0, row0=0, col0=0, spikes=1), Activation.RELU,
     {0: 3, 1: 2}),
    (dict(n_rows=10, n_cols=6, macro=2, row0=0, col0=3), Activation.IDENTITY, {1: 4}),
]


def spike_program(seed: int, layers=LAYERS) -> tuple[bytes, np.ndarray]:
    """The two-layer pass program over VECTORS spike vectors; its SRAM and the spikes."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 2, (VECTORS, layers[0][0]["n_rows"])).astype(np.int8)
    return build_pass_program(rng, ENABLED, VECTORS, passes=True, layers=layers, xs=xs), xs


def descriptor(sram: bytes, record: int) -> gxbar.Descriptor:
    """The crossbar descriptor of the program's record `record`."""
    rec = gchip.read_program(sram, PROG, P)[0][record]
    fields = unpack_fields(XbarDescriptor, read_packed(sram, rec.xbar, XBAR_DESC_BITS, P))
    return gxbar.Descriptor(XbarOp(fields.pop("op")), **fields)


def inputs_of(sram: bytes, vector: int) -> int:
    """SRAM byte of the first layer's input `vector` (its descriptor's src and its
    record's src_stride)."""
    rec = gchip.read_program(sram, PROG, P)[0][0]
    return (descriptor(sram, 0).src + vector * rec.src_stride) * WB


def run_both(sram: bytes):
    """The RTL's run and the golden chip's on twin macros: (RTL SRAM, RTL status, golden
    SRAM, golden stats or the ChipError, golden PERF_* as GoldenBus gives them, RTL
    macros, golden macros)."""
    chip, gold = twins()
    got, out = run_core(sram, ENABLED, chip)
    want = np.frombuffer(sram, dtype=np.uint8).copy()[None, :]
    program = gchip.decode_program(sram, PROG, ENABLED, P)
    try:
        result = gchip.run_program(want, PROG, ENABLED, gold)
    except gchip.ChipError as e:
        result, program = e, replace(program, error=e)
    return got, out, want[0].tobytes(), result, run_perf(sram, program, ENABLED, P), \
        chip, gold


def test_a_spike_layer_pass_equals_the_golden_chip():
    """Every byte, both records' stats, the cycles, the macros' counters and all ten
    PERF_* counters; the spike layer converts one plane per tile and vector."""
    sram, _ = spike_program(5)
    got, out, want, stats, perf, chip, gold = run_both(sram)
    assert got == want
    assert [read_stats(got, 64 + SW * k, P) for k in range(2)] == stats
    assert (out["done"], out["failed"], out["layer"], out["errors"]) == (1, 0, 2, [])
    assert out["perf"] == perf
    assert list(chip.mvm_ops) == list(gold.mvm_ops)
    assert chip.activity() == gold.activity()
    assert (stats[0].mvm, stats[0].adc) == (VECTORS * 2, VECTORS * 2 * 10)  # 2 tiles
    assert (stats[1].mvm, stats[1].adc) == (VECTORS * 8, VECTORS * 8 * 6)  # int8


@pytest.mark.parametrize("vector, position, value", [(0, 0, 2), (1, 17, -1), (2, 19, -128)])
def test_an_input_that_is_not_a_spike_stops_the_program_at_its_vector(vector, position,
                                                                       value):
    """A bad input in vector 0 (the first MVM: with its descriptor's fetch), 1 or 2 (in
    the second row tile, read by S_SCAN): the program stops at record 0 with
    XBAR_SPIKE_INPUT, after the vectors before it ran whole (their outputs written, no
    stats record); the RTL equals the golden chip in every byte, macro counter and
    PERF_* counter; GoldenBus, driven through its registers, logs what the RTL logs
    (ERR_CODE, ERR_ADDR: the record's crossbar descriptor, SEQ_STATUS) and counts it."""
    sram, _ = spike_program(6)
    bad = bytearray(sram)
    bad[inputs_of(sram, vector) + position] = value & 0xFF
    got, out, want, refused, perf, chip, gold = run_both(bytes(bad))
    assert isinstance(refused, gchip.InputRefused)
    assert (refused.code, refused.layer, refused.vector) == (ErrorCode.XBAR_SPIKE_INPUT, 0,
                                                             vector)
    assert out["errors"] == [ErrorCode.XBAR_SPIKE_INPUT]
    assert (out["done"], out["failed"], out["irq"], out["layer"]) == (0, 1, 1, 0)
    assert got == want
    assert out["perf"] == perf
    assert list(chip.mvm_ops) == list(gold.mvm_ops) == [vector, vector, 0, 0]
    assert chip.activity() == gold.activity()
    backend = GoldenBackend(P, CFG, 4)
    backend.macros, backend.sram = twins()[1], np.frombuffer(bad, dtype=np.uint8).copy()
    bus = GoldenBus(backend)
    status = bus_driver.start(bus, PROG, ENABLED)
    assert (status["ERROR"], status["DONE"], status["LAYER"]) == (1, 0, 0)
    assert bus_driver.reg_read(bus, "ERR_CODE") == ErrorCode.XBAR_SPIKE_INPUT.value
    assert bus_driver.reg_read(bus, "ERR_ADDR") == gchip.read_program(got, PROG, P)[0][0].xbar
    assert bus_driver.perf(bus) == out["perf"]
    assert backend.sram.tobytes() == got
    # the vectors before it wrote their outputs, the one refused and the later ones not
    outputs = [got[(90 + 2 * v) * WB:(90 + 2 * v) * WB + 10] for v in range(VECTORS)]
    assert [o != bytes(10) for o in outputs] == [v < vector for v in range(VECTORS)]


def test_a_spike_layer_refuses_an_earlier_layer_s_int8_outputs():
    """Whether an input is a spike is known only as the program runs: the int8 layer's
    outputs (ReLU, some above 1) fed to a spike-mode layer stop the program at that
    record's first vector, on the RTL and in the golden chip alike."""
    layers = [(dict(LAYERS[0][0], spikes=0), *LAYERS[0][1:]), LAYERS[1]]
    sram, _ = spike_program(7, layers)
    rec, desc = gchip.read_program(sram, PROG, P)[0][1], descriptor(sram, 1)
    patched = bytearray(sram)
    patched[rec.xbar * WB: rec.xbar * WB + XBAR_DESC_BITS // 8] = replace(desc, spikes=1).pack()
    got, out, want, refused, perf, chip, gold = run_both(bytes(patched))
    first = np.frombuffer(read_packed(got, desc.src, 80, P).to_bytes(10, "little"), np.int8)
    assert (first > 1).any()  # what layer 1 reads is not all spikes
    assert (refused.code, refused.layer, refused.vector) == (ErrorCode.XBAR_SPIKE_INPUT, 1, 0)
    assert out["errors"] == [ErrorCode.XBAR_SPIKE_INPUT] and out["layer"] == 1
    assert got == want and out["perf"] == perf
    assert list(chip.mvm_ops) == list(gold.mvm_ops)


def test_a_batch_stops_in_its_first_refused_run():
    """The golden chip batched over 3 runs, the second refused at vector 2: the first run
    whole, the second up to its vector 2, the third never started (its SRAM row as it
    was), and the macros' counters those of the two runs alone; so does the golden
    backend, which keeps the refused run's SRAM."""
    sram, xs = spike_program(8)
    at = inputs_of(sram, 2)
    batch = np.repeat(np.frombuffer(sram, dtype=np.uint8)[None, :], 3, axis=0)
    batch[1, at + 4] = 3
    rows = batch.copy()
    _, gold = twins()
    with pytest.raises(gchip.InputRefused) as refused:
        gchip.run_program(rows, PROG, ENABLED, gold)
    assert (refused.value.run, refused.value.layer, refused.value.vector) == (1, 0, 2)
    _, alone = twins()
    first = batch[:1].copy()
    gchip.run_program(first, PROG, ENABLED, alone)
    second = batch[1:2].copy()
    with pytest.raises(gchip.InputRefused):
        gchip.run_program(second, PROG, ENABLED, alone)
    assert np.array_equal(rows[0], first[0]) and np.array_equal(rows[1], second[0])
    assert np.array_equal(rows[2], batch[2])
    assert list(gold.mvm_ops) == list(alone.mvm_ops)
    assert gold.activity() == alone.activity()

    # the backend: run 1 of 3 refused at its first vector; the SRAM it keeps is run 1's
    # (its input, not run 0's or run 2's), the macros' counters run 0's
    backend = GoldenBackend(P, CFG, 4)
    backend.macros, backend.sram = twins()[1], np.frombuffer(sram, dtype=np.uint8).copy()
    src, n_in = inputs_of(sram, 0), LAYERS[0][0]["n_rows"]
    x = np.repeat(xs[None, 0], 3, axis=0)
    x[1, 4] = 3
    with pytest.raises(gchip.InputRefused) as refused:
        backend.run(PROG, ENABLED, {src // WB: x}, {})
    assert (refused.value.run, refused.value.vector) == (1, 0)
    assert backend.sram[src:src + n_in].tolist() == x[1].tolist()
    assert list(backend.macros.mvm_ops) == [VECTORS, VECTORS, 8 * VECTORS, 0]
