"""The restore stage: deploy once, fit the compensation on the chip, train on the twin.

Fast tier: the demo MLP on a golden chip; the twin, the nominal weights and the
restored compile are compared exactly (the same crossbar plan, bit for bit).
"""

import numpy as np
import pytest
import torch

from rmlora.sw.learn.compensate import COMPENSATION
from rmlora.sw.learn.restore import UNRESTORED, Restore, compile_restored, restored_stages
from rmlora.sw.lora import inject_adapter, lora_layers, set_active_adapters
from rmlora.sw.models.demo import demo_inputs
from rmlora.sw.runtime import dequantize_logits, run_network


def mlp() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(24, 40, bias=False), torch.nn.ReLU(),
                               torch.nn.Linear(40, 16, bias=False), torch.nn.GELU(),
                               torch.nn.Linear(16, 10, bias=False))


@pytest.fixture(scope="module")
def restored():
    model = mlp()
    calib = torch.as_tensor(demo_inputs("mlp", 64, seed=1))
    restore = Restore(calib, seed=3, rank=4)
    twin = restore(model)
    yield model, calib, restore, twin
    restore.close()


def test_stages_without_then_with_the_compensation_the_last_carrying_every_adapter():
    stages = restored_stages([("a", []), ("b", ["f"]), ("c", ["f", "g"])])
    assert stages == [("a" + UNRESTORED, []), ("b" + UNRESTORED, ["f"]),
                      ("c" + UNRESTORED, ["f", "g"]), ("a", [COMPENSATION]),
                      ("b", [COMPENSATION, "f"]), ("c", [COMPENSATION, "f", "g"])]


def test_twin_holds_the_measured_weights_with_the_compensation_on_and_frozen(restored):
    model, _, restore, twin = restored
    nominal = {n: m.weight for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    for name, layer in lora_layers(twin).items():
        assert layer.active_adapters == [COMPENSATION]
        assert not any(p.requires_grad for p in layer.parameters())
        measured = layer.base_layer.weight
        assert not torch.equal(measured, nominal[name])  # the chip's error is in the twin
        rel = (measured - nominal[name]).norm() / nominal[name].norm()
        assert 0 < rel < 0.1  # a few percent: write-verify residual and int8 rounding
    for stats in restore.report["layers"].values():
        # rank 4 against a full-rank random error: part of it, never more than none
        assert 0 < stats["output_error_left"] < 0.9


def test_deployable_restores_the_nominal_weights_exactly_and_compiles_to_the_same_plan(
        restored):
    model, calib, restore, twin = restored
    adapted = restore.deployable(twin)
    inject_adapter(adapted, "extra", 2, 2.0, ["0"], generator=torch.Generator().manual_seed(0))
    nominal = {n: m.weight for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    for name, layer in lora_layers(adapted).items():
        assert torch.equal(layer.base_layer.weight, nominal[name])
    compiled = compile_restored(adapted, calib.numpy(), restore.compiled)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(compiled.plan,
                                                               restore.compiled.plan,
                                                               strict=True))
    assert set(compiled.adapter_slots) == {COMPENSATION, "extra"}


def test_a_network_with_other_crossbar_weights_is_refused(restored):
    model, calib, restore, twin = restored
    other = restore.deployable(twin)
    with torch.no_grad():
        next(iter(lora_layers(other).values())).base_layer.weight[0, :5] *= -1
    with pytest.raises(ValueError, match="need reprogramming"):
        compile_restored(other, calib.numpy(), restore.compiled)


def test_the_compensation_brings_the_chip_closer_to_float(restored):
    model, calib, restore, twin = restored
    compiled = compile_restored(restore.deployable(twin), calib.numpy(), restore.compiled)
    chip = restore.chip
    chip.load(compiled.image, names=compiled.adapter_slots)
    x = demo_inputs("mlp", 128, seed=2)
    with torch.no_grad():
        ref = model(torch.as_tensor(x, dtype=torch.float32)).numpy()
    err = {}
    for adapters in ([], [COMPENSATION]):
        chip.enable(adapters)
        y = run_network(compiled, x, lambda seg, v: chip.run(seg, v)[0])
        err[len(adapters)] = np.abs(dequantize_logits(compiled, y) - ref).mean()
    assert err[1] < err[0]


def test_nominal_switches_the_compensation_off_and_keeps_the_other_adapters(restored):
    _, _, restore, twin = restored
    adapted = restore.deployable(twin)
    inject_adapter(adapted, "extra", 2, 2.0, ["0"], generator=torch.Generator().manual_seed(0))
    set_active_adapters(adapted, [COMPENSATION, "extra"])
    for name, layer in lora_layers(restore.nominal(adapted)).items():
        assert COMPENSATION not in layer.active_adapters
        assert ("extra" in layer.active_adapters) == (name == "0")


def test_restore_runs_once():
    restore = Restore(torch.zeros(4, 3), seed=0)
    with pytest.raises(RuntimeError, match="before the restore stage"):
        restore.deployable(torch.nn.Sequential())
