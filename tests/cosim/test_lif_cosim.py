"""A spiking layer on the chip's Verilog (issue 21): a program of a LIF layer over T time
steps (each step's spikes written into the next step's input) and a readout of the spike
counts, run through the control port on Verilator and on the golden chip behind its bus
(GoldenBus) on the same deployed weights: every byte of the program's SRAM (spikes,
membranes, counts, readout, SeqStats), SEQ_STATUS, the error log and all ten PERF_*
counters equal with ==, over two runs (the second starts from the first's state, which
its first step must ignore) and a refused program (membranes overlapping the counts)."""

import copy

import numpy as np
import pytest

from rmlora.contract import REG, ErrorCode
from rmlora.sw.compiler import compile_model
from rmlora.sw.runtime.golden_bus import GoldenBus
from tests.sw import bus_driver
from tests.sw.test_compiler import adapted_mlp, data

from ..hw.test_sequencer_lif import PROG, _with_neurons, build_lif_program
from .test_golden_bus_cosim import LOGGED, _twins

ENABLED = 0b1


@pytest.mark.cosim
def test_lif_program_on_verilator_equals_golden():
    compiled = compile_model(adapted_mlp(0), data(0, 256))
    p = compiled.params
    wb = p.sram_word_bytes
    rtl, golden = _twins(compiled)  # the MLP's weights deployed on both
    bus = GoldenBus(golden.backend)
    call = rtl.backend._call  # the chip server's register commands
    first, second = (compiled.layers[k].placement for k in (0, 1))  # 24 x 40, 40 x 16
    prog = build_lif_program(p, np.random.default_rng(5), 13, 6, repeat=1,
                             macros=copy.deepcopy(golden.backend.macros), lif_at=first,
                             readout_at=second)
    refused = _with_neurons(prog, count=prog.neurons.mem + 1)

    def rtl_run():
        call("write_reg", "SEQ_PROG", PROG)
        call("write_reg", "SEQ_CTRL", REG["SEQ_CTRL"].pack(START=1, IRQ_EN=1))
        while (status := REG["SEQ_STATUS"].unpack(call("read_reg", "SEQ_STATUS")))["BUSY"]:
            pass
        return {**status, **{k: call("read_reg", k) for k in LOGGED}}

    def golden_run():
        status = bus_driver.start(bus, PROG, ENABLED)
        bus_driver.reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_EN=1))
        return {**status, "IRQ": 1, **{k: bus_driver.reg_read(bus, k) for k in LOGGED}}

    def same(image):
        if image is not None:
            for chip in (rtl, golden):
                chip.backend.write_sram(0, image[:prog.end * wb])
        want = rtl_run()
        assert golden_run() == want
        assert rtl.backend.read_sram(0, prog.end * wb) == \
            golden.backend.read_sram(0, prog.end * wb)
        return want

    with rtl:
        call("write_reg", "LORA_ENABLE", ENABLED)
        for image in (prog.sram, None):  # then again, on the first run's state
            status = same(image)
            assert status["DONE"] and not status["ERROR"] and status["LAYER"] == 2
        counts = np.frombuffer(rtl.backend.read_sram(prog.neurons.count * wb, 13), np.int8)
        assert counts.max() > 1  # the neurons spiked
        status = same(refused)
        assert status["ERROR"] and status["ERR_CODE"] == ErrorCode.SEQ_NEURON_OVERLAP.value
        assert rtl.mvm_ops() == golden.mvm_ops()
