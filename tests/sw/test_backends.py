"""The runtime's backend registry, the parameter sets the cosimulation can build, and the
cosimulation backend's lifecycle against a stand-in simulator (no Verilog is built
here: tests/cosim runs the real one)."""

import numpy as np
import pytest

import rmlora.hw.build
import rmlora.sim.cosim
from rmlora.contract import ChipParams
from rmlora.sim.link import connect
from rmlora.sw.runtime import BACKENDS, Chip, SimulatorError, backend_spec, register_backend
from rmlora.sw.runtime.backend import _REGISTRY
from rmlora.sw.runtime.cosim_backend import byte_spans, locate
from rmlora.sw.runtime.cosim_build import build_dirs, check_buildable
from rmlora.sw.runtime.golden_backend import GoldenBackend
from tests.sw.test_runtime import compiled, make_chip, segment_inputs  # noqa: F401

# ---- registry ----


def test_builtin_backends_are_registered_and_the_cosimulations_are_slow():
    assert list(BACKENDS) == ["golden", "verilator", "icarus"]
    assert "verilator" in BACKENDS and "spice" not in BACKENDS
    assert {name: BACKENDS[name].slow for name in BACKENDS} == {
        "golden": False, "verilator": True, "icarus": True}
    with pytest.raises(TypeError):
        BACKENDS["mine"] = BACKENDS["golden"]  # read-only: register_backend adds


def test_an_unknown_backend_names_the_registered_ones():
    with pytest.raises(ValueError, match="backend 'spice': choose one of golden, verilator, "
                                         "icarus"):
        Chip(backend="spice")


class Recording(GoldenBackend):
    name = "recording"

    def __init__(self, *args):
        super().__init__(*args)
        self.calls = []

    def run(self, *args):
        self.calls.append("run")
        return super().run(*args)


@pytest.fixture
def recording():
    spec = register_backend("recording", Recording, summary="golden, counting runs")
    try:
        yield spec
    finally:
        del _REGISTRY["recording"]


def test_a_registered_backend_runs_like_the_others(recording, compiled):  # noqa: F811
    assert backend_spec("recording") is recording and not recording.slow
    with pytest.raises(ValueError, match="already registered"):
        register_backend("recording", Recording)
    chip, ref = (Chip(backend=b, macro_config=compiled.macro_config, seed=4)
                 for b in ("recording", "golden"))
    x = segment_inputs(compiled, 1, 3)
    ys = []
    for c in (chip, ref):
        c.deploy(compiled.plan)
        c.load(compiled.image, names=compiled.adapter_slots)
        c.enable(["a"])
        ys.append(c.run(compiled.segments[0], x)[0])
    assert np.array_equal(*ys) and chip.backend.calls == ["run"]


def test_macro_state_is_asked_by_macro_number(compiled):  # noqa: F811
    with make_chip(compiled, seed=2) as chip:
        assert chip.conductance(0).shape == (128, 128)
        assert chip.stuck_cells(3).shape == (128, 128)
        with pytest.raises(ValueError, match="macros 0..3"):
            chip.conductance(4)
        with pytest.raises(TypeError, match="macro number"):
            chip.stuck_cells("0")


# ---- what the cosimulation builds, and where ----


@pytest.mark.parametrize("params, field", [
    (ChipParams(sram_depth=1 << 17), "sram_depth=131072: .* 16-bit fields"),
    (ChipParams(verify_bits=9), "verify_bits=9: .* one byte per cell"),
])
def test_parameters_the_rtl_cannot_honour_are_refused_by_name(params, field):
    with pytest.raises(ValueError, match=field):
        check_buildable(params)
    with pytest.raises(ValueError, match=field):  # before anything is built
        Chip(params, backend="verilator")


def test_each_parameter_set_builds_in_its_own_directory(tmp_path):
    default = build_dirs(tmp_path, ChipParams())
    assert (default.verilog, default.cosim) == (tmp_path / "verilog", tmp_path / "cosim")
    small, deep = (build_dirs(tmp_path, ChipParams(n_macros=2)),
                   build_dirs(tmp_path, ChipParams(sram_depth=4096)))
    assert len({default.verilog, small.verilog, deep.verilog}) == 3
    assert len({default.cosim, small.cosim, deep.cosim}) == 3
    assert build_dirs(tmp_path, ChipParams(n_macros=2)) == small  # stable


# ---- lifecycle, against a stand-in simulator ----


@pytest.fixture
def fake_simulator(monkeypatch):
    """Replace the Verilog build and the simulator run with `behaviour(extra_env)`."""
    def install(behaviour):
        monkeypatch.setattr(rmlora.hw.build, "write_verilog", lambda out, params, **kw: {})
        monkeypatch.setattr(rmlora.sim.cosim, "run_on_chip",
                            lambda verilog, module, **kw: behaviour(kw["extra_env"]))
    return install


def test_a_simulator_that_fails_to_start_is_reported(fake_simulator):
    def build_fails(env):
        raise RuntimeError("verilator: build failed")

    fake_simulator(build_fails)
    with pytest.raises(SimulatorError, match=r"verilator simulation ended before it "
                                             r"connected: RuntimeError\('verilator: build"):
        Chip(backend="verilator")


def test_a_simulator_that_dies_mid_session_is_reported_and_closed(fake_simulator):
    def dies_after_init(env):
        link = connect(env)
        assert link.recv()[0] == "init"
        link.send(("ok", True, 0, 0.0))
        link.recv()
        link.close()
        raise RuntimeError("simulator crashed")

    fake_simulator(dies_after_init)
    chip = Chip(backend="icarus")
    with pytest.raises(SimulatorError, match=r"icarus simulation ended during 'mvm_ops': "
                                             r"RuntimeError\('simulator crashed"):
        chip.mvm_ops()
    chip.close()  # nothing left to end: no second error
    with pytest.raises(SimulatorError, match="closed"):
        chip.activity()


def test_close_ends_the_session_once(fake_simulator):
    seen = []

    def polite(env):
        link = connect(env)
        while True:
            name, *_ = link.recv()
            seen.append(name)
            link.send(("ok", [0, 0, 0, 0] if name == "mvm_ops" else True, 0, 0.0))
            if name == "close":
                break
        link.close()

    fake_simulator(polite)
    with Chip(backend="verilator") as chip:
        assert chip.mvm_ops() == [0, 0, 0, 0]
    chip.close()
    assert seen == ["init", "mvm_ops", "close"]


def test_byte_spans_cover_every_region_and_merge_only_within_the_gap():
    regions = [(40, 8), (0, 16), (16, 8), (100, 4), (70, 2)]
    assert byte_spans(regions, gap=0) == [(0, 24), (40, 8), (70, 2), (100, 4)]
    assert byte_spans(regions, gap=22) == [(0, 72), (100, 4)]
    assert byte_spans(regions, gap=28) == [(0, 104)]
    assert byte_spans([(0, 32), (8, 4)], gap=0) == [(0, 32)]  # a region inside another
    assert byte_spans([], gap=64) == []


def test_locate_finds_each_start_in_its_span():
    spans = byte_spans([(0, 16), (16, 8), (40, 8)], gap=0)  # [(0, 24), (40, 8)]
    assert locate({"a": 0, "b": 16, "c": 44}, spans) == {"a": (0, 0), "b": (0, 16),
                                                          "c": (1, 4)}
    with pytest.raises(StopIteration):  # a start outside every span is a caller's bug
        locate({"d": 30}, spans)
