"""GoldenBus: a compiled network driven only through read32/write32 (tests/sw/bus_driver.py)
equals Chip.run on a twin golden chip byte for byte; refused programs and bus accesses
leave the registers as the RTL does (its PERF_* counters: tests/cosim/test_golden_bus_cosim.py)."""

import numpy as np
import pytest

from rmlora.contract import REG, SRAM_WINDOW_BASE, AxiResp, ErrorCode
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.contract.sequencer import SEQ_RECORD_BITS
from rmlora.sim.bus_model import BusModel
from rmlora.sw.compiler import compile_model
from rmlora.sw.formats.records import pack_record
from rmlora.sw.golden import chip as gchip
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.golden_bus import GoldenBus
from rmlora.sw.runtime.infer import run_recorded
from rmlora.sw.runtime.network import run_network
from tests.sw import bus_driver
from tests.sw.test_compiler import adapted_mlp, data

SEED = 3


@pytest.fixture(scope="module")
def compiled():
    return compile_model(adapted_mlp(0), data(0, 256))


def loaded(compiled) -> Chip:
    chip = Chip(compiled.params, backend="golden", seed=SEED)
    chip.deploy(compiled.plan)
    chip.load(compiled.image, names=compiled.adapter_slots)
    return chip


def bus_network(bus, chip, compiled, x):
    """Logits and every segment run's SeqStats and PERF_*, driven through the bus."""
    runs = []

    def run_segment(segment, xs):
        y, stats = bus_driver.run_segment(bus, segment, xs, chip.enabled)
        runs.append((stats, bus_driver.perf(bus)))
        return y

    return run_network(compiled, x, run_segment), runs


def test_bus_driven_chip_equals_chip_run(compiled):
    """Adapters on, off, one deleted: logits, SeqStats, the whole SRAM and the macros'
    counters equal a twin chip's (same seed) run through Chip.run."""
    chip, twin = loaded(compiled), loaded(compiled)
    bus = GoldenBus(chip.backend)
    assert bus.sram is chip.backend.sram
    x = data(7, 2)
    for adapters in (["a", "b"], ["b"], [], "delete a", ["b"]):
        if adapters == "delete a":
            assert chip.delete_adapter("a") == twin.delete_adapter("a") > 0
            continue
        for c in (chip, twin):
            c.enable(adapters)
        logits, runs = bus_network(bus, chip, compiled, x)
        want, want_runs = run_recorded(twin, compiled, x)
        assert np.array_equal(logits, want), adapters
        for (stats, perf), run in zip(runs, want_runs, strict=True):
            assert stats == run.stats
            assert perf["PERF_SEQ_CYCLES"] == run.result.perf["PERF_SEQ_CYCLES"]
            assert perf["PERF_MACS"] == sum(st.macs for st in stats.values())
        assert np.array_equal(chip.backend.sram, twin.backend.sram)
        assert chip.mvm_ops() == twin.mvm_ops()


def test_refused_programs_log_what_the_rtl_logs(compiled):
    chip = loaded(compiled)
    bus = GoldenBus(chip.backend)
    p, wb = compiled.params, compiled.params.sram_word_bytes
    segment = compiled.segments[0]
    bus_driver.start(bus, segment.program, 0b11)
    perf = bus_driver.perf(bus)
    # SEQ_PROG with no whole record in the SRAM: refused at START, counters untouched
    status = bus_driver.start(bus, p.sram_depth - 1, 0b11)
    assert (status["ERROR"], status["DONE"], status["LAYER"]) == (1, 0, 0)
    assert bus_driver.reg_read(bus, "ERR_CODE") == ErrorCode.SEQ_SRAM_RANGE.value
    assert bus_driver.reg_read(bus, "ERR_ADDR") == p.sram_depth - 1
    assert bus_driver.perf(bus) == perf
    bus_driver.reg_write(bus, "CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
    # the second record has vectors=0: the first runs, the sequencer stops at the second
    recs, _ = gchip.read_program(chip.backend.sram.tobytes(), segment.program, p)
    rec_w, at = p.words_for(SEQ_RECORD_BITS), compiled.scratch[0]
    blob = b"".join(pack_record(r.xbar, r.lora, r.dst, r.stats, last, vectors).ljust(
        rec_w * wb, b"\0") for r, last, vectors in ((recs[0], False, 1), (recs[1], True, 0)))
    bus_driver.write_bytes(bus, at * wb, blob)
    status = bus_driver.start(bus, at, 0b11)
    assert (status["ERROR"], status["DONE"], status["LAYER"]) == (1, 0, 1)
    assert bus_driver.reg_read(bus, "ERR_CODE") == ErrorCode.SEQ_VECTORS.value
    assert bus_driver.reg_read(bus, "ERR_ADDR") == at + rec_w
    assert bus_driver.reg_read(bus, "ERR_COUNT") == 1
    assert bus_driver.reg_read(bus, "STATUS") == 1
    assert 0 < bus_driver.perf(bus)["PERF_SEQ_CYCLES"]
    # START again: DONE, the error log keeps the first error until CLEAR_ERR
    assert bus_driver.start(bus, segment.program, 0b11)["DONE"]
    assert bus_driver.reg_read(bus, "ERR_CODE") == ErrorCode.SEQ_VECTORS.value


def test_irq_follows_irq_en_and_ack(compiled):
    bus = GoldenBus(loaded(compiled).backend)
    program = compiled.segments[0].program
    bus_driver.reg_write(bus, "SEQ_PROG", program)
    bus_driver.reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(START=1))
    assert REG["SEQ_STATUS"].unpack(bus_driver.reg_read(bus, "SEQ_STATUS"))["IRQ"]
    assert not bus.irq  # IRQ_EN off
    bus_driver.reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_EN=1))
    assert bus.irq
    assert bus_driver.reg_read(bus, "SEQ_CTRL") == REG["SEQ_CTRL"].pack(IRQ_EN=1)
    bus_driver.reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_ACK=1, IRQ_EN=1))
    assert not bus.irq


def test_clear_perf_zeroes_every_counter(compiled):
    """CTRL.CLEAR_PERF zeroes all ten PERF_* counters, the sequencer's cycles too, as the
    contract says (the RTL's, on Verilator: tests/cosim/test_golden_bus_cosim.py)."""
    bus = GoldenBus(loaded(compiled).backend)
    bus_driver.start(bus, compiled.segments[0].program, 0b11)
    assert bus_driver.perf(bus)["PERF_SEQ_CYCLES"] > 0
    bus_driver.reg_write(bus, "CTRL", REG["CTRL"].pack(CLEAR_PERF=1))
    assert bus_driver.perf(bus) == dict.fromkeys(PERF_REGISTERS, 0)


def test_bus_refusals_as_bus_model(compiled):
    bus, model = GoldenBus(loaded(compiled).backend), BusModel(compiled.params)
    for addr in (0x3, 0x0FFC, 0x0004_0000, SRAM_WINDOW_BASE + 2, REG["ID"].offset):
        want = model.read(addr)
        assert bus.read32(addr) == (want.resp.value, want.data)
    for addr in (REG["SEQ_STATUS"].offset, REG["PERF_MACS"].offset, 0x0FF0, 0x0006):
        assert bus.write32(addr, 1) == model.write(addr, 1).resp.value != AxiResp.OKAY.value
    for name in ("ERR_CODE", "ERR_ADDR", "ERR_COUNT", "STATUS"):
        assert bus.read32(REG[name].offset) == (0, model.read(REG[name].offset).data)
    with pytest.raises(ValueError, match="XB_CTRL"):
        bus.write32(REG["XB_CTRL"].offset, REG["XB_CTRL"].pack(START=1))
