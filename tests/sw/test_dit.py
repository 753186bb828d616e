"""The tiny DiT (models.dit): shapes, adaLN-Zero, bias-free crossbar layers, LoRA
targets by name, the host conditioning table, seeded determinism."""

import pytest
import torch
from torch import nn

from rmlora.sw.learn.diffusion import DiffusionConfig
from rmlora.sw.learn.dit import train_dit
from rmlora.sw.lora import inject_adapter
from rmlora.sw.models.denoiser import Schedule, denoiser_input, sample
from rmlora.sw.models.dit import DiTConfig, TinyDiT, unpatchify
from rmlora.sw.models.mixer import patchify


def _inputs(n=6, seed=0, steps=20):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 64, generator=gen)
    classes = torch.randint(10, (n,), generator=gen)
    t = torch.randint(steps, (n,), generator=gen)
    return denoiser_input(x, classes, t, steps), classes, t


def _trained_a_little(seed=0):
    """A DiT whose modulations are no longer zero (a few Adam steps on random targets)."""
    torch.manual_seed(seed)
    model = TinyDiT()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    inputs, _, _ = _inputs(32, seed)
    target = torch.randn(32, 64, generator=torch.Generator().manual_seed(seed))
    for _ in range(3):
        loss = (model(inputs) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_shapes_and_size():
    model = TinyDiT()
    inputs, _, _ = _inputs()
    assert model(inputs).shape == (6, 64)
    assert model.conditioning(inputs[:, 64:]).shape == (6, 14, 32)
    assert sum(p.numel() for p in model.parameters()) == 40_768


def test_patchify_roundtrip():
    images = torch.randn(3, 8, 8)
    assert torch.equal(unpatchify(patchify(images, 2), 2, 4), images.reshape(3, 64))


def test_adaln_zero_blocks_start_as_identity():
    torch.manual_seed(0)
    model = TinyDiT()
    inputs, _, _ = _inputs()
    mods = model.conditioning(inputs[:, 64:])
    assert torch.count_nonzero(mods) == 0
    x = torch.randn(6, 16, 32)
    for i, block in enumerate(model.blocks):
        assert torch.equal(block(x, mods[:, 6 * i:6 * (i + 1)]), x)
    assert torch.count_nonzero(model(inputs)) == 0  # zeroed output layer, as DiT


def test_bias_free_and_crossbar_sized():
    model = TinyDiT()
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    assert all(m.bias is None for m in linears.values())
    for name in model.linear_names():
        assert max(linears[name].weight.shape) <= 128, name
    assert not any(n.endswith(".bias") for n, _ in model.named_parameters())


def test_lora_targets_fc1_fc2_by_name():
    model = _trained_a_little()
    inputs, _, _ = _inputs()
    before = model(inputs)
    targets = inject_adapter(model, "erase", 4, 8.0, ["fc1", "fc2"],
                             generator=torch.Generator().manual_seed(0))
    assert targets == [f"blocks.{i}.mlp.{fc}" for i in range(2) for fc in ("fc1", "fc2")]
    assert torch.allclose(model(inputs), before)  # B starts at zero


def test_conditioning_table_is_the_models_conditioning():
    model = _trained_a_little()
    table = model.conditioning_table(20)
    assert table.shape == (10, 20, 14, 32)
    inputs, classes, t = _inputs(8)
    assert torch.allclose(table[classes, t], model.conditioning(inputs[:, 64:]))
    # the per-sample part with the table's rows is the whole network
    assert torch.allclose(model.denoise(inputs[:, :64], table[classes, t]), model(inputs))


def test_seeded_training_and_sampling_are_deterministic():
    x0 = torch.rand(64, 64) * 2 - 1
    classes = torch.arange(10).repeat(7)[:64]
    config = DiffusionConfig(batch_size=32)
    runs = [train_dit(x0, classes, config, seed=3, epochs=2)[0] for _ in range(2)]
    prompts = torch.arange(10)
    a, b = (sample(m, prompts, Schedule(), seed=5) for m in runs)
    assert torch.equal(a, b)
    assert a.shape == (10, 64) and a.abs().max() <= 1.0


def test_config_refuses_bad_shapes():
    with pytest.raises(ValueError, match="patch_size"):
        DiTConfig(patch_size=3)
    with pytest.raises(ValueError, match="heads"):
        DiTConfig(heads=5)
