"""A tiny diffusion transformer (DiT, Peebles & Xie, ICCV 2023) for the 8x8 digits.

The published image-generation architecture in place of the MLP denoiser
(models.denoiser), at this CPU's scale: 2x2 patches (16 tokens), width 32, 2 blocks,
4 heads, MLP ratio 4, adaLN-Zero conditioning on class and step, predicting the
clean image over the same 20-step schedule (models.denoiser says why x0, not noise).

Written for the chip like the face Mixer: every weight product is a bias-free
``nn.Linear`` that fits one 128x128 crossbar (qkv 32x96, proj 32x32, fc1 32x128,
fc2 128x32, patch embedding, output); layer norm, modulation, gates, residuals,
GELU, attention scores and softmax are host steps. The conditioning (the class and
step embedding and every adaLN modulation) depends only on (class, step), 10 x 20
pairs, so on the chip it is a host-side table (``conditioning_table``), not crossbars.

The forward pass takes the MLP denoiser's input vector (models.denoiser_input:
pixels, one-hot class, step features), so the sampler and the training code of
learn.diffusion serve both networks unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rmlora.sw.models.denoiser import N_CLASSES, PIXELS, TIME_FEATURES, denoiser_input
from rmlora.sw.models.mixer import MlpBlock, patchify

__all__ = ["DiTConfig", "DiTBlock", "TinyDiT", "unpatchify", "MODULATIONS"]

MODULATIONS = 6  # per block: shift, scale, gate of the attention and of the MLP
COND_FEATURES = N_CLASSES + TIME_FEATURES
LN_EPS = 1e-6  # DiT's layer-norm epsilon, written down for the host step


@dataclass(frozen=True)
class DiTConfig:
    """Shape of the tiny DiT; the defaults are the issue's probe (about 41k weights)."""

    image_size: int = 8
    patch_size: int = 2
    width: int = 32
    depth: int = 2
    heads: int = 4
    mlp_ratio: int = 4
    # the sampler's step count: the compiled network's conditioning table holds every
    # (class, step) pair of a schedule this long (conditioning_table)
    steps: int = 20

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of "
                             f"patch_size ({self.patch_size})")
        for name in ("patch_size", "width", "depth", "heads", "mlp_ratio", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def tokens(self) -> int:
        return self.grid**2

    @property
    def patch_pixels(self) -> int:
        return self.patch_size**2


def unpatchify(tokens: torch.Tensor, patch_size: int, grid: int) -> torch.Tensor:
    """(B, grid**2, patch_size**2) -> (B, (grid * patch_size)**2): mixer.patchify undone."""
    b, p = len(tokens), patch_size
    x = tokens.reshape(b, grid, grid, p, p).permute(0, 1, 3, 2, 4)
    return x.reshape(b, (grid * p) ** 2)


def position_table(grid: int, width: int) -> torch.Tensor:
    """(grid**2, width) fixed 2-D sin-cos positions, as DiT's: no weights to learn or
    program; the host adds them to the patch embedding."""
    quarter = width // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float32) / quarter)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")

    def embed(pos):
        angle = pos.reshape(-1, 1).float() * omega[None]
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)

    return torch.cat([embed(rows), embed(cols)], dim=1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Affine-free layer norm, then the conditioning's shift and (1 + scale): adaLN."""
    return F.layer_norm(x, x.shape[-1:], eps=LN_EPS) * (1 + scale[:, None]) + shift[:, None]


class Attention(nn.Module):
    """Multi-head self-attention: qkv and proj on crossbars, scores and softmax on the host."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(w // self.heads)
        mixed = scores.softmax(dim=-1) @ v  # (B, heads, tokens, head width)
        return self.proj(mixed.transpose(1, 2).reshape(b, n, w))


class DiTBlock(nn.Module):
    """adaLN-Zero block: x + gate * attn(modulate(x)), then the same with the MLP.

    ``modulation`` maps the conditioning to the block's six vectors; it starts at zero,
    so every gate is zero and the block is the identity until training opens it (the
    adaLN-Zero choice of the DiT paper, its best-scoring conditioning)."""

    def __init__(self, width: int, heads: int, hidden: int):
        super().__init__()
        self.attn = Attention(width, heads)
        self.mlp = MlpBlock(width, hidden)
        self.modulation = nn.Linear(width, MODULATIONS * width, bias=False)
        nn.init.zeros_(self.modulation.weight)
        self.mid = nn.Identity()  # the residual between the two branches, for calibration

    def forward(self, x: torch.Tensor, mod: torch.Tensor) -> torch.Tensor:
        """x: (B, tokens, width); mod: (B, 6, width), from this block's conditioning."""
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.unbind(1)
        x = self.mid(x + gate1[:, None] * self.attn(modulate(x, shift1, scale1)))
        return x + gate2[:, None] * self.mlp(modulate(x, shift2, scale2))


class TinyDiT(nn.Module):
    """Class-conditional DiT predicting the clean 8x8 image; forward takes the MLP
    denoiser's (B, 82) input and returns (B, 64)."""

    input_features = PIXELS + COND_FEATURES  # learn.diffusion's cost trace reads it

    def __init__(self, config: DiTConfig = DiTConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.embed = nn.Linear(config.patch_pixels, w, bias=False)
        self.register_buffer("positions", position_table(config.grid, w), persistent=False)
        # The class and step embedding: one-hot class and step features -> width. A
        # Linear of a one-hot is DiT's class table; the step features are models.
        # denoiser's sinusoids, so the MLP denoiser's input serves both networks.
        self.cond_in = nn.Linear(COND_FEATURES, w, bias=False)
        self.cond_out = nn.Linear(w, w, bias=False)
        self.blocks = nn.ModuleList(DiTBlock(w, config.heads, config.mlp_ratio * w)
                                    for _ in range(config.depth))
        self.final_modulation = nn.Linear(w, 2 * w, bias=False)
        self.out = nn.Linear(w, config.patch_pixels, bias=False)
        for module in (self.embed, self.cond_in, self.cond_out, *self._block_linears()):
            nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(self.final_modulation.weight)
        nn.init.zeros_(self.out.weight)  # DiT zeroes its output layer too

    def _block_linears(self):
        for block in self.blocks:
            yield from (block.attn.qkv, block.attn.proj, block.mlp.fc1, block.mlp.fc2)

    def conditioning(self, features: torch.Tensor) -> torch.Tensor:
        """(B, depth * 6 + 2, width): every block's six modulation vectors, then the
        final layer's shift and scale, from the (B, 18) class and step features. It
        depends on (class, step) alone: the host's table on the chip."""
        c = F.silu(self.cond_out(F.silu(self.cond_in(features))))
        mods = [block.modulation(c).unflatten(1, (MODULATIONS, -1)) for block in self.blocks]
        return torch.cat([*mods, self.final_modulation(c).unflatten(1, (2, -1))], dim=1)

    def conditioning_features(self, steps: int | None = None) -> torch.Tensor:
        """(10 * steps, 18): the class and step features of every (class, step) pair,
        class-major (steps None: the config's)."""
        steps = steps or self.config.steps
        classes = torch.arange(N_CLASSES).repeat_interleave(steps)
        t = torch.arange(steps).repeat(N_CLASSES)
        return denoiser_input(torch.zeros(len(t), PIXELS), classes, t, steps)[:, PIXELS:]

    @torch.no_grad()
    def conditioning_table(self, steps: int | None = None) -> torch.Tensor:
        """(10 classes, steps, depth * 6 + 2, width): ``conditioning`` of every (class,
        step) pair, what the host precomputes once per deployed weight set."""
        features = self.conditioning_features(steps)
        return self.conditioning(features).reshape(N_CLASSES, -1, *self.table_shape)

    @property
    def table_shape(self) -> tuple[int, int]:
        return MODULATIONS * self.config.depth + 2, self.config.width

    def denoise(self, pixels: torch.Tensor, mods: torch.Tensor) -> torch.Tensor:
        """(B, 64) noisy pixels and their conditioning (``conditioning``) -> (B, 64)
        predicted clean image: the part of the network that runs per sample."""
        cfg = self.config
        images = pixels.reshape(-1, cfg.image_size, cfg.image_size)
        x = self.embed(patchify(images, cfg.patch_size)) + self.positions
        for i, block in enumerate(self.blocks):
            x = block(x, mods[:, MODULATIONS * i:MODULATIONS * (i + 1)])
        shift, scale = mods[:, -2], mods[:, -1]
        return unpatchify(self.out(modulate(x, shift, scale)), cfg.patch_size, cfg.grid)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.denoise(inputs[:, :PIXELS], self.conditioning(inputs[:, PIXELS:]))

    @property
    def attention_macs(self) -> int:
        """Multiply-accumulates of one pass's attention products (q k^T and the weighted
        sum of v, every block and head): host work, no crossbar's."""
        cfg = self.config
        return cfg.depth * 2 * cfg.tokens**2 * cfg.width

    def host_parameter(self, name: str) -> bool:
        """Whether parameter ``name`` belongs to the conditioning, which the compiled
        network holds as a host table (exact), not in crossbars."""
        module = name.split(".")[0]
        return module in ("cond_in", "cond_out", "final_modulation") or (
            module == "blocks" and name.split(".")[2] == "modulation")

    def adapter_layers(self) -> list[str]:
        """Where the task's LoRA adapters go: every block's MLP fc1 and fc2, as the
        published image task's DiT-B/2 (rank 4 there)."""
        return [f"blocks.{i}.mlp.{fc}" for i in range(self.config.depth) for fc in ("fc1", "fc2")]

    def linear_names(self) -> list[str]:
        """The crossbar matrices in execution order (the conditioning's are host-side)."""
        names = ["embed"]
        for i in range(self.config.depth):
            names += [f"blocks.{i}.attn.qkv", f"blocks.{i}.attn.proj",
                      f"blocks.{i}.mlp.fc1", f"blocks.{i}.mlp.fc2"]
        return names + ["out"]
