"""A named LoRA adapter as PEFT configures one: what the learning flow trains and the
analytic cost model prices, one definition for both."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AdapterSpec"]


@dataclass(frozen=True)
class AdapterSpec:
    """Rank ``r``, ``alpha`` (scaling alpha / r) and the layers it is attached to:
    ``target_modules`` names, each matching a layer named so or ending in "." + it, or
    one regex string (PEFT's rule, sw.lora.matches_target)."""

    name: str
    r: int
    alpha: float
    target_modules: tuple[str, ...] | str

    def __post_init__(self):
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"adapter {self.name!r} rank={self.r!r}: must be an integer >= 1")
        if not self.alpha > 0:
            raise ValueError(f"adapter {self.name!r}: alpha must be > 0, got {self.alpha}")
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if not self.target_modules:
            raise ValueError(f"adapter {self.name!r}: target_modules is empty")
