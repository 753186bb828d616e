"""Every way ``load_adapter`` refuses a file leaves the model exactly as it was, and a
retry with the good file then succeeds (issue 19: a refused load used to leave the
adapter on some layers, and the retry failed with "already exists")."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from rmlora.sw.lora import AdapterError, LoraLinear, adapter_names, load_adapter
from tests.sw.adapter_helpers import adapted_net, assert_unchanged, save_good, snapshot, target_net

A1 = "base_model.model.fc1.lora_A.weight"
A2, B2 = "base_model.model.block.fc2.lora_A.weight", "base_model.model.block.fc2.lora_B.weight"


def _config(**changes):
    def mutate(config, state):
        config.update(changes)
    return mutate


def _tensor(key, value):
    def mutate(config, state):
        if value is None:
            del state[key]
        else:
            state[key] = value
    return mutate


def _nan(config, state):
    state[B2] = state[B2].clone()
    state[B2][0, 0] = float("nan")


REFUSALS = {
    "wrong shape": _tensor(B2, torch.zeros(5, 3)),
    "rank differs from config": _config(rank_pattern={}),
    "missing lora_B": _tensor(B2, None),
    "missing module": lambda c, s: [s.pop(A2), s.pop(B2)],
    "extra base weight": _tensor("base_model.model.fc1.weight", torch.zeros(6, 8)),
    "extra untargeted module": lambda c, s: s.update({
        "base_model.model.block.fc1.lora_A.weight": torch.zeros(2, 6),
        "base_model.model.block.fc1.lora_B.weight": torch.zeros(6, 2)}),
    "unknown module": lambda c, s: c.update(target_modules=["fc1", "block.fc2", "fc9"]) or
    s.update({"base_model.model.fc9.lora_A.weight": torch.zeros(2, 6),
              "base_model.model.fc9.lora_B.weight": torch.zeros(6, 2)}),
    "lora_B.bias without lora_bias": _tensor("base_model.model.fc1.lora_B.bias",
                                             torch.zeros(6)),
    "non-zero lora_B.bias": lambda c, s: c.update(lora_bias=True) or s.update({
        "base_model.model.fc1.lora_B.bias": torch.zeros(6),
        "base_model.model.block.fc2.lora_B.bias": torch.ones(4)}),
    "NaN": _nan,
    "infinity": _tensor(A1, torch.full((2, 8), float("inf"))),
    "integer tensor": _tensor(A1, torch.zeros(2, 8, dtype=torch.int32)),
    "r not an integer": _config(r="2"),
    "r zero": _config(r=0),
    "alpha negative": _config(lora_alpha=-1.0),
    # fc1 is attached after block.fc2: the old loader had attached block.fc2 by then
    "alpha pattern zero on a later layer": _config(alpha_pattern={"fc1": 0}),
    "rank pattern float on a later layer": _config(rank_pattern={r"block\.fc2": 3, "fc1": 2.0}),
    "pattern not a regex": _config(rank_pattern={"fc(": 3}),
    "peft_type": _config(peft_type="IA3"),
    "use_dora": _config(use_dora=True),
    "use_rslora": _config(use_rslora=True),
    "modules_to_save": _config(modules_to_save=["fc1"]),
    "pissa": _config(init_lora_weights="pissa_niter_4"),
    "olora": _config(init_lora_weights="olora"),
    "corda": _config(init_lora_weights="corda"),
    "loftq": _config(init_lora_weights="loftq"),
    "lora_ga": _config(init_lora_weights="lora_ga"),
    "unknown init": _config(init_lora_weights="magic"),
    "unknown option": _config(use_magic=True),
    "missing r": lambda c, s: c.pop("r"),
    "target_modules wrong type": _config(target_modules=5),
    "target_modules all-linear": _config(target_modules="all-linear"),
    "target picks a container": _config(target_modules=["fc1", "block", "block.fc2"]),
    "target misses a layer": _config(target_modules=["fc1"]),  # fc1 and block.fc1
    "exclude_modules drops a layer": _config(exclude_modules=["fc1"]),
}


def _write(directory, config, state):
    (directory / "adapter_config.json").write_text(json.dumps(config))
    save_file(state, str(directory / "adapter_model.safetensors"))


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_load_changes_nothing_and_retry_succeeds(tmp_path, case):
    save_good(tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    state = load_file(str(tmp_path / "adapter_model.safetensors"))
    good = (json.loads(json.dumps(config)), dict(state))
    REFUSALS[case](config, state)
    _write(tmp_path, config, state)

    model = target_net()
    before = snapshot(model)
    with pytest.raises(AdapterError):
        load_adapter(model, tmp_path, "a")
    assert_unchanged(model, before)

    _write(tmp_path, *good)
    assert load_adapter(model, tmp_path, "a") == ["block.fc2", "fc1"]
    x = torch.rand(3, 8)
    reference = adapted_net()
    torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


@pytest.mark.parametrize("damage", ["not json", "json list", "truncated weights",
                                    "garbage weights"])
def test_unreadable_files_are_named(tmp_path, damage):
    save_good(tmp_path)
    config, weights = tmp_path / "adapter_config.json", tmp_path / "adapter_model.safetensors"
    if damage == "not json":
        config.write_text("{r: 2")
    elif damage == "json list":
        config.write_text("[]")
    elif damage == "truncated weights":
        weights.write_bytes(weights.read_bytes()[:-20])
    else:
        weights.write_bytes(b"\xff" * 64)
    model = target_net()
    before = snapshot(model)
    bad = config if "json" in damage else weights
    with pytest.raises(AdapterError, match=str(bad)):
        load_adapter(model, tmp_path, "a")
    assert_unchanged(model, before)


@pytest.mark.parametrize("missing", ["adapter_config.json", "adapter_model.safetensors"])
def test_missing_file(tmp_path, missing):
    save_good(tmp_path)
    (tmp_path / missing).unlink()
    model = target_net()
    before = snapshot(model)
    with pytest.raises(FileNotFoundError, match=missing):
        load_adapter(model, tmp_path, "a")
    assert_unchanged(model, before)


def test_existing_adapter_name_refused_before_anything(tmp_path):
    save_good(tmp_path)
    model = target_net()
    before = snapshot(model)
    with pytest.raises(ValueError, match="'keep' already exists"):
        load_adapter(model, tmp_path, "keep")
    assert_unchanged(model, before)


def test_failure_while_attaching_is_rolled_back(tmp_path, monkeypatch):
    """Even an error the checks cannot foresee (here: the second attach fails) undoes
    the layers already changed: the adapter added and the Linear wrapped."""
    save_good(tmp_path)
    model = target_net()
    before = snapshot(model)
    calls = []
    original = LoraLinear.add_adapter

    def failing_second(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("out of SRAM")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LoraLinear, "add_adapter", failing_second)
    with pytest.raises(RuntimeError, match="out of SRAM"):
        load_adapter(model, tmp_path, "a")
    assert_unchanged(model, before)
    monkeypatch.setattr(LoraLinear, "add_adapter", original)
    load_adapter(model, tmp_path, "a")
    assert sorted(adapter_names(model)) == ["a", "keep"]


def test_save_writes_targets_and_patterns_that_mean_exactly_its_layers(tmp_path):
    """PEFT's list rule picks every module ending in ".fc1", so a list ["fc1"] would
    also pick block.fc1: the saved config names exactly the adapted layers."""
    save_good(tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert isinstance(config["target_modules"], str)
    assert config["rank_pattern"] == {r"block\.fc2": 3}
    assert config["alpha_pattern"] == {r"block\.fc2": 6.0}
