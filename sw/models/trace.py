"""Which linear layers one forward pass runs, and over how many rows: the counts the
training loop's cost and the analytic cost model both start from."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["trace_linear"]


def trace_linear(model: nn.Module, example: torch.Tensor,
                 on_call: Callable[[str, nn.Linear, int], None]) -> None:
    """One forward pass of ``example``'s first sample, without gradients, calling
    ``on_call(name, module, rows)`` for every ``nn.Linear`` call in execution order
    (``rows``: the input vectors it was applied to). The hooks are gone afterwards,
    also when the pass raises."""
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            def hook(mod, inputs, _out, name=name):
                on_call(name, mod, inputs[0].numel() // mod.in_features)
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example[:1])
    finally:
        for handle in handles:
            handle.remove()
