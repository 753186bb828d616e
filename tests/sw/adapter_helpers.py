"""A small model with nested names (``fc1`` and ``block.fc1``, so PEFT's suffix rule
matters), an adapter saved from it, and a snapshot to prove a refused load changed nothing."""

import torch
from torch import nn

from rmlora.sw.lora import adapter_names, inject_adapter, lora_layers, save_adapter


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 6, bias=False)
        self.block = nn.Module()
        self.block.fc1 = nn.Linear(6, 6, bias=False)
        self.block.fc2 = nn.Linear(6, 4, bias=False)

    def forward(self, x):
        return self.block.fc2(torch.relu(self.block.fc1(torch.relu(self.fc1(x)))))


def base_net(seed=0) -> Net:
    torch.manual_seed(seed)
    return Net()


def adapted_net() -> Net:
    """Adapter "a": fc1 at r=2, alpha 4 and block.fc2 at r=3, alpha 6 (a rank and an
    alpha pattern), B random so the adapter changes the output."""
    model = base_net()
    inject_adapter(model, "a", 2, 4.0, "fc1")
    inject_adapter(model, "a", 3, 6.0, r"block\.fc2")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B["a"].weight.copy_(torch.randn(layer.lora_B["a"].weight.shape,
                                                       generator=gen))
    return model


def save_good(directory):
    return save_adapter(adapted_net(), "a", directory)


def target_net() -> Net:
    """The same base weights, already carrying another adapter on block.fc2, so a load
    both wraps a plain Linear (fc1) and adds to a wrapped one (block.fc2)."""
    model = base_net()
    inject_adapter(model, "keep", 2, 2.0, r"block\.fc2")
    return model


def snapshot(model: nn.Module):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        adapter_names(model),
        [(n, type(m).__name__, [p.requires_grad for p in m.parameters(recurse=False)])
         for n, m in model.named_modules()],
        {n: (list(m.active_adapters), dict(m.r), dict(m.scaling))
         for n, m in lora_layers(model).items()},
    )


def assert_unchanged(model: nn.Module, before) -> None:
    after = snapshot(model)
    assert after[1:] == before[1:]
    assert list(after[0]) == list(before[0])
    for key, value in before[0].items():
        assert torch.equal(after[0][key], value), key
