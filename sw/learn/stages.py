"""The learning stages of the flow, each one call on (model, data, config).

``FlowData`` is what a task hands the pipeline: tensors plus the roles of the classes
(which one is forgotten, which one is learned later into the spare output). The
stages never look at pixels or people, so the speaker and image tasks reuse them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from rmlora.sw.learn.config import AdapterSpec, StageConfig
from rmlora.sw.learn.loop import StageCost, train_stage
from rmlora.sw.lora import (
    adapter_parameters,
    inject_adapter,
    mark_only_adapter_trainable,
    set_active_adapters,
)


@dataclass(frozen=True)
class FlowData:
    """Train/test tensors of one task and the role of each class.

    ``holdout_*`` are extra non-member samples drawn like the training samples (e.g.
    augmented views of test images) for the membership-inference attack.
    ``background_*`` (optional) are samples of classes the task never enrols (faces of
    the other people): the backbone stage learns features from them before pretraining.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    holdout_x: torch.Tensor
    holdout_y: torch.Tensor
    forget_class: int
    new_class: int
    background_x: torch.Tensor | None = None
    background_y: torch.Tensor | None = None  # 0..n_background-1, own numbering

    @classmethod
    def from_split(cls, split, forget, learn) -> FlowData:
        """A task's split (train/test/holdout tensors and ``class_of``: class id by
        person or speaker) with ``forget`` and ``learn`` given by their ids."""
        for role, who in (("forget", forget), ("learn", learn)):
            if who not in split.class_of:
                raise ValueError(f"{role}={who!r} is not among {list(split.class_of)}")
        return cls(split.train_x, split.train_y, split.test_x, split.test_y,
                   split.holdout_x, split.holdout_y,
                   forget_class=split.class_of[forget], new_class=split.class_of[learn])

    def __post_init__(self):
        if self.forget_class == self.new_class:
            raise ValueError("forget_class and new_class must differ")
        if (self.background_x is None) != (self.background_y is None):
            raise ValueError("background_x and background_y come together")
        if self.background_x is not None and len(self.background_x) != len(self.background_y):
            raise ValueError(f"background: {len(self.background_x)} inputs but "
                             f"{len(self.background_y)} labels")
        for split in ("train", "test"):
            labels = set(getattr(self, f"{split}_y").tolist())
            for role in ("forget_class", "new_class"):
                if getattr(self, role) not in labels:
                    raise ValueError(f"{role}={getattr(self, role)} has no {split} samples")

    @property
    def retain_classes(self) -> list[int]:
        """Pretrained classes that are kept (all but the forgotten and the new one)."""
        return sorted(set(self.train_y.tolist()) - {self.forget_class, self.new_class})

    @property
    def pretrain_classes(self) -> list[int]:
        return sorted(self.retain_classes + [self.forget_class])

    def train_rows(self, classes: list[int]) -> torch.Tensor:
        return torch.isin(self.train_y, torch.tensor(classes, dtype=self.train_y.dtype))


def check_roles(names: list, forget, learn, kind: str, enrolled: str) -> None:
    """A task's classes: distinct, at least two (one is forgotten), the forgotten one
    among them and the one learned later not. kind/enrolled name them in errors."""
    if len(set(names)) != len(names):
        raise ValueError(f"{kind} must be distinct, got {names}")
    if len(names) < 2:
        raise ValueError(f"need at least 2 {enrolled} {kind} (one forgotten), got {names}")
    if forget not in names:
        raise ValueError(f"forget={forget!r} must be one of the {enrolled} {kind} {names}")
    if learn in names:
        raise ValueError(f"learn={learn!r} must not be one of the {enrolled} {kind} {names}")


def _forget_objective(data: FlowData, config: StageConfig, seed: int):
    """Retained rows at weight 1; forgotten rows at ``forget_weight`` (gradient ascent)
    or, with forget_method "relabel", relabelled to kept classes drawn with ``seed``."""
    rows = data.train_rows(data.pretrain_classes)
    x, y = data.train_x[rows], data.train_y[rows]
    forgotten = y == data.forget_class
    if config.forget_method == "relabel":
        kept = torch.tensor(data.retain_classes, dtype=y.dtype)
        draw = torch.randint(len(kept), (int(forgotten.sum()),),
                             generator=torch.Generator().manual_seed(seed))
        y = y.clone()
        y[forgotten] = kept[draw]
        return x, y, torch.ones(len(y))
    return x, y, torch.where(forgotten, config.forget_weight, 1.0)


class _BackboneWithHead(nn.Module):
    """The model's features under a temporary head over the background classes."""

    def __init__(self, model: nn.Module, n_classes: int):
        super().__init__()
        self.model = model
        self.head = nn.Linear(model.head.in_features, n_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.model.features(x))


def pretrain_backbone(
    model: nn.Module, data: FlowData, config: StageConfig, seed: int, progress: bool = False
) -> StageCost:
    """Train the model's features (everything but ``model.head``, which stays as it
    was initialised) to tell the background classes apart, under a temporary head that
    is then dropped. Needs ``model.features(x)`` and ``model.head`` (an nn.Linear)."""
    if data.background_x is None:
        raise ValueError("backbone: the task's data has no background samples")
    if not hasattr(model, "features") or not isinstance(getattr(model, "head", None),
                                                        nn.Linear):
        raise ValueError(f"backbone: {type(model).__name__} needs features() and a "
                         f"linear head")
    n_classes = int(data.background_y.max()) + 1
    trainer = _BackboneWithHead(model, n_classes)
    params = [p for name, p in trainer.named_parameters() if not name.startswith("model.head.")]
    return train_stage("backbone", trainer, params, data.background_x, data.background_y,
                       None, config, seed, progress)


def imprint_head(model: nn.Module, data: FlowData, classes: list[int], scale: float) -> None:
    """Set ``model.head``'s row of each class in ``classes`` to the direction of that
    class's mean training feature, at length ``scale`` (weight imprinting: Qi, Brown
    and Lowe, "Low-shot learning with imprinted weights", CVPR 2018). After the
    backbone stage the features already tell people apart, so training starts from a
    nearest-mean classifier instead of a random head. Other rows stay as they are."""
    if not scale > 0:
        raise ValueError(f"imprint: scale must be > 0, got {scale}")
    with torch.no_grad():
        features = model.features(data.train_x)
        for c in classes:
            mean = features[data.train_y == c].mean(dim=0)
            if not torch.isfinite(mean).all() or mean.norm() == 0:
                raise ValueError(f"imprint: class {c} has no usable training feature")
            model.head.weight[c] = scale * mean / mean.norm()


def pretrain(
    model: nn.Module, data: FlowData, config: StageConfig, seed: int, progress: bool = False
) -> StageCost:
    """Train all weights on the pretrained people (the spare output stays unused)."""
    rows = data.train_rows(data.pretrain_classes)
    return train_stage("pretrain", model, list(model.parameters()), data.train_x[rows],
                       data.train_y[rows], None, config, seed, progress)


def retrain_from_scratch(
    model: nn.Module, data: FlowData, config: StageConfig, seed: int, progress: bool = False
) -> StageCost:
    """Exact-unlearning reference: a fresh model trained without the forgotten person."""
    rows = data.train_rows(data.retain_classes)
    return train_stage("retrain", model, list(model.parameters()), data.train_x[rows],
                       data.train_y[rows], None, config, seed, progress)


def full_finetune(
    pretrained: nn.Module, data: FlowData, config: StageConfig, seed: int, progress: bool = False
) -> tuple[nn.Module, StageCost]:
    """Baseline: unlearning objective on all weights (on the chip: reprogram the arrays)."""
    model = copy.deepcopy(pretrained)
    for p in model.parameters():
        p.requires_grad_(True)
    x, y, weight = _forget_objective(data, config, seed)
    cost = train_stage("full_finetune", model, list(model.parameters()), x, y, weight, config,
                       seed, progress, classes=data.pretrain_classes)
    return model, cost


def unlearn_lora(
    pretrained: nn.Module,
    data: FlowData,
    config: StageConfig,
    adapter: AdapterSpec,
    seed: int,
    progress: bool = False,
    keep_active: tuple[str, ...] = (),
) -> tuple[nn.Module, StageCost]:
    """Forget one class with a LoRA adapter on a frozen copy of the pretrained model.

    Cross-entropy on retained people plus gradient ascent (``forget_weight`` < 0) on
    the forgotten one; only the adapter trains, so the crossbars are never rewritten.
    ``keep_active``: adapters already on the model that stay on, frozen (the restore
    stage's compensation).
    """
    model = copy.deepcopy(pretrained)
    inject_adapter(model, adapter.name, adapter.r, adapter.alpha, list(adapter.target_modules),
                   generator=torch.Generator().manual_seed(seed))
    set_active_adapters(model, list(keep_active) + [adapter.name])
    mark_only_adapter_trainable(model, adapter.name)
    x, y, weight = _forget_objective(data, config, seed)
    cost = train_stage("unlearn_lora", model, adapter_parameters(model, adapter.name), x, y,
                       weight, config, seed, progress, classes=data.pretrain_classes)
    return model, cost


def learn_continual_lora(
    unlearned: nn.Module,
    data: FlowData,
    config: StageConfig,
    adapter: AdapterSpec,
    keep_active: list[str],
    seed: int,
    progress: bool = False,
) -> tuple[nn.Module, StageCost]:
    """Add the new person (spare output) with a second adapter; ``keep_active`` stay frozen.

    Trained on the new person plus the retained people (rehearsal, so they are not
    overwritten). The forgotten person's data is not used: it has been deleted; the
    forget adapter stays active, so the person stays forgotten.
    """
    model = copy.deepcopy(unlearned)
    inject_adapter(model, adapter.name, adapter.r, adapter.alpha, list(adapter.target_modules),
                   generator=torch.Generator().manual_seed(seed))
    set_active_adapters(model, list(keep_active) + [adapter.name])
    mark_only_adapter_trainable(model, adapter.name)
    rows = data.train_rows(data.retain_classes + [data.new_class])
    cost = train_stage("continual_lora", model, adapter_parameters(model, adapter.name),
                       data.train_x[rows], data.train_y[rows], None, config, seed, progress)
    return model, cost
