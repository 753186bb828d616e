"""LoRA layer and adapter management: the digital branch must be exactly what it says."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from rmlora.sw.lora import (
    LoraLinear,
    adapter_names,
    delete_adapter,
    inject_adapter,
    load_adapter,
    lora_layers,
    mark_only_adapter_trainable,
    merge_adapters,
    save_adapter,
    set_active_adapters,
)
from rmlora.sw.models import FaceMixer, MixerConfig

TARGETS = ["channel_mlp.fc1", "channel_mlp.fc2", "head"]


def _layer(seed=0, r=4, alpha=8.0):
    torch.manual_seed(seed)
    layer = LoraLinear(nn.Linear(10, 7, bias=False))
    layer.add_adapter("a", r, alpha)
    return layer


def _randomise_b(layer, name, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B[name].weight.copy_(torch.randn(layer.lora_B[name].weight.shape,
                                                    generator=gen))


def test_new_adapter_adds_exactly_zero():
    layer = _layer()
    x = torch.randn(5, 10)
    assert torch.equal(layer(x), layer.base_layer(x))
    assert torch.count_nonzero(layer.lora_A["a"].weight) > 0  # A random, B zero


def test_scaling_is_alpha_over_r():
    layer = _layer(r=4, alpha=8.0)
    _randomise_b(layer, "a")
    x = torch.randn(3, 10)
    a, b = layer.lora_A["a"].weight, layer.lora_B["a"].weight
    expected = layer.base_layer(x) + 2.0 * (x @ a.T @ b.T)
    assert layer.scaling["a"] == 2.0
    torch.testing.assert_close(layer(x), expected)


def test_base_weight_frozen_adapter_trainable():
    layer = _layer()
    assert not layer.base_layer.weight.requires_grad
    assert layer.lora_A["a"].weight.requires_grad and layer.lora_B["a"].weight.requires_grad


def test_disabled_and_inactive_adapters_change_nothing():
    layer = _layer()
    _randomise_b(layer, "a")
    x = torch.randn(4, 10)
    assert not torch.equal(layer(x), layer.base_layer(x))
    layer.disable_adapters()
    assert torch.equal(layer(x), layer.base_layer(x))
    layer.enable_adapters()
    layer.set_active([])
    assert torch.equal(layer(x), layer.base_layer(x))


def test_two_active_adapters_add_up():
    layer = _layer()
    layer.add_adapter("b", 2, 1.0)
    _randomise_b(layer, "a", 1)
    _randomise_b(layer, "b", 2)
    x = torch.randn(4, 10)
    expected = layer.base_layer(x) + layer.lora_output(x, "a") + layer.lora_output(x, "b")
    torch.testing.assert_close(layer(x), expected)
    layer.set_active(["b"])
    torch.testing.assert_close(layer(x), layer.base_layer(x) + layer.lora_output(x, "b"))


def test_merge_equals_unmerged_and_unmerge_restores():
    layer = _layer()
    _randomise_b(layer, "a")
    x = torch.randn(6, 10)
    before, weight = layer(x), layer.base_layer.weight.clone()
    layer.merge()
    torch.testing.assert_close(layer(x), before, rtol=1e-5, atol=1e-5)
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, weight, rtol=1e-6, atol=1e-6)


def test_delete_really_removes_parameters():
    layer = _layer()
    n_before = sum(p.numel() for p in layer.parameters())
    layer.delete_adapter("a")
    assert "a" not in layer.adapters and layer.active_adapters == []
    assert not any("lora" in k for k in layer.state_dict())
    assert sum(p.numel() for p in layer.parameters()) == n_before - 4 * (10 + 7)
    with pytest.raises(KeyError, match="unknown adapter"):
        layer.delete_adapter("a")


@pytest.mark.parametrize("r", [0, -1, 1.5, True])
def test_bad_rank_rejected(r):
    layer = LoraLinear(nn.Linear(3, 2, bias=False))
    with pytest.raises(ValueError, match="rank"):
        layer.add_adapter("x", r, 1.0)


def test_unknown_adapter_rejected():
    layer = _layer()
    with pytest.raises(KeyError, match="unknown adapter 'zz'"):
        layer.set_active(["zz"])
    model = FaceMixer()
    inject_adapter(model, "forget", 6, 4.0, TARGETS)
    with pytest.raises(KeyError, match="unknown adapter"):
        set_active_adapters(model, ["nope"])
    with pytest.raises(ValueError, match="match no Linear"):
        inject_adapter(model, "x", 2, 1.0, ["no_such_layer"])


def test_inject_targets_by_name_and_freeze():
    torch.manual_seed(0)
    model = FaceMixer(MixerConfig(n_classes=6))
    wrapped = inject_adapter(model, "forget", 6, 4.0, TARGETS)
    assert wrapped == ["layers.0.channel_mlp.fc1", "layers.0.channel_mlp.fc2",
                       "layers.1.channel_mlp.fc1", "layers.1.channel_mlp.fc2", "head"]
    n = mark_only_adapter_trainable(model, "forget")
    assert n == 2 * 6 * (20 + 32) + 2 * 6 * (32 + 20) + 6 * (20 + 6)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == n
    # a second adapter on the same layers reuses the wrappers
    inject_adapter(model, "continual", 8, 8.0, TARGETS)
    assert adapter_names(model) == ["forget", "continual"]
    assert set(lora_layers(model)) == set(wrapped)
    delete_adapter(model, "forget")
    assert adapter_names(model) == ["continual"]
    assert not any(".forget." in k for k in model.state_dict())


def test_model_merge_matches_unmerged():
    torch.manual_seed(0)
    model = FaceMixer()
    inject_adapter(model, "forget", 6, 4.0, TARGETS)
    for layer in lora_layers(model).values():
        nn.init.normal_(layer.lora_B["forget"].weight, std=0.1)
    x = torch.rand(8, 16, 16)
    before = model(x)
    merge_adapters(model)
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)


def _trained_model():
    torch.manual_seed(0)
    model = FaceMixer()
    inject_adapter(model, "forget", 6, 4.0, TARGETS)
    for layer in lora_layers(model).values():
        nn.init.normal_(layer.lora_B["forget"].weight, std=0.1)
    return model


def test_save_load_round_trip_with_peft_names(tmp_path):
    model = _trained_model()
    save_adapter(model, "forget", tmp_path)
    state = load_file(str(tmp_path / "adapter_model.safetensors"))
    assert "base_model.model.layers.0.channel_mlp.fc1.lora_A.weight" in state
    assert state["base_model.model.head.lora_B.weight"].shape == (6, 6)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 6 and config["lora_alpha"] == 4.0
    assert "head" in config["target_modules"]

    torch.manual_seed(0)
    fresh = FaceMixer()  # same base weights, no adapter
    loaded = load_adapter(fresh, tmp_path, "forget")
    assert len(loaded) == 5
    x = torch.rand(4, 16, 16)
    torch.testing.assert_close(fresh(x), model(x))


def test_load_rejects_shape_mismatch_and_leaves_model_unchanged(tmp_path):
    save_adapter(_trained_model(), "forget", tmp_path)
    other = FaceMixer(MixerConfig(n_classes=9))  # head has 9 outputs, not 6
    with pytest.raises(ValueError, match="shape mismatch on 'head'"):
        load_adapter(other, tmp_path, "forget")
    assert lora_layers(other) == {}


def test_load_rejects_foreign_tensors_and_options(tmp_path):
    save_adapter(_trained_model(), "forget", tmp_path)
    path = tmp_path / "adapter_model.safetensors"
    state = load_file(str(path))
    save_file({**state, "base_model.model.head.weight": torch.zeros(6, 20)}, str(path))
    with pytest.raises(ValueError, match="unexpected tensor"):
        load_adapter(FaceMixer(), tmp_path, "forget")
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    (tmp_path / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(ValueError, match="use_dora"):
        load_adapter(FaceMixer(), tmp_path, "forget")
