"""The whole flow on the chip's Verilog: a 3-layer network with two adapters compiled,
deployed, loaded and run through the runtime's cosimulation backend, every layer's
output of every run compared byte for byte with the golden backend fed the same calls."""

import numpy as np
import pytest

import rmlora.hw.build
from rmlora.contract import ChipParams
from rmlora.sim.reram import ACTIVITY_COUNTS
from rmlora.sw.compiler import compile_model
from rmlora.sw.runtime import Chip, ChipError, cosim_backend
from rmlora.sw.runtime.infer import infer
from tests.sw.test_compiler import adapted_mlp, data

SEED = 3


@pytest.fixture(scope="module")
def compiled():
    return compile_model(adapted_mlp(0), data(0, 256))


def _pair(compiled, sim, on_chip):
    chip, ref = (Chip(compiled.params, backend=b, seed=SEED) for b in (sim, "golden"))
    deployed = [chip.deploy(compiled.plan, on_chip=on_chip, scratch_word=compiled.scratch[0]),
                ref.deploy(compiled.plan)]
    for c in (chip, ref):
        c.load(compiled.image, names=compiled.adapter_slots)
    return chip, ref, deployed


def _same_everywhere(chip, ref, compiled, x, adapters):
    for c in (chip, ref):
        c.enable(adapters)
    logits, rows = infer(chip, compiled, x, reference=ref)
    assert [r.matched for r in rows] == [True] * len(compiled.layers), adapters
    assert chip.mvm_ops() == ref.mvm_ops()
    return logits


@pytest.mark.cosim
def test_network_on_verilator_equals_golden(compiled):
    """RTL write-verify of every weight, then adapters toggled between runs and one
    deleted: every output byte, SeqStats record and macro counter equals the golden's."""
    chip, ref, (deployed, want) = _pair(compiled, "verilator", on_chip=True)
    with chip:
        assert deployed == want  # pulses, verify reads, failed cells, controller cycles
        x = data(7, 3)
        both = _same_everywhere(chip, ref, compiled, x, ["a", "b"])
        only_b = _same_everywhere(chip, ref, compiled, x, ["b"])
        _same_everywhere(chip, ref, compiled, x, [])
        assert not np.array_equal(both, only_b)  # adapter a is really applied
        assert chip.delete_adapter("a") == ref.delete_adapter("a") > 0
        _same_everywhere(chip, ref, compiled, x, ["b"])
        for c in (chip, ref):  # slot 0 is empty now: enabling it is refused, nothing changes
            with pytest.raises(ChipError, match="no adapter in slot 0"):
                c.enable([0, 1])
            assert c.enabled == 0b10
        wb = compiled.params.sram_word_bytes
        start, words = compiled.slot_regions[0]
        assert chip.backend.read_sram(start * wb, words * wb) == bytes(words * wb)


@pytest.mark.cosim
def test_network_with_reads_per_plane_on_verilator_equals_golden():
    """Layers at 4 and 2 reads per bit plane (the descriptors' reads_log2): every
    output byte, SeqStats record and macro operation count equals the golden's."""
    compiled = compile_model(adapted_mlp(0), data(0, 256), reads={"0": 4, "4": 2})
    assert [layer.reads for layer in compiled.layers] == [4, 1, 2]
    chip, ref, _ = _pair(compiled, "verilator", on_chip=False)
    with chip:
        _same_everywhere(chip, ref, compiled, data(7, 3), ["a", "b"])


@pytest.mark.cosim
def test_network_on_icarus_equals_golden(compiled):
    """The same flow for one input on Icarus (weights programmed by the golden model of
    the controller's write-verify, bit-exact with it: tests/cosim/test_xbar_cosim.py)."""
    chip, ref, _ = _pair(compiled, "icarus", on_chip=False)
    with chip:
        _same_everywhere(chip, ref, compiled, data(8, 1), ["a", "b"])


# Another build: a wider, shallower SRAM and three 64x32 macros, so the first layer
# (24 -> 40) is tiled over two macros and the other two share the third.
OTHER_PARAMS = ChipParams(sram_width=128, sram_depth=2048, macro_rows=64, macro_cols=32,
                          n_macros=3)


@pytest.mark.cosim
def test_other_chip_params_on_verilator_equal_golden():
    """The cosimulation backend builds the ChipParams the compiler targeted (its own
    build directory): RTL write-verify and runs equal the golden backend's with ==."""
    compiled = compile_model(adapted_mlp(0), data(0, 256), params=OTHER_PARAMS)
    assert len({layer.placement[0] for layer in compiled.layers}) < len(compiled.plan)
    chip, ref, (deployed, want) = _pair(compiled, "verilator", on_chip=True)
    with chip:
        assert deployed == want
        x = data(9, 2)
        _same_everywhere(chip, ref, compiled, x, ["a", "b"])
        _same_everywhere(chip, ref, compiled, x, ["b"])
        # the operation counts (the energies are float sums, added in another order)
        assert [chip.activity()[k] for k in ACTIVITY_COUNTS] == \
            [ref.activity()[k] for k in ACTIVITY_COUNTS]
        assert np.array_equal(chip.conductance(2), ref.conductance(2))


@pytest.mark.cosim
def test_a_build_of_other_params_is_refused_by_field(monkeypatch):
    """The chip server reads the build's HW_* registers: the default build simulated for
    OTHER_PARAMS (as a stale or shared build directory would) is refused, by field."""
    write, dirs = rmlora.hw.build.write_verilog, cosim_backend.build_dirs
    monkeypatch.setattr(rmlora.hw.build, "write_verilog",
                        lambda out, params, **kw: write(out, ChipParams(), **kw))
    monkeypatch.setattr(cosim_backend, "build_dirs", lambda root, params: dirs(root, ChipParams()))
    with pytest.raises(RuntimeError, match="another build: WIDTH_BYTES is 8, params want 16"):
        Chip(OTHER_PARAMS, backend="verilator")
