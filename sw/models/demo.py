"""Seeded demonstration networks with LoRA adapters, for `rmlora infer`, the benchmark
and the cosimulation tests: no training, no dataset, the same on every machine.

The face demo has the shape of the face-recognition MLP-Mixer (16x16 images, 16
tokens of 16 pixels, ~5k weights) with two rank-6 adapters on every layer, named
after their roles; its weights are seeded, not trained (the trained face flow on
the chip is the face task's).
"""

import numpy as np
import torch
from torch import nn

from rmlora.sw.lora import inject_adapter, lora_layers

from .mixer import FaceMixer

__all__ = ["DEMOS", "demo_model", "demo_inputs", "randomise_b"]

DEMOS = ("mlp", "face")


def randomise_b(model: nn.Module, seed: int, scale: float = 0.1):
    """Nonzero B, so that each adapter changes the outputs (a fresh B is zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            for name in layer.adapters:
                weight = layer.lora_B[name].weight
                weight.copy_(scale * torch.randn(weight.shape, generator=gen))


def demo_model(name: str, seed: int = 0) -> nn.Module:
    """'mlp': 24 -> 40 -> 16 -> 10 (ReLU, GELU), adapter 'a' (r 4) on every layer and
    'b' (r 2) on the last two. 'face': the face Mixer, adapters 'forget' and 'learn'
    (r 6, alpha 4, the published face setting) on all its linear layers."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(24, 40, bias=False), nn.ReLU(),
                              nn.Linear(40, 16, bias=False), nn.GELU(),
                              nn.Linear(16, 10, bias=False))
        inject_adapter(model, "a", 4, 8.0, ["0", "2", "4"], generator=gen)
        inject_adapter(model, "b", 2, 4.0, ["2", "4"], generator=gen)
    elif name == "face":
        model = FaceMixer()
        targets = model.linear_names()
        inject_adapter(model, "forget", 6, 4.0, targets, generator=gen)
        inject_adapter(model, "learn", 6, 4.0, targets, generator=gen)
    else:
        raise ValueError(f"demo {name!r}: choose one of {', '.join(DEMOS)}")
    randomise_b(model, seed + 2)
    return model.eval()


def demo_inputs(name: str, n: int, seed: int = 0) -> np.ndarray:
    """Float inputs: standard normal vectors (mlp), uniform [0, 1) 16x16 images (face)."""
    rng = np.random.default_rng(seed)
    if name == "mlp":
        return rng.standard_normal((n, 24)).astype(np.float32)
    if name == "face":
        return rng.uniform(0.0, 1.0, (n, 16, 16)).astype(np.float32)
    raise ValueError(f"demo {name!r}: choose one of {', '.join(DEMOS)}")
