"""The shared flow: pretrain -> unlearn (LoRA) -> continual (LoRA) -> baselines -> report.

A task supplies ``FlowData``, a model factory and a ``FlowConfig``; this module runs
every stage in float and returns plain numbers (plus, on request, the models, which
the chip compiler takes next: the pretrained weights go to the crossbars, the adapters
to SRAM).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from rmlora.sw.learn.compensate import COMPENSATION
from rmlora.sw.learn.config import FlowConfig
from rmlora.sw.learn.evaluate import calibrated_member_rate, class_accuracy, loss_threshold_mia
from rmlora.sw.learn.loop import deterministic
from rmlora.sw.learn.stages import (
    FlowData,
    full_finetune,
    learn_continual_lora,
    pretrain,
    retrain_from_scratch,
    unlearn_lora,
)


def evaluate_model(model: nn.Module, data: FlowData) -> dict:
    """Test accuracies by class role and the membership attack on the forgotten class."""
    forget = data.forget_class
    member = data.train_y == forget
    nonmember_x = torch.cat([data.test_x[data.test_y == forget],
                             data.holdout_x[data.holdout_y == forget]])
    nonmember_y = torch.full((len(nonmember_x),), forget, dtype=data.train_y.dtype)
    mia = loss_threshold_mia(model, data.train_x[member], data.train_y[member],
                             nonmember_x, nonmember_y)
    kept = data.train_rows(data.retain_classes)
    kept_holdout = torch.isin(data.holdout_y, torch.tensor(data.retain_classes))
    mia["member_rate"] = calibrated_member_rate(
        model, (data.train_x[kept], data.train_y[kept]),
        (data.holdout_x[kept_holdout], data.holdout_y[kept_holdout]),
        (data.train_x[member], data.train_y[member]))
    return {
        "pretrained_people_acc": class_accuracy(model, data.test_x, data.test_y,
                                                data.pretrain_classes),
        "forget_acc": class_accuracy(model, data.test_x, data.test_y, [forget]),
        "retain_acc": class_accuracy(model, data.test_x, data.test_y, data.retain_classes),
        "new_acc": class_accuracy(model, data.test_x, data.test_y, [data.new_class]),
        # Augmented views of the test images: 30x more samples, so a change of retain
        # accuracy is resolved better than by the few raw test images.
        "retain_holdout_acc": class_accuracy(model, data.holdout_x, data.holdout_y,
                                             data.retain_classes),
        "forget_train_acc": class_accuracy(model, data.train_x, data.train_y, [forget]),
        "mia": mia,
    }


def run_flow(
    data: FlowData,
    make_model: Callable[[], nn.Module],
    config: FlowConfig | None = None,
    keep_models: bool = False,
    restore: Callable[[nn.Module], nn.Module] | None = None,
) -> dict:
    """Run every stage with one seed; returns metrics per model and costs per stage.

    restore: the restore stage (rmlora.sw.learn.restore.Restore), run on the
    pretrained model; the adapters then train on the twin it returns, with its
    compensation adapter kept on. Metrics are of the float network (nominal weights
    and the trained adapters), the models kept are the twin's."""
    config = FlowConfig() if config is None else config
    with deterministic(config.seed, config.threads):
        return _run_flow(data, make_model, config, keep_models, restore)


def _float(model: nn.Module, restore) -> nn.Module:
    """The float network of a stage: with a restore stage, the twin's adapters on the
    nominal weights, compensation off."""
    return model if restore is None else restore.nominal(model)


def _run_flow(data, make_model, config: FlowConfig, keep_models: bool, restore) -> dict:
    start = time.perf_counter()
    seed = config.seed
    costs, metrics, models = {}, {}, {}

    torch.manual_seed(seed)
    base = make_model()
    costs["pretrain"] = pretrain(base, data, config.pretrain, seed, config.progress)
    metrics["pretrained"] = evaluate_model(base, data)
    models["pretrained"] = base

    start_from, kept = base, ()
    if restore is not None:
        start_from, kept = restore(base), (COMPENSATION,)
    unlearned, costs["unlearn_lora"] = unlearn_lora(
        start_from, data, config.unlearn, config.forget_adapter, seed + 1, config.progress,
        kept)
    metrics["unlearned_lora"] = evaluate_model(_float(unlearned, restore), data)
    models["unlearned_lora"] = unlearned

    continual, costs["continual_lora"] = learn_continual_lora(
        unlearned, data, config.continual, config.continual_adapter,
        [*kept, config.forget_adapter.name], seed + 2, config.progress)
    metrics["continual_lora"] = evaluate_model(_float(continual, restore), data)
    models["continual_lora"] = continual

    if config.run_baselines:
        finetuned, costs["full_finetune"] = full_finetune(
            base, data, config.full_finetune, seed + 1, config.progress)
        metrics["full_finetune"] = evaluate_model(finetuned, data)
        models["full_finetune"] = finetuned

        torch.manual_seed(seed)  # same initial weights as the pretrained model
        retrained = make_model()
        costs["retrain"] = retrain_from_scratch(
            retrained, data, config.retrain_stage, seed, config.progress)
        metrics["retrained"] = evaluate_model(retrained, data)
        models["retrained"] = retrained
        for key in ("auc", "member_rate"):
            metrics[f"mia_{key}_gap_lora_vs_retrained"] = (
                metrics["unlearned_lora"]["mia"][key] - metrics["retrained"]["mia"][key])

    result = {
        "seed": seed,
        "classes": {"forget": data.forget_class, "new": data.new_class,
                    "retain": data.retain_classes},
        "metrics": metrics,
        "costs": {name: cost.as_dict() for name, cost in costs.items()},
        "seconds": time.perf_counter() - start,
    }
    if keep_models:
        result["models"] = models
    return result
