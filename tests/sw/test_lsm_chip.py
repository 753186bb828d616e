"""The liquid-state machine compiled for the chip (compile_lsm) and run through the
runtime unchanged: on ideal macros every step's spikes, the counts and the logits equal
the integer network's (golden.lsm.run_lsm), with adapters off, on and after one is
deleted; the layout wires the recurrence; non-spike inputs are refused first."""

import numpy as np
import pytest

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig
from rmlora.sw.compiler import compile_lsm
from rmlora.sw.compiler.lsm_chip import READOUT, RESERVOIR, spike_gain_shift
from rmlora.sw.formats.neuron import read_neurons
from rmlora.sw.golden.lsm import run_lsm
from rmlora.sw.runtime import Chip, run_network

from .test_compiler_image import load_sram
from .test_lsm import random_network

# 16x16 macros with a 12-bit ADC: a tile's column sum of 0/1 drives is at most
# 16 * 127 = 2032 <= 2047, so gain shift 0 and the ideal product is exact
SMALL = ChipParams(macro_rows=16, macro_cols=16, n_macros=16, adc_bits=12)
IDEAL = MacroConfig.for_chip(SMALL, read_noise_rel=0.0, drift_us_per_decade=0.0)


def ideal_chip(compiled) -> Chip:
    """A golden chip deployed with the plan, then every block set exactly to its weights
    (write-verify leaves cells within its tolerance band, not on the target)."""
    chip = Chip(compiled.params, macro_config=compiled.macro_config, seed=0)
    chip.deploy(compiled.plan)
    for (desc, _), w in zip(compiled.plan, compiled.plan_weights, strict=True):
        chip.backend.macros[desc.macro].program_ideal(w, desc.row0, desc.col0)
    chip.load(compiled.image, names=compiled.adapter_slots)
    return chip


def spike_rows(seed, batch, net, rate=0.3):
    rng = np.random.default_rng(seed)
    return (rng.random((batch, net.steps * net.inputs)) < rate).astype(np.int8)


@pytest.fixture(scope="module", params=[16, 13])  # 13: x_t padded to two 8-byte words
def case(request):
    net = random_network(np.random.default_rng(request.param), inputs=request.param,
                         neurons=24, steps=4, classes=3)
    compiled = compile_lsm(net, SMALL, IDEAL)
    return net, compiled, ideal_chip(compiled)


def check_against_golden(net, compiled, chip, x, adapters):
    chip.enable(adapters)
    want = run_lsm(net, x, adapters)
    segment = compiled.segments[0]
    env_x = np.zeros((len(x), net.steps, segment.n_in), dtype=np.int8)
    env_x[:, :, :net.inputs] = x.reshape(len(x), net.steps, net.inputs)
    y, run = chip.run(segment, env_x)
    spikes = np.stack([run.outputs[RESERVOIR, t] for t in range(net.steps)], axis=1)
    assert np.array_equal(spikes, want.spikes)
    assert np.array_equal(y[:, 0], want.logits)
    assert np.array_equal(run.outputs[READOUT, 0], want.logits)
    # the counts the readout read: the last run's, left in the SRAM
    neurons = compiled.neurons[RESERVOIR]
    wb = compiled.params.sram_word_bytes
    counts = np.frombuffer(chip.backend.read_sram(neurons.count * wb, net.neurons), np.int8)
    assert np.array_equal(counts, want.counts[-1])
    assert np.array_equal(run_network(compiled, x, lambda s, v: chip.run(s, v)[0]),
                          want.logits)
    assert set(run.stats) == {RESERVOIR, READOUT}
    return want


def test_chip_equals_the_integer_network_with_adapters_off_on_and_deleted(case):
    net, compiled, chip = case
    assert [layer.gain_shift for layer in compiled.layers] == [0, 0]
    x = spike_rows(1, 5, net)
    plain = check_against_golden(net, compiled, chip, x, [])
    both = check_against_golden(net, compiled, chip, x, ["forget", "continual"])
    check_against_golden(net, compiled, chip, x, ["forget"])
    assert not np.array_equal(plain.spikes, both.spikes)  # the adapters do act
    assert chip.delete_adapter("forget") > 0
    check_against_golden(net, compiled, chip, x, ["continual"])
    check_against_golden(net, compiled, chip, x, [])


def test_layout_wires_the_recurrence(case):
    net, compiled, _ = case
    p, wb = compiled.params, compiled.params.sram_word_bytes
    segment = compiled.segments[0]
    res, out = segment.records
    x_words = -(-net.inputs // wb)
    stride = res.src_stride
    assert res.n_in == x_words * wb + net.neurons == segment.n_in
    assert (res.vectors, res.dst_stride, res.dst) == (net.steps, stride,
                                                      res.src + stride + x_words)
    assert segment.inputs == [res.src + t * stride for t in range(net.steps)]
    neurons = read_neurons(load_sram(compiled), compiled.neuron_addrs[RESERVOIR], p)
    assert neurons == compiled.neurons[RESERVOIR]
    assert {k: getattr(neurons, k) for k in net.neuron} == net.neuron
    assert (out.src, out.vectors, segment.outputs) == (neurons.count, 1, [out.dst])
    # spikes never land in a step's own input: the last step's go past the last input
    assert res.dsts()[-1] == segment.inputs[-1] + stride + x_words


def test_non_spike_inputs_are_refused_before_the_chip_runs(case):
    net, compiled, chip = case
    x = spike_rows(2, 3, net)
    x[1, 5] = 2
    before = chip.mvm_ops()
    with pytest.raises(ValueError, match=r"spike inputs must be 0 or 1: row 1, step 0, "
                                         r"input 5 is 2"):
        run_network(compiled, x, lambda s, v: chip.run(s, v)[0])
    with pytest.raises(ValueError, match=r"takes 4 steps x"):
        run_network(compiled, x[:, 1:], lambda s, v: chip.run(s, v)[0])
    assert chip.mvm_ops() == before


def test_gain_shift_is_the_smallest_no_spike_drive_clips():
    rng = np.random.default_rng(4)
    params = ChipParams(macro_rows=32, macro_cols=16, adc_bits=8)
    for _ in range(20):
        w = rng.integers(-127, 128, (10, 70)) * (rng.random((10, 70)) < rng.random())
        g = spike_gain_shift(w, params)
        # the worst drive of each tile: every positive (or every negative) weight's row on
        worst = max(max(np.clip(w[:, r:r + 32], 0, None).sum(axis=1).max(),
                        -np.clip(w[:, r:r + 32], None, 0).sum(axis=1).min())
                    for r in range(0, 70, 32))
        assert worst <= 127 << g and (g == 0 or worst > 127 << (g - 1))


def test_the_published_shape_takes_ten_macros():
    net = random_network(np.random.default_rng(0), inputs=160, neurons=256, steps=10,
                         classes=4)
    compiled = compile_lsm(net, ChipParams(n_macros=16))
    res, out = compiled.layers
    assert (res.n_in, res.n_out, res.placement, res.spikes) == (416, 256, (0, 0, 0), 1)
    assert (out.n_in, out.placement, out.spikes) == (256, (8, 0, 0), 0)
    assert sorted({desc.macro for desc, _ in compiled.plan}) == list(range(10))
    with pytest.raises(ValueError, match="needs 2 whole 128x128 macros; 0 of 8 are free"):
        compile_lsm(net, ChipParams(n_macros=8))
