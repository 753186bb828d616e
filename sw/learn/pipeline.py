"""The shared flow: (backbone ->) pretrain -> unlearn (LoRA) -> continual (LoRA) ->
baselines -> report.

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

from rmlora.sw.learn.config import FlowConfig
from rmlora.sw.learn.evaluate import evaluate_model
from rmlora.sw.learn.loop import deterministic
from rmlora.sw.learn.restore import Restore, float_network, restore_start
from rmlora.sw.learn.stages import (
    FlowData,
    full_finetune,
    imprint_head,
    learn_continual_lora,
    pretrain,
    pretrain_backbone,
    retrain_from_scratch,
    unlearn_lora,
)


def run_flow(
    data: FlowData,
    make_model: Callable[[], nn.Module],
    config: FlowConfig | None = None,
    keep_models: bool = False,
    restore: Restore | None = None,
) -> dict:
    """Run every stage with one seed; returns metrics per model and costs per stage.

    restore: the restore stage (rmlora.sw.learn.restore.Restore), run on the
    pretrained model; the adapters then train on the twin it returns, with its
    compensation adapter kept on. Metrics are of the float network (nominal weights
    and the trained adapters), the models kept are the twin's."""
    config = FlowConfig() if config is None else config
    with deterministic(config.seed, config.threads):
        return _run_flow(data, make_model, config, keep_models, restore)


def _run_flow(data, make_model, config: FlowConfig, keep_models: bool, restore) -> dict:
    start = time.perf_counter()
    seed = config.seed
    costs, metrics, models = {}, {}, {}

    torch.manual_seed(seed)
    base = make_model()
    backbone = None
    if data.background_x is not None:
        costs["backbone"] = pretrain_backbone(base, data, config.backbone, seed,
                                              config.progress)
        backbone = {k: v.clone() for k, v in base.state_dict().items()}
        if config.imprint_scale is not None:
            imprint_head(base, data, data.pretrain_classes, config.imprint_scale)
    costs["pretrain"] = pretrain(base, data, config.pretrain, seed, config.progress)
    metrics["pretrained"] = evaluate_model(base, data)
    models["pretrained"] = base

    start_from, kept = restore_start(restore, base)
    unlearned, costs["unlearn_lora"] = unlearn_lora(
        start_from, data, config.unlearn, config.forget_adapter, seed + 1, config.progress,
        kept)
    metrics["unlearned_lora"] = evaluate_model(float_network(unlearned, restore), data)
    models["unlearned_lora"] = unlearned

    continual, costs["continual_lora"] = learn_continual_lora(
        unlearned, data, config.continual, config.continual_adapter,
        [*kept, config.forget_adapter.name], seed + 2, config.progress)
    metrics["continual_lora"] = evaluate_model(float_network(continual, restore), data)
    models["continual_lora"] = continual

    if config.run_baselines:
        finetuned, costs["full_finetune"] = full_finetune(
            base, data, config.full_finetune, seed + 1, config.progress)
        metrics["full_finetune"] = evaluate_model(finetuned, data)
        models["full_finetune"] = finetuned

        torch.manual_seed(seed)  # same initial weights as the pretrained model
        retrained = make_model()
        if backbone is not None:  # the background holds no enrolled class: it stays
            retrained.load_state_dict(backbone)
            if config.imprint_scale is not None:
                imprint_head(retrained, data, data.retain_classes, config.imprint_scale)
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
