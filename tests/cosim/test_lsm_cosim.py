"""The compiled liquid-state machine (compile_lsm) through the runtime on the chip's
Verilog: the same calls to the Verilator backend and the golden one, every step's
spikes, the logits, each record's SeqStats and the macros' operation counts equal with
==, adapters on, one deleted, and off."""

import numpy as np
import pytest

from rmlora.contract import ChipParams
from rmlora.sw.compiler import compile_lsm
from rmlora.sw.runtime import Chip
from tests.sw.test_lsm import random_network

SEED = 3


@pytest.mark.cosim
def test_lsm_on_verilator_equals_golden():
    net = random_network(np.random.default_rng(7), inputs=16, neurons=24, steps=4, classes=3)
    compiled = compile_lsm(net, ChipParams())  # the default build: one macro holds both
    chip, ref = (Chip(compiled.params, backend=b, seed=SEED) for b in ("verilator", "golden"))
    with chip:
        for c in (chip, ref):
            c.deploy(compiled.plan)  # the golden model of write-verify: the same cells
            c.load(compiled.image, names=compiled.adapter_slots)
        segment = compiled.segments[0]
        rng = np.random.default_rng(1)
        x = np.zeros((2, net.steps, segment.n_in), dtype=np.int8)
        x[:, :, :net.inputs] = rng.random((2, net.steps, net.inputs)) < 0.3

        def same(adapters):
            runs = []
            for c in (chip, ref):
                c.enable(adapters)
                runs.append(c.run(segment, x))
            (y, got), (y_ref, want) = runs
            assert np.array_equal(y, y_ref)
            assert got.outputs.keys() == want.outputs.keys()
            for key, value in want.outputs.items():
                assert np.array_equal(got.outputs[key], value), key
            assert got.stats == want.stats
            assert chip.mvm_ops() == ref.mvm_ops()
            return want

        both = same(["forget", "continual"])
        assert chip.delete_adapter("forget") == ref.delete_adapter("forget") > 0
        same(["continual"])
        plain = same([])
        assert any(not np.array_equal(both.outputs[k], plain.outputs[k]) for k in both.outputs)
