"""Fuzzing the adapter loader: random damage to a good adapter's config and tensors.

Whatever the damage, ``load_adapter`` either loads (and the model still computes finite
outputs) or raises ``AdapterError`` with the model exactly as it was: no other exception
type, no half-applied load."""

import json
import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from rmlora.sw.lora import AdapterError, adapter_names, load_adapter
from tests.sw.adapter_helpers import assert_unchanged, save_good, snapshot, target_net

NAMES = ["fc1", "fc2", "block.fc1", "block.fc2", "block", r"block\.fc2", "fc2|fc1", "fc(",
         ".*", "fc9", "", "all-linear"]
KEYS = ["r", "lora_alpha", "target_modules", "exclude_modules", "rank_pattern",
        "alpha_pattern", "layers_to_transform", "layers_pattern", "init_lora_weights",
        "peft_type", "use_dora", "bias", "lora_bias", "lora_dropout", "modules_to_save",
        "fan_in_fan_out", "inference_mode", "odd_option"]
TENSOR_KEYS = [f"base_model.model.{m}.lora_{p}" for m in ("fc1", "block.fc1", "block.fc2", "x")
               for p in ("A.weight", "B.weight", "B.bias")] + ["base_model.model.fc1.weight"]
DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.int64, torch.bool]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 9),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(NAMES),
                    st.sampled_from([True, False, "gaussian", "pissa", "olora", "eva", "LORA"]))
values = st.one_of(
    scalars,
    st.lists(st.sampled_from(NAMES), max_size=4),
    st.lists(st.integers(-1, 3), max_size=3),
    st.dictionaries(st.sampled_from(NAMES), st.one_of(st.integers(-1, 9),
                                                      st.floats(-2, 20), st.text(max_size=2)),
                    max_size=3),
)
config_edits = st.tuples(st.just("config"), st.sampled_from(KEYS), values)
drop = st.tuples(st.just("drop"), st.sampled_from(TENSOR_KEYS))
put = st.tuples(st.just("put"), st.sampled_from(TENSOR_KEYS),
                st.lists(st.integers(0, 9), min_size=1, max_size=3))
retype = st.tuples(st.just("dtype"), st.sampled_from(TENSOR_KEYS), st.sampled_from(DTYPES))
poison = st.tuples(st.just("poison"), st.sampled_from(TENSOR_KEYS),
                   st.sampled_from([math.nan, math.inf, -math.inf, 1e30]))
edits = st.lists(st.one_of(config_edits, drop, put, retype, poison), min_size=1, max_size=4)
# then, sometimes, the files themselves damaged: (file, cut at, byte changes)
file_damage = st.one_of(st.none(), st.tuples(
    st.sampled_from(["adapter_config.json", "adapter_model.safetensors"]),
    st.one_of(st.none(), st.integers(0, 600)),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3)))


def _apply(edit, config, state):
    kind, key = edit[0], edit[1]
    if kind == "config":
        config[key] = edit[2]
    elif kind == "drop":
        state.pop(key, None)
    elif kind == "put":
        state[key] = torch.rand(edit[2])
    elif kind == "dtype" and key in state:
        state[key] = state[key].to(edit[2])
    elif kind == "poison" and key in state and state[key].is_floating_point() \
            and state[key].numel():
        state[key] = state[key].clone()
        state[key].view(-1)[0] = edit[2]


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits, file_damage)
def test_damaged_adapter_loads_whole_or_not_at_all(tmp_path, damage, bytes_damage):
    save_good(tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    state = load_file(str(tmp_path / "adapter_model.safetensors"))
    for edit in damage:
        _apply(edit, config, state)
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    save_file(state, str(tmp_path / "adapter_model.safetensors"))
    if bytes_damage is not None:
        name, cut, changes = bytes_damage
        data = bytearray((tmp_path / name).read_bytes()[:cut])
        for position, value in changes:
            if data:
                data[position % len(data)] = value
        (tmp_path / name).write_bytes(bytes(data))

    model = target_net()
    before = snapshot(model)
    try:
        load_adapter(model, tmp_path, "a")
    except AdapterError:
        assert_unchanged(model, before)
        return
    assert "a" in adapter_names(model)
    assert torch.isfinite(model(torch.rand(2, 8))).all()
