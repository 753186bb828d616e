"""``LoraLinear``: a frozen weight matrix plus named low-rank branches.

This is the split of the chip: ``base_layer`` is the matrix programmed once into the
ReRAM crossbar and never written again; each adapter ``y += (alpha / r) * B (A x)`` is
held in SRAM and computed by the digital LoRA unit. Several adapters can be active at
once (an unlearning adapter and a continual-learning adapter), each in its own slot.

The interface follows PEFT's LoRA layer (adapters by name, ``scaling = alpha / r``,
A Kaiming-uniform, B zero so a new adapter changes nothing), written from scratch and
without dropout or bias branches, which the chip does not have.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def check_adapter_name(name: str) -> None:
    """An adapter name is a non-empty string without '.' (it becomes a module name)."""
    if not isinstance(name, str) or not name or "." in name:
        raise ValueError(f"adapter name must be a non-empty string without '.', got {name!r}")


class LoraLinear(nn.Module):
    """Wraps a bias-free ``nn.Linear``; freezes it; adds adapters by name."""

    def __init__(self, base_layer: nn.Linear):
        super().__init__()
        if not isinstance(base_layer, nn.Linear):
            raise TypeError(f"LoraLinear wraps nn.Linear, got {type(base_layer).__name__}")
        self.base_layer = base_layer
        base_layer.weight.requires_grad_(False)  # the crossbar is written once
        if base_layer.bias is not None:
            base_layer.bias.requires_grad_(False)
        self.lora_A = nn.ModuleDict()
        self.lora_B = nn.ModuleDict()
        self.r: dict[str, int] = {}
        self.lora_alpha: dict[str, float] = {}
        self.scaling: dict[str, float] = {}
        self.active_adapters: list[str] = []
        self.merged_adapters: list[str] = []
        self.disabled = False

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    @property
    def adapters(self) -> list[str]:
        return list(self.lora_A.keys())

    def add_adapter(
        self,
        name: str,
        r: int,
        alpha: float,
        activate: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        """New adapter ``name`` of rank ``r``; B = 0, so the layer output is unchanged."""
        check_adapter_name(name)
        if name in self.lora_A:
            raise ValueError(f"adapter {name!r} already exists on this layer")
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"LoRA rank r must be an integer >= 1, got {r!r}")
        if not alpha > 0:
            raise ValueError(f"lora_alpha must be > 0, got {alpha!r}")
        weight = self.base_layer.weight
        a = nn.Linear(self.in_features, r, bias=False, dtype=weight.dtype, device=weight.device)
        b = nn.Linear(r, self.out_features, bias=False, dtype=weight.dtype, device=weight.device)
        # PEFT's default init: A like nn.Linear's own (Kaiming uniform, a = sqrt(5)), B zero.
        nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5), generator=generator)
        nn.init.zeros_(b.weight)
        self.lora_A[name] = a
        self.lora_B[name] = b
        self.r[name] = r
        self.lora_alpha[name] = float(alpha)
        self.scaling[name] = float(alpha) / r
        if activate:
            self.active_adapters.append(name)

    def _check(self, name: str) -> None:
        if name not in self.lora_A:
            raise KeyError(f"unknown adapter {name!r}; this layer has {self.adapters}")

    def set_active(self, names: list[str]) -> None:
        """Exactly these adapters contribute to the output (in this order)."""
        names = [names] if isinstance(names, str) else list(names)
        for name in names:
            self._check(name)
        self.active_adapters = names

    def enable_adapters(self) -> None:
        self.disabled = False

    def disable_adapters(self) -> None:
        """Output becomes the base layer's alone; merged adapters are taken out first."""
        self.unmerge()
        self.disabled = True

    def delta_weight(self, name: str) -> torch.Tensor:
        """The adapter as a dense matrix, ``scaling * B @ A``, shape of the base weight."""
        self._check(name)
        return self.scaling[name] * (self.lora_B[name].weight @ self.lora_A[name].weight)

    @torch.no_grad()
    def merge(self, names: list[str] | None = None) -> None:
        """Fold adapters into the base weight (what re-programming the crossbar would do)."""
        for name in self.active_adapters if names is None else names:
            if name not in self.merged_adapters:
                self.base_layer.weight += self.delta_weight(name)
                self.merged_adapters.append(name)

    @torch.no_grad()
    def unmerge(self) -> None:
        while self.merged_adapters:
            self.base_layer.weight -= self.delta_weight(self.merged_adapters.pop())

    def delete_adapter(self, name: str) -> None:
        """Remove the adapter and its parameters (frees its SRAM slot)."""
        self._check(name)
        if name in self.merged_adapters:
            raise RuntimeError(f"adapter {name!r} is merged; unmerge() before deleting it")
        del self.lora_A[name]
        del self.lora_B[name]
        for table in (self.r, self.lora_alpha, self.scaling):
            del table[name]
        self.active_adapters = [a for a in self.active_adapters if a != name]

    def lora_output(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """One adapter's contribution ``scaling * B (A x)`` (the digital unit's work)."""
        return self.scaling[name] * self.lora_B[name](self.lora_A[name](x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.disabled:
            return out
        for name in self.active_adapters:
            if name not in self.merged_adapters:
                out = out + self.lora_output(x, name)
        return out

    def extra_repr(self) -> str:
        return f"adapters={self.adapters}, active={self.active_adapters}, r={self.r}"
