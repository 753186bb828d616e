"""Learning flow: pretrain, LoRA unlearning, LoRA continual learning, baselines.

One pipeline (pipeline.py) trains every task in float; a task supplies data, model
and config (face.py for the Olivetti faces). on_chip.py measures the trained models
on the chip (one deployment, adapter sets per stage); chip_flow.py runs a task
end to end (face.run_face, speaker.run_speaker: `rmlora face`, `rmlora speaker`).
"""

from rmlora.sw.learn.config import AdapterSpec, FlowConfig, StageConfig
from rmlora.sw.learn.evaluate import accuracy, class_accuracy, loss_threshold_mia, roc_auc
from rmlora.sw.learn.face import face_flow_data, run_face_float
from rmlora.sw.learn.loop import StageCost, forward_macs, make_deterministic, train_stage
from rmlora.sw.learn.pipeline import evaluate_model, run_flow
from rmlora.sw.learn.stages import (
    FlowData,
    full_finetune,
    learn_continual_lora,
    pretrain,
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
    "face_flow_data",
    "forward_macs",
    "full_finetune",
    "learn_continual_lora",
    "loss_threshold_mia",
    "make_deterministic",
    "pretrain",
    "retrain_from_scratch",
    "roc_auc",
    "run_face_float",
    "run_flow",
    "train_stage",
    "unlearn_lora",
]
