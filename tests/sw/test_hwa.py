"""Hardware-aware pretraining through aihwkit-lightning, and its accuracy prediction."""

import pytest
import torch
from torch import nn

from rmlora.contract.macro import MacroConfig
from rmlora.sw.compiler import compile_model
from rmlora.sw.learn.config import StageConfig
from rmlora.sw.learn.hwa import HwaConfig, hwa_pretrain, predicted_accuracy, relative_noise
from rmlora.sw.learn.loop import deterministic
from rmlora.sw.learn.stages import FlowData

STAGE = StageConfig(epochs=3, lr=0.01)


def blobs(n=240, seed=0):
    """Four well-separated classes of 8 features (3 pretrained, 1 learned later)."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = torch.randn(n, 8, generator=gen) * 0.3 + nn.functional.one_hot(y, 8).float() * 3
    return FlowData(x, y, x[:80], y[:80], x[:80], y[:80], forget_class=1, new_class=3)


def mlp():
    return nn.Sequential(nn.Linear(8, 16, bias=False), nn.ReLU(), nn.Linear(16, 4, bias=False))


def train(std_us, seed=0):
    with deterministic(seed, 1):
        torch.manual_seed(seed)
        return hwa_pretrain(mlp(), blobs(), STAGE, HwaConfig(std_us), seed)[0]


def test_hwa_model_is_the_original_class_and_compiles():
    model = train(2.0)
    assert isinstance(model, nn.Sequential) and not model.training
    assert all(type(m) is nn.Linear and m.bias is None for m in model if isinstance(m, nn.Linear))
    compiled = compile_model(model, blobs().train_x.numpy())
    assert len(compiled.layers) == 2


def test_training_noise_is_injected_and_seeded():
    noisy, again, clean = train(8.0), train(8.0), train(0.0)
    assert torch.equal(noisy[0].weight, again[0].weight)
    assert not torch.equal(noisy[0].weight, clean[0].weight)


def test_prediction_is_seeded_and_noise_free_at_zero():
    data, model = blobs(), train(0.0)
    x, y = data.test_x, data.test_y
    first = predicted_accuracy(model, x, y, [0, 1, 2], 6.0, MacroConfig(), 4, seed=3)
    assert first == predicted_accuracy(model, x, y, [0, 1, 2], 6.0, MacroConfig(), 4, seed=3)
    assert len(set(first)) > 1  # each run draws its own weights
    with torch.no_grad():
        rows = y < 3
        exact = float((model(x[rows]).argmax(1) == y[rows]).float().mean())
    assert predicted_accuracy(model, x, y, [0, 1, 2], 0.0, MacroConfig(), 2, 0) == [exact] * 2


def test_noise_is_relative_to_the_largest_weight_conductance():
    assert relative_noise(4.0, MacroConfig()) == pytest.approx(4.0 / 30.0, rel=1e-12)


@pytest.mark.parametrize("kwargs, field", [({"noise_std_us": -1.0}, "noise_std_us"),
                                           ({"noise_std_us": 1.0, "input_bits": 1}, "input_bits")])
def test_bad_hwa_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        HwaConfig(**kwargs)


def test_training_is_the_same_in_a_fresh_process_with_other_threads():
    """Issue 19 asked whether hardware-aware training is non-deterministic (threads,
    aihwkit-lightning, a process pool): a fresh process with 2 threads and another
    hash seed trains the same weights, bit for bit."""
    import os
    import subprocess
    import sys

    code = ("from tests.sw.test_hwa import train; "
            "print('weights', train(2.0)[0].weight.detach().numpy().tobytes().hex())")
    env = os.environ | {"OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "7"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    line = [row for row in out.splitlines() if row.startswith("weights ")][-1]
    assert bytes.fromhex(line.split()[1]) == train(2.0)[0].weight.detach().numpy().tobytes()
