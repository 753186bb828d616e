"""The probe program reads the programmed weights back through the chip's MVMs, and the
chip's clock moves drift; stuck cells are reported by location."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from rmlora.contract.macro import GRID_PER_WEIGHT_UNIT
from rmlora.sw.compiler import compile_model
from rmlora.sw.compiler.probe import probe_inputs, probe_program, weights_from_probe
from rmlora.sw.learn.compensate import measure_weights
from rmlora.sw.learn.on_chip import deploy
from rmlora.sw.runtime import Chip


def small_compiled(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(12, 10, bias=False), nn.ReLU(), nn.Linear(10, 4, bias=False))
    return compile_model(model, torch.randn(64, 12).numpy())


def expected_codes(chip, compiled, layer):
    """What the ADC gives at gain shift 0 for a unit input on each row, noise-free: the
    conductance on the MVM grid minus the reference, in weight units, clipped (to
    [-128, 127]: a weight beyond 127 reads 127 at +1 and -128 at -1, so the mean of
    the two polarities is 127.5)."""
    cfg = compiled.macro_config
    macro, row0, col0 = layer.placement
    g = chip.conductance(macro)
    block = g[row0:row0 + layer.n_in, col0:col0 + layer.n_out]
    signal = np.rint(block / cfg.grid_us) - np.rint(cfg.g_mid_us / cfg.grid_us)
    code = np.rint(signal / GRID_PER_WEIGHT_UNIT)
    return ((np.clip(code, cfg.adc_min, cfg.adc_max) - np.clip(-code, cfg.adc_min, cfg.adc_max))
            / 2).T


def test_probe_reads_the_programmed_weights_exactly_without_read_noise():
    compiled = small_compiled()
    config = dataclasses.replace(compiled.macro_config, read_noise_rel=0.0,
                                 program_error_std_us=3.0)
    probe = probe_program(compiled)
    with Chip(macro_config=config, seed=5) as chip:
        deploy(chip, compiled)
        measured = measure_weights(chip, compiled, probe, repeats=2)
        for layer in compiled.layers:
            assert np.array_equal(measured[layer.name], expected_codes(chip, compiled, layer))
            # programming error of 3 uS (~13 weight units) is really there
            assert np.abs(measured[layer.name] - layer.w_q).max() > 5
        # the network's image is back: it runs as before the probe
        chip.enable([])
        x = np.zeros((1, 1, 12), dtype=np.int8)
        chip.run(compiled.segments[0], x)


def test_probe_inputs_alternate_polarity_and_are_undone():
    x = probe_inputs(3, 4)
    assert x.shape == (4, 3, 3) and x.dtype == np.int8
    assert np.array_equal(x[1], -np.eye(3))
    w = np.arange(6).reshape(2, 3)  # (n_out, n_in)
    y = np.einsum("kij,oj->kio", x.astype(np.int64), w)  # each output is W x
    assert np.array_equal(weights_from_probe(y), w)
    with pytest.raises(ValueError, match="repeats"):
        probe_inputs(3, 0)


def test_chip_time_moves_drift_and_refuses_going_back():
    compiled = small_compiled()
    config = dataclasses.replace(compiled.macro_config, drift_us_per_decade=2.0,
                                 read_noise_rel=0.0)
    with Chip(macro_config=config, seed=1) as chip:
        deploy(chip, compiled)
        before = chip.conductance(0).copy()
        chip.set_time(3600.0)
        after = chip.conductance(0)
        assert not np.array_equal(before, after)
        with pytest.raises(ValueError, match="last programming time"):
            chip.set_time(-1.0)


def test_cells_write_verify_gives_up_on_are_located():
    compiled = small_compiled()
    config = dataclasses.replace(compiled.macro_config, sa0_rate=0.05, sa1_rate=0.05)
    with Chip(macro_config=config, seed=2) as chip:
        report = deploy(chip, compiled)
        stuck = chip.stuck_cells(0)
    assert report["failed_cells"] == len(report["failed_at"]) > 0
    for macro, row, col in report["failed_at"]:
        assert macro == 0 and stuck[row, col] != 0
