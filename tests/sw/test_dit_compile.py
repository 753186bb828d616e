"""The compiler's transformer front end (compiler.dit): a TinyDiT with LoRA on its MLP
fc layers compiles to token-wise segments (one crossbar block per matrix, reused by
all 16 tokens), its integer network follows the float model, and the golden chip
runs it."""

import numpy as np
import pytest
import torch

from rmlora.sw.compiler import compile_model
from rmlora.sw.compiler.transformer_steps import AttentionStep, ConditionInput
from rmlora.sw.learn.on_chip import deploy
from rmlora.sw.lora import inject_adapter, set_active_adapters
from rmlora.sw.models.demo import randomise_b
from rmlora.sw.models.denoiser import denoiser_input
from rmlora.sw.models.dit import DiTConfig, TinyDiT
from rmlora.sw.runtime import Chip, dequantize_logits, ideal_segment_runner, run_network


def _inputs(n, seed):
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, 64, generator=gen) * 2 - 1
    classes, t = torch.randint(10, (n,), generator=gen), torch.randint(20, (n,), generator=gen)
    noisy = x0 * 0.7 + 0.7 * torch.randn(n, 64, generator=gen)
    return denoiser_input(noisy, classes, t, 20), x0


@pytest.fixture(scope="module")
def dit():
    """A DiT trained a little (its gates and output layer are no longer zero), with an
    adapter "a" on every fc layer whose B is random (so it does something)."""
    torch.manual_seed(0)
    model = TinyDiT()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(40):
        inputs, x0 = _inputs(64, step)
        loss = (model(inputs) - x0).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    inject_adapter(model, "a", 4, 8.0, model.adapter_layers(),
                   generator=torch.Generator().manual_seed(1))
    randomise_b(model, 2)
    return model.eval()


@pytest.fixture(scope="module")
def compiled(dit):
    return compile_model(dit, _inputs(256, 100)[0].numpy())


def test_every_matrix_is_one_crossbar_block_reused_by_every_token(dit, compiled):
    names = dit.linear_names()
    assert [layer.name for layer in compiled.layers] == names
    assert sorted(compiled.plan_layers) == sorted(names)  # one block each, no copy per token
    assert [s.name for s in compiled.segments] == [
        "embed", "blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp",
        "blocks.1.attn.qkv", "blocks.1.attn.proj", "blocks.1.mlp", "out"]
    assert all(r.vectors == 16 for s in compiled.segments for r in s.records)
    assert isinstance(compiled.steps[0], ConditionInput)
    assert sum(isinstance(s, AttentionStep) for s in compiled.steps) == 2
    for layer in compiled.layers:  # the adapter sits on the fc layers only
        assert bool(layer.adapters) == (".mlp.fc" in layer.name)


@pytest.mark.parametrize("mask, active", [(0, []), (1, ["a"])])
def test_integer_network_follows_the_float_model(dit, compiled, mask, active):
    """Exact integer arithmetic against float: measured relative RMS error 0.014 with
    and without the adapter (int8 activations through 10 matrices, 2 attentions and
    5 layer norms, an int16 residual; 0.019 with an int8 residual); bound 0.05."""
    inputs, _ = _inputs(128, 7)
    set_active_adapters(dit, active)
    with torch.no_grad():
        f = dit(inputs).double().numpy()
    y = dequantize_logits(compiled, run_network(compiled, inputs.numpy(),
                                                ideal_segment_runner(compiled, mask)))
    assert np.sqrt(((y - f) ** 2).mean() / (f**2).mean()) < 0.05


def test_the_adapter_changes_what_the_chip_computes(compiled):
    inputs, _ = _inputs(16, 8)
    off, on = (run_network(compiled, inputs.numpy(), ideal_segment_runner(compiled, m))
               for m in (0, 1))
    assert not np.array_equal(off, on)


def test_golden_chip_follows_the_ideal_network(compiled):
    """Analogue against ideal arithmetic: the macros' write-verify residual and read
    noise through every matrix. Measured relative RMS error 0.038 (chip seed 0); bound
    0.12."""
    inputs, _ = _inputs(64, 9)
    ideal = run_network(compiled, inputs.numpy(), ideal_segment_runner(compiled))
    with Chip(compiled.params, "golden", compiled.macro_config, 0) as chip:
        deploy(chip, compiled)
        chip.enable(list(compiled.adapter_slots))
        y = run_network(compiled, inputs.numpy(), lambda seg, x: chip.run(seg, x)[0])
    y, ideal = y.astype(np.float64), ideal.astype(np.float64)
    assert not np.array_equal(y, ideal)
    assert np.sqrt(((y - ideal) ** 2).mean() / (ideal**2).mean()) < 0.12


def test_refusals_name_the_problem(dit):
    with pytest.raises(ValueError, match=r"calibration inputs of shape \(4, 64\): expected "
                                         r"\(batch, 82\) denoiser input rows"):
        compile_model(dit, np.zeros((4, 64), np.float32))
    wide = TinyDiT(DiTConfig(width=64, heads=4))  # fc1, fc2 256 wide: 2 macros each
    with pytest.raises(ValueError, match="layer 'blocks.0.mlp.fc2' .256 inputs x 64 outputs. "
                                         "needs 2 whole 128x128 macros; 0 of 4 are free"):
        compile_model(wide, _inputs(8, 0)[0].numpy())


def test_inputs_of_another_schedule_are_refused(compiled):
    """The host table holds the 20-step schedule's pairs; a 7-step row matches none."""
    inputs = denoiser_input(torch.zeros(2, 64), torch.tensor([1, 2]), torch.tensor([3, 5]), 7)
    with pytest.raises(ValueError, match="match no \\(class, step\\) pair"):
        run_network(compiled, inputs.numpy(), ideal_segment_runner(compiled))
