"""Front ends: how the compiler sees one family of PyTorch models.

A front end names the model's crossbar layers and the segments the chip runs between
host steps (`structure`), and measures the scales of every tensor on calibration
inputs (`calibrate`). Each family registers its front end for its model class, so a
new family is one new module (and an import in rmlora.sw.compiler) rather than a
branch in the compiler.
"""

from typing import Protocol

import torch
from torch import nn

from .spec import Calibration, LayerSpec, SegmentSpec

__all__ = ["FrontEnd", "register_front_end", "front_end_for"]


class FrontEnd(Protocol):
    def structure(self, model: nn.Module) -> tuple[list[LayerSpec], list[SegmentSpec]]:
        """The crossbar layers in network order and the segments between host steps."""

    def calibrate(self, model: nn.Module, layers: list[LayerSpec], inputs: torch.Tensor,
                  adapters: list[str]) -> Calibration:
        """Scales of every tensor, measured on the inputs with these adapters on."""


_FRONT_ENDS: dict[type, FrontEnd] = {}


def register_front_end(model_type: type, front_end: FrontEnd):
    """Compile models of `model_type` (and its subclasses) with `front_end`."""
    if model_type in _FRONT_ENDS:
        raise ValueError(f"a front end for {model_type.__name__} is registered already")
    _FRONT_ENDS[model_type] = front_end


def front_end_for(model: nn.Module) -> FrontEnd:
    """The front end registered for the model's class or its nearest base class."""
    for cls in type(model).__mro__:
        if cls in _FRONT_ENDS:
            return _FRONT_ENDS[cls]
    known = ", ".join(sorted(t.__name__ for t in _FRONT_ENDS))
    raise ValueError(f"cannot compile a {type(model).__name__}: front ends exist for {known}")
