"""The face-recognition MLP-Mixer of the published design (arXiv 2601.10037).

16x16 image -> 16 tokens of 4x4 = 16 pixels -> embed to 20 channels -> 2 mixer layers
(token MLP 16->32->16, channel MLP 20->32->20) -> RMSNorm -> mean over tokens -> head.

Written for the chip: every weight product is a bias-free ``nn.Linear`` (one crossbar
matrix each; token mixing is a transpose followed by a Linear), and everything else
(patching, RMSNorm, GELU, transposes, residual adds, mean pooling) is a separate,
parameter-light step that the digital unit or the host runs. No biases anywhere, so
a layer is exactly ``W x`` plus the LoRA branches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Fixed, small epsilon written down so the golden model can use the same number.
RMS_EPS = 1e-6


@dataclass(frozen=True)
class MixerConfig:
    """Shape of the face Mixer; the defaults are the published ones (~5k parameters)."""

    image_size: int = 16
    patch_size: int = 4
    dim: int = 20
    hidden: int = 32
    depth: int = 2
    n_classes: int = 6  # pretrained people + 1 spare output for the person learned later

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size ({self.image_size}) must be a multiple of patch_size "
                f"({self.patch_size})"
            )
        for field in ("patch_size", "dim", "hidden", "depth", "n_classes"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")

    @property
    def tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def patch_pixels(self) -> int:
        return self.patch_size**2


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, H, W) -> (B, tokens, patch_size**2), patches in row-major order.

    A pure reordering of pixels: on the chip the host (or the input DMA) does it.
    """
    b, h, w = images.shape
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p).permute(0, 1, 3, 2, 4)
    return x.reshape(b, (h // p) * (w // p), p * p)


class MlpBlock(nn.Module):
    """fc1 -> GELU -> fc2, both bias-free: two crossbar matrices and one activation."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden, bias=False)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class MixerLayer(nn.Module):
    """Pre-norm token mixing then channel mixing, each with a residual add."""

    def __init__(self, tokens: int, dim: int, hidden: int):
        super().__init__()
        self.token_norm = nn.RMSNorm(dim, eps=RMS_EPS)
        self.token_mlp = MlpBlock(tokens, hidden)
        self.channel_norm = nn.RMSNorm(dim, eps=RMS_EPS)
        self.channel_mlp = MlpBlock(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, tokens, dim)
        mixed = self.token_mlp(self.token_norm(x).transpose(1, 2))  # (B, dim, tokens)
        x = x + mixed.transpose(1, 2)
        return x + self.channel_mlp(self.channel_norm(x))


class FaceMixer(nn.Module):
    """MLP-Mixer classifier over 16x16 face images; forward takes (B, 16, 16) floats."""

    def __init__(self, config: MixerConfig = MixerConfig()):
        super().__init__()
        self.config = config
        self.embed = nn.Linear(config.patch_pixels, config.dim, bias=False)
        self.layers = nn.ModuleList(
            MixerLayer(config.tokens, config.dim, config.hidden) for _ in range(config.depth)
        )
        self.norm = nn.RMSNorm(config.dim, eps=RMS_EPS)
        self.head = nn.Linear(config.dim, config.n_classes, bias=False)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled 20-channel features before the head, (B, dim)."""
        x = self.embed(patchify(images, self.config.patch_size))
        for layer in self.layers:
            x = layer(x)
        return self.norm(x).mean(dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))

    def linear_names(self) -> list[str]:
        """Names of the weight matrices in execution order (the chip's layer program)."""
        names = ["embed"]
        for i in range(self.config.depth):
            for block in ("token_mlp", "channel_mlp"):
                names += [f"layers.{i}.{block}.fc1", f"layers.{i}.{block}.fc2"]
        return names + ["head"]


def linear_layers(model: FaceMixer) -> list[tuple[str, nn.Module]]:
    """(name, module) of every weight matrix in execution order.

    The module is an ``nn.Linear`` or, after adapter injection, the ``LoraLinear``
    that wraps it (its ``base_layer`` is the frozen matrix for the crossbar).
    """
    modules = dict(model.named_modules())
    return [(name, modules[name]) for name in model.linear_names()]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
