"""Adapters cross between PEFT 0.21 and rmlora both ways with the same outputs, PEFT's
pattern rules are matched, and PEFT adapters that need a rewritten base model
(PiSSA, OLoRA) are refused with the way to convert them."""

import json
import os
import warnings

import pytest
import torch
from torch import nn

from rmlora.sw.lora import AdapterError, load_adapter, save_adapter
from tests.sw.adapter_helpers import adapted_net, assert_unchanged, base_net, snapshot

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every file here is local; never the network
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # transformers' import-time notices
    from peft import LoraConfig, PeftModel, get_peft_model

TOL = dict(rtol=0, atol=4e-7)


def _peft_adapted(config: LoraConfig, seed=2):
    model = get_peft_model(base_net(), config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    return model.eval()


@pytest.mark.parametrize("init", [True, False, "gaussian", "orthogonal", "mica"])
def test_peft_to_rmlora(tmp_path, init):
    """Initialisations that leave the base weights alone load as plain LoRA."""
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["fc1", "fc2"],
                        rank_pattern={"fc2": 4}, alpha_pattern={r"block\.fc1": 8},
                        init_lora_weights=init)
    peft_model = _peft_adapted(config)
    peft_model.save_pretrained(tmp_path)
    ours = base_net()
    assert load_adapter(ours, tmp_path, "p") == ["block.fc1", "block.fc2", "fc1"]
    x = torch.rand(5, 8)
    torch.testing.assert_close(ours(x), peft_model(x), **TOL)


def test_rmlora_to_peft(tmp_path):
    ours = adapted_net()
    save_adapter(ours, "a", tmp_path)
    peft_model = PeftModel.from_pretrained(base_net(), tmp_path).eval()
    x = torch.rand(5, 8)
    torch.testing.assert_close(peft_model(x), ours(x), **TOL)


def test_pattern_key_with_alternation_matches_like_peft(tmp_path):
    """``fc2|fc1`` means "ends in fc2 or fc1" to PEFT (the key is grouped); the old rule
    read it as "ends in fc2, or is exactly fc1", so block.fc1 kept the default alpha and
    the loaded model silently differed from PEFT's."""
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["fc1", "fc2"],
                        alpha_pattern={"fc2|fc1": 16})
    peft_model = _peft_adapted(config)
    peft_model.save_pretrained(tmp_path)
    ours = base_net()
    load_adapter(ours, tmp_path, "p")
    assert ours.block.fc1.scaling["p"] == 8.0
    x = torch.rand(5, 8)
    torch.testing.assert_close(ours(x), peft_model(x), **TOL)


class Stack(nn.Module):
    """model.layers.<i>.{q,v}: the layout layers_to_transform counts in."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.model = nn.Module()
        self.model.layers = nn.ModuleList(nn.ModuleDict({"q": nn.Linear(4, 4, bias=False),
                                                         "v": nn.Linear(4, 4, bias=False)})
                                          for _ in range(3))

    def forward(self, x):
        for layer in self.model.layers:
            x = torch.tanh(layer["v"](layer["q"](x)))
        return x


@pytest.mark.parametrize("options", [
    dict(target_modules=["q", "v"], layers_to_transform=[0, 2]),
    dict(target_modules=["q", "v"], layers_to_transform=1, layers_pattern="layers"),
    dict(target_modules=["q", "v"], exclude_modules=["model.layers.1.v"]),
    dict(target_modules=r".*\.(q|v)", exclude_modules=r".*\.0\.q"),
])
def test_peft_layer_selection_is_matched(tmp_path, options):
    peft_model = get_peft_model(Stack(), LoraConfig(r=2, lora_alpha=4, **options))
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    peft_model.save_pretrained(tmp_path)
    ours = Stack()
    loaded = load_adapter(ours, tmp_path, "p")
    assert loaded == sorted(n.removeprefix("base_model.model.").removesuffix(".lora_A.default")
                            for n, _ in peft_model.named_modules() if n.endswith("lora_A.default"))
    x = torch.rand(5, 4)
    torch.testing.assert_close(ours(x), peft_model(x), **TOL)


@pytest.mark.filterwarnings("ignore:(PiSSA|OLoRA) changes the base weights:UserWarning")
@pytest.mark.parametrize("init", ["pissa", "olora"])
def test_base_rewriting_adapter_refused_then_converted_one_loads(tmp_path, init):
    """PiSSA and OLoRA subtract their initial B A from the base weights: the saved adapter
    is wrong on the original base. Refused, naming PEFT's conversion; the converted
    adapter (a plain LoRA of twice the rank) loads and reproduces the PEFT model."""
    peft_model = get_peft_model(base_net(), LoraConfig(
        r=2, lora_alpha=2, target_modules=["fc1", "fc2"], init_lora_weights=init))
    peft_model.peft_config["default"].init_lora_weights = True  # PEFT's recipe for the
    peft_model.save_pretrained(tmp_path / "initial")  # initial adapter of a conversion
    peft_model.peft_config["default"].init_lora_weights = init
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.1)  # "training"
    peft_model.eval()
    peft_model.save_pretrained(tmp_path / "raw")
    ours = base_net()
    before = snapshot(ours)
    with pytest.raises(AdapterError, match="path_initial_model_for_weight_conversion"):
        load_adapter(ours, tmp_path / "raw", "p")
    assert_unchanged(ours, before)
    assert json.loads((tmp_path / "raw" / "adapter_config.json").read_text())[
        "init_lora_weights"] == init

    peft_model.save_pretrained(tmp_path / "converted",
                               path_initial_model_for_weight_conversion=str(tmp_path / "initial"))
    load_adapter(ours, tmp_path / "converted", "p")
    x = torch.rand(5, 8)
    torch.testing.assert_close(ours(x), peft_model(x), rtol=0, atol=1e-5)
