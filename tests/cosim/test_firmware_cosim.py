"""The C firmware driver on the chip's Verilog: its read32/write32 bridged into cocotb's
AXI4-Lite manager (cocotb.task.bridge/resume), the irq pin as its wait hook.

The example runs the face network from C (load, adapter sets, delete, again) and
equals the Python runtime byte for byte; the runtime driven through the C driver on
Verilator reads every PERF_* counter equal to the same driver on the golden chip."""

import numpy as np
import pytest

from rmlora.sw.compiler import compile_model
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime.firmware_chip import FirmwareChip
from rmlora.sw.runtime.firmware_net import run_example
from rmlora.sw.runtime.infer import run_recorded


@pytest.fixture(scope="module")
def face():
    return compile_model(demo_model("face", 0), demo_inputs("face", 64, 1))


@pytest.mark.cosim
def test_the_face_example_from_c_on_verilator_equals_the_python_runtime(face):
    result = run_example(face, demo_inputs("face", 2, 4), [["forget", "learn"], []], "forget",
                         backend="verilator", seed=6)
    assert result["runs"] == 8
    assert result["outputs_equal"] and result["traces_equal"] and result["words_zeroed_equal"]


@pytest.mark.cosim
def test_the_c_driver_reads_the_same_counters_from_the_rtl_and_the_golden_chip(face):
    x = demo_inputs("face", 1, 5)
    rtl, golden = FirmwareChip(backend="verilator", seed=2), FirmwareChip(seed=2)
    with rtl:
        for chip in (rtl, golden):
            chip.deploy(face.plan)
            chip.load(face.image, names=face.adapter_slots)
        for adapters in (["forget", "learn"], ["learn"]):
            for chip in (rtl, golden):
                chip.enable(adapters)
            (y, runs), (want, want_runs) = (run_recorded(c, face, x) for c in (rtl, golden))
            assert np.array_equal(y, want)
            for run, ref in zip(runs, want_runs, strict=True):
                assert run.stats == ref.stats
                assert run.result.perf == ref.result.perf  # all ten PERF_* registers
        assert rtl.delete_adapter("forget") == golden.delete_adapter("forget")
