"""Learning flow: backbone, pretrain, LoRA unlearning, LoRA continual learning, baselines.

One pipeline (pipeline.py) trains every classification task in float; a task
(rmlora.sw.tasks) supplies data, model and config. on_chip.py measures trained
models on the chip; chip_flow.py is every task's on-chip part (one deployment,
adapter sets per stage, the baselines reprogrammed) with its evaluators: a
classifier's (chip_flow.py) and a sampler's (sampling.py). diffusion.py trains the
image-generation task's denoiser.
"""

from rmlora.sw.learn.config import AdapterSpec, FlowConfig, StageConfig
from rmlora.sw.learn.evaluate import (
    accuracy,
    class_accuracy,
    evaluate_model,
    loss_threshold_mia,
    roc_auc,
)
from rmlora.sw.learn.loop import StageCost, forward_macs, make_deterministic, train_stage
from rmlora.sw.learn.pipeline import run_flow
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

__all__ = [
    "AdapterSpec",
    "FlowConfig",
    "FlowData",
    "StageConfig",
    "StageCost",
    "accuracy",
    "class_accuracy",
    "evaluate_model",
    "forward_macs",
    "full_finetune",
    "imprint_head",
    "learn_continual_lora",
    "loss_threshold_mia",
    "make_deterministic",
    "pretrain",
    "pretrain_backbone",
    "retrain_from_scratch",
    "roc_auc",
    "run_flow",
    "train_stage",
    "unlearn_lora",
]
