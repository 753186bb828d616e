"""The speaker LSM (issue 21's learning side): spike encoding, model, integer form, flow."""

import dataclasses

import numpy as np
import pytest
import torch

from rmlora.contract.lora import Activation
from rmlora.contract.neuron import lif_update
from rmlora.sw.compiler.lsm import fused_adapter, quantize_lsm
from rmlora.sw.data.fsdd_spikes import (
    INPUT_ALIGN,
    encode_levels,
    level_thresholds,
    load_fsdd_windows,
    log_mel_windows,
    make_spike_split,
)
from rmlora.sw.formats.lora import Adapter, Layer
from rmlora.sw.formats.lsm import LsmNetwork
from rmlora.sw.golden.lora import lora_layer
from rmlora.sw.golden.lsm import lif_step, run_lsm
from rmlora.sw.learn.config import StageConfig
from rmlora.sw.learn.evaluate import accuracy
from rmlora.sw.learn.loop import deterministic, train_stage
from rmlora.sw.lora import inject_adapter
from rmlora.sw.models.lsm import LSM_LAYERS, LiquidStateMachine, NeuronCodes
from rmlora.sw.tasks.speaker_lsm import lsm_config, run_speaker_lsm

from .flow_targets import assert_targets_met
from .test_fsdd import needs_fsdd

SPEAKERS5 = ["george", "jackson", "lucas", "nicolas", "theo"]


def synthetic_windows(seed=0, steps=10):
    """6 speakers x 10 digits x 50 takes of (steps, 32) log-mel windows, each speaker
    its own spectral envelope."""
    rng = np.random.default_rng(seed)
    speaker = np.repeat(np.arange(6), 500)
    take = np.tile(np.arange(50), 60)
    envelope = rng.standard_normal((6, 1, 32))
    windows = (envelope[speaker] + rng.standard_normal((3000, steps, 32))).astype(np.float32)
    return windows, speaker, np.tile(np.repeat(np.arange(10), 50), 6), take


# --- encoding -----------------------------------------------------------------------

def test_windows_are_steps_of_band_means_and_deterministic():
    t = np.arange(4000) / 8000
    chirp = np.sin(2 * np.pi * (200 + 1500 * t) * t)
    w = log_mel_windows(chirp)
    assert w.shape == (10, 32) and w.dtype == np.float32
    assert np.array_equal(w, log_mel_windows(chirp))
    assert np.allclose(log_mel_windows(0.1 * chirp), w, atol=1e-4)  # peak-normalised
    # the chirp rises: its loudest band moves up from the first window to the last
    assert w[-1].argmax() > w[0].argmax()
    # a recording shorter than 10 frames repeats frames instead of empty windows
    assert np.all(np.isfinite(log_mel_windows(chirp[:600])))


@pytest.mark.parametrize("code", ["thermometer", "one_hot"])
def test_level_codes(code):
    windows, *_ = synthetic_windows()
    thresholds = level_thresholds(windows[:2000], 5, code)
    assert thresholds.shape == (32, 5 if code == "thermometer" else 4)
    spikes = encode_levels(windows[:100], thresholds, code)
    assert spikes.shape == (100, 10, 160) and spikes.dtype == np.uint8
    assert set(np.unique(spikes)) <= {0, 1}
    bands = spikes.reshape(100, 10, 32, 5)
    if code == "one_hot":
        assert np.all(bands.sum(-1) == 1)
    else:  # a level's channels are all those below it: ordered, never a gap
        assert np.all(np.diff(bands.astype(int), axis=-1) <= 0)
    # every channel fires on some training windows, none on all (quantile thresholds)
    rate = encode_levels(windows[:2000], thresholds, code).mean(axis=(0, 1))
    assert np.all((rate > 0.05) & (rate < 0.95))
    # padded to whole bytes with silent channels
    odd = encode_levels(windows[:3, :, :3], thresholds[:3], code)
    assert odd.shape[-1] == 2 * INPUT_ALIGN and not odd[..., 15:].any()
    with pytest.raises(ValueError, match="code"):
        level_thresholds(windows, 5, "delta")


def test_spike_split_shapes_determinism_and_fit():
    data = synthetic_windows()
    a = make_spike_split(*data[:1], data[1], data[3], SPEAKERS5 + ["yweweler"], seed=3,
                         fit_on=5)
    b = make_spike_split(*data[:1], data[1], data[3], SPEAKERS5 + ["yweweler"], seed=3,
                         fit_on=5)
    assert a.train_x.shape == (6 * 400, 10 * 160) and a.test_x.shape == (6 * 100, 1600)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.channels == 160 and a.steps == 10
    # thresholds fitted on the enrolled speakers' training windows only
    c = make_spike_split(*data[:1], data[1], data[3], SPEAKERS5 + ["yweweler"], seed=3)
    assert not np.array_equal(a.thresholds, c.thresholds)


# --- model --------------------------------------------------------------------------

@pytest.mark.parametrize("neuron", [NeuronCodes(), None])
def test_forward_shapes_and_adapter_targets(neuron):
    torch.manual_seed(0)
    model = LiquidStateMachine(16, 4, neurons=32, steps=5, neuron=neuron)
    x = (torch.rand(7, 5 * 16) < 0.3).float()
    logits = model(x)
    assert logits.shape == (7, 4)
    assert torch.equal(model(x.view(7, 5, 16)), logits)  # flat or stepped rows
    spikes = model.spikes(x)
    assert spikes.shape == (7, 5, 32) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert model.reservoir_inputs(x).shape == (7, 5, 16 + 32)
    # the published adapters' targets are the two reservoir matrices; B = 0: no change
    assert inject_adapter(model, "forget", 8, 16.0, list(LSM_LAYERS)) == list(LSM_LAYERS)
    assert torch.equal(model(x), logits)
    with pytest.raises(ValueError, match="LSM input"):
        model(torch.zeros(7, 16))
    with pytest.raises(ValueError, match="multiple of 8"):
        LiquidStateMachine(12, 4)
    with pytest.raises(ValueError, match="decay_shift"):
        NeuronCodes(decay_shift=16)


# --- integer form -------------------------------------------------------------------

def random_network(rng, inputs=16, neurons=24, steps=6, classes=5, neuron=None):
    def adapter(rank):
        return Adapter(rng.integers(-128, 128, (rank, inputs + neurons), dtype=np.int8),
                       rng.integers(-128, 128, (neurons, rank), dtype=np.int8),
                       int(rng.integers(1, 4000)), int(rng.integers(10, 20)),
                       int(rng.integers(-3000, 3000)))
    return LsmNetwork(
        inputs, steps, Layer(inputs + neurons, neurons, int(rng.integers(500, 3000)), 14),
        rng.integers(-127, 128, (neurons, inputs + neurons), dtype=np.int8),
        {"forget": adapter(16), "continual": adapter(4)},
        neuron or {"v_th": int(rng.integers(1, 60)), "decay_mult": int(rng.integers(0, 256)),
                   "decay_shift": int(rng.integers(0, 9))},
        Layer(neurons, classes, int(rng.integers(1000, 30000)), 12),
        rng.integers(-127, 128, (classes, neurons), dtype=np.int8))


def loop_reference(net, x, adapters):
    """The network one utterance and one neuron at a time, with lif_update."""
    slots = dict(enumerate(net.adapters.values()))
    enabled = net.enable_mask(adapters)
    logits, spikes = [], []
    for seq in x:
        mem, count, s = [0] * net.neurons, [0] * net.neurons, [0] * net.neurons
        seq_spikes = []
        for t in range(net.steps):
            xf = np.concatenate([seq[t], s]).astype(np.int8)[None]
            p = xf.astype(np.int64) @ net.reservoir_w.T.astype(np.int64)
            c = lora_layer(xf, p, net.reservoir, slots, enabled)[0]
            for j in range(net.neurons):
                s[j], mem[j], count[j] = lif_update(mem[j], count[j], int(c[j]), net.neuron)
            seq_spikes.append(list(s))
        counts = np.array(count, dtype=np.int8)[None]
        p = counts.astype(np.int64) @ net.readout_w.T.astype(np.int64)
        logits.append(lora_layer(counts, p, net.readout, {}, 0)[0])
        spikes.append(seq_spikes)
    return np.array(logits), np.array(spikes)


@pytest.mark.parametrize("seed", range(4))
def test_integer_network_equals_the_per_neuron_loop(seed):
    rng = np.random.default_rng(seed)
    # seed 3: a leak above 1 (255/128) drives membranes into the int16 clamp
    neuron = {"v_th": 30000, "decay_mult": 255, "decay_shift": 7} if seed == 3 else None
    net = random_network(rng, neuron=neuron)
    x = (rng.random((5, net.steps, net.inputs)) < 0.4).astype(np.uint8)
    for adapters in ([], ["forget"], ["continual", "forget"]):
        run = run_lsm(net, x.reshape(5, -1), adapters)
        logits, spikes = loop_reference(net, x, adapters)
        assert np.array_equal(run.logits, logits) and np.array_equal(run.spikes, spikes)
        assert np.array_equal(run.counts, spikes.sum(axis=1))
        assert 0 < spikes.mean() < 1 or seed == 3


def test_lif_step_is_lif_update_on_every_corner():
    rng = np.random.default_rng(5)
    mem = np.concatenate([rng.integers(-32768, 32768, 300), [-32768, 32767, 0, 1, -1]])
    count = np.concatenate([rng.integers(0, 128, 300), [127, 127, 0, 126, 0]])
    c = np.concatenate([rng.integers(-128, 128, 300), [-128, 127, 0, 127, -128]])
    for desc in ({"v_th": 32, "decay_mult": 1, "decay_shift": 1},
                 {"v_th": -5, "decay_mult": 255, "decay_shift": 0},
                 {"v_th": 0, "decay_mult": 77, "decay_shift": 9}):
        s, m, k = lif_step(mem.astype(np.int16), count.astype(np.int8), c.astype(np.int8), desc)
        ref = [lif_update(int(a), int(b), int(d), desc)
               for a, b, d in zip(mem, count, c, strict=True)]
        assert [tuple(map(int, r)) for r in zip(s, m, k, strict=True)] == ref


def test_quantised_model_spikes_exactly_as_the_integer_network():
    """The model with neuron codes is the chip's reservoir: its spikes equal the integer
    network's (no adapter: the LoRA branch's int8 rounding is not modelled)."""
    torch.manual_seed(1)
    model = LiquidStateMachine(16, 4, neurons=48, steps=6).eval()
    with torch.no_grad():
        model.w_in.weight.mul_(8)  # currents of several v_th: spikes and silence
    x = (torch.rand(64, 6 * 16) < 0.3).float()
    net = quantize_lsm(model, x)
    run = run_lsm(net, x.numpy())
    with torch.no_grad():
        spikes = model.spikes(x).numpy()
    assert 0.05 < spikes.mean() < 0.95
    assert np.array_equal(run.spikes, spikes)
    assert net.neuron == {"v_th": 32, "decay_mult": 1, "decay_shift": 1}
    assert net.reservoir.act is Activation.IDENTITY


def test_fused_adapter_is_the_two_published_adapters():
    torch.manual_seed(2)
    model = LiquidStateMachine(16, 4, neurons=24, steps=3)
    inject_adapter(model, "forget", 8, 16.0, list(LSM_LAYERS))
    for layer in (model.w_in, model.w_rec):
        torch.nn.init.normal_(layer.lora_B["forget"].weight)
    a, b, scaling = fused_adapter(model, "forget")
    assert a.shape == (16, 16 + 24) and b.shape == (24, 16) and scaling == 2.0
    assert not a[:8, 16:].any() and not a[8:, :16].any()  # block diagonal
    x = torch.rand(5, 16, dtype=torch.float64)
    s = torch.rand(5, 24, dtype=torch.float64)
    published = (model.w_in.lora_output(x.float(), "forget")
                 + model.w_rec.lora_output(s.float(), "forget")).double()
    fused = scaling * torch.cat([x, s], 1) @ torch.from_numpy(b @ a).T
    assert torch.allclose(published, fused, atol=1e-5)
    with pytest.raises(ValueError, match="LoRA unit's maximum"):
        quantize_lsm(LiquidStateMachine(160, 4, neurons=512, steps=1), torch.zeros(1, 160))
    with pytest.raises(ValueError, match="no integer form"):
        quantize_lsm(LiquidStateMachine(16, 4, neuron=None), torch.zeros(1, 160))


# --- training -----------------------------------------------------------------------

def test_lsm_learns_spike_rates():
    """Three classes that differ only in which channels fire more often: a trained
    LSM tells them apart, an untrained one does not."""
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(300) % 3
    rate = torch.full((3, 16), 0.15)
    for c in range(3):
        rate[c, 5 * c:5 * c + 5] = 0.6
    x = (torch.rand(300, 8, 16, generator=gen) < rate[y][:, None]).float().view(300, -1)
    with deterministic(0, 1):
        model = LiquidStateMachine(16, 3, neurons=32, steps=8)
        before = accuracy(model, x[200:], y[200:])
        train_stage("pretrain", model, list(model.parameters()), x[:200], y[:200], None,
                    StageConfig(epochs=6, lr=0.02, batch_size=32, input_thinning=0.2),
                    seed=0)
        after = accuracy(model, x[200:], y[200:])
    assert before < 0.6 and after >= 0.9, (before, after)
    with pytest.raises(ValueError, match="input_thinning"):
        StageConfig(epochs=1, lr=0.1, input_thinning=1.0)


def test_speaker_lsm_flow_on_synthetic_windows():
    small = StageConfig(epochs=2, lr=0.01)
    config = dataclasses.replace(lsm_config(0), pretrain=small, unlearn=dataclasses.replace(
        small, forget_method="relabel"), continual=small, full_finetune=dataclasses.replace(
        small, forget_method="relabel"))
    summary = run_speaker_lsm(["george", "jackson", "lucas"], "jackson", "theo", neurons=32,
                              config=config, windows=synthetic_windows(steps=4))
    assert summary["config"]["channels"] == 160
    q = summary["quantisation"]
    assert q["adapters"]["forget"]["rank"] == 16 and q["v_th"] == 32
    for stage in (summary["pretrained"], summary["unlearned"]["lora"],
                  summary["continual"]["lora"]):
        assert 0 <= stage["integer"]["test_acc"] <= 1
        assert len(stage["integer"]["spike_rate"]) == 4
    assert {row["key"] for row in summary["targets"]} >= {"pretrained.integer.test_acc"}


# --- the real recordings ------------------------------------------------------------

@needs_fsdd
def test_real_recordings_as_windows():
    windows, speaker, _, take = load_fsdd_windows()
    assert windows.shape == (3000, 10, 32) and np.all(np.isfinite(windows))
    split = make_spike_split(windows, speaker, take, SPEAKERS5 + ["yweweler"], fit_on=5)
    # one-hot: 32 of the 160 channels fire every step
    assert split.train_x.shape == (2400, 1600)
    assert torch.all(split.train_x.view(2400, 10, 160).sum(-1) == 32)


LSM_CHOICES = [
    (SPEAKERS5, "jackson", "yweweler", 0),
    (SPEAKERS5, "jackson", "yweweler", 1),
    (["lucas", "nicolas", "theo", "yweweler", "george"], "theo", "jackson", 1),
    (["george", "jackson", "nicolas", "theo", "yweweler"], "george", "lucas", 2),
    (["jackson", "lucas", "nicolas", "theo", "yweweler"], "yweweler", "george", 3),
]


@pytest.mark.slow
@needs_fsdd
@pytest.mark.parametrize(("speakers", "forget", "learn", "seed"), LSM_CHOICES)
def test_speaker_lsm_meets_the_targets_in_integers(speakers, forget, learn, seed):
    summary = run_speaker_lsm(speakers, forget, learn, seed)
    assert_targets_met(summary)
