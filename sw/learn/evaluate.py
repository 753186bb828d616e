"""Metrics of unlearning and continual learning.

- forget accuracy: the forgotten person's test images still recognised as that person;
- retain accuracy: the other pretrained people's test images;
- new-person accuracy: the person learned later;
- membership inference (loss-threshold attack, Yeom et al., CSF 2018): can the loss of
  the forgotten person's *training* samples be told apart from that of the same
  person's *held-out* samples? A model that never saw the person (the retrained
  reference) cannot; an unlearned model should be as blind, neither lower (remembers)
  nor higher (the "Streisand effect" of over-forgetting) than the reference.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .stages import FlowData


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(chunk).argmax(1) for chunk in x.split(batch_size)]) if len(x) else (
        torch.empty(0, dtype=torch.long)
    )


@torch.no_grad()
def sample_losses(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy: the attacker's only observation."""
    model.eval()
    return F.cross_entropy(model(x), y, reduction="none")


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction correct; NaN for an empty set (an absent metric, not a perfect one)."""
    if len(x) == 0:
        return float("nan")
    return (predict(model, x) == y).float().mean().item()


def class_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: list[int]
) -> float:
    """Accuracy on the samples whose label is in ``classes``."""
    mask = torch.isin(y, torch.tensor(classes, dtype=y.dtype))
    return accuracy(model, x[mask], y[mask])


def predicted_class_accuracy(pred, y, classes: list[int]) -> float:
    """Accuracy of predicted classes `pred` (numpy) on the samples whose label `y` is in
    ``classes`` (a chip's or an integer network's predictions); NaN if there are none."""
    rows = np.isin(y, classes)
    return float(np.mean(pred[rows] == y[rows])) if rows.any() else float("nan")


def roc_auc(member_scores: torch.Tensor, nonmember_scores: torch.Tensor) -> float:
    """P(score of a member > score of a non-member), ties counted half (Mann-Whitney U)."""
    diff = member_scores[:, None] - nonmember_scores[None, :]
    return ((diff > 0).double() + 0.5 * (diff == 0).double()).mean().item()


def best_threshold(member_scores: torch.Tensor, nonmember_scores: torch.Tensor):
    """(balanced accuracy, threshold) of the best single rule "member if score >= t"."""
    thresholds = torch.cat([member_scores, nonmember_scores, torch.tensor([float("inf")])])
    tpr = (member_scores[None, :] >= thresholds[:, None]).double().mean(1)
    tnr = (nonmember_scores[None, :] < thresholds[:, None]).double().mean(1)
    balanced = 0.5 * (tpr + tnr)
    best = int(balanced.argmax())
    return balanced[best].item(), thresholds[best].item()


def best_threshold_accuracy(member_scores: torch.Tensor, nonmember_scores: torch.Tensor) -> float:
    return best_threshold(member_scores, nonmember_scores)[0]


def calibrated_member_rate(
    model: nn.Module,
    reference_members: tuple[torch.Tensor, torch.Tensor],
    reference_nonmembers: tuple[torch.Tensor, torch.Tensor],
    target: tuple[torch.Tensor, torch.Tensor],
) -> float:
    """Fraction of ``target`` samples an attacker calls members.

    The attacker fits its loss threshold on data whose membership it knows (the
    retained people's training vs held-out samples) and applies it to the forgotten
    person's training samples ("MIA efficacy" of Jia et al., NeurIPS 2023, with a
    loss threshold). Far less noisy than the AUC on a few images of one person.
    """
    members = -sample_losses(model, *reference_members)
    nonmembers = -sample_losses(model, *reference_nonmembers)
    _, threshold = best_threshold(members, nonmembers)
    return (-sample_losses(model, *target) >= threshold).double().mean().item()


def loss_threshold_mia(
    model: nn.Module,
    member_x: torch.Tensor,
    member_y: torch.Tensor,
    nonmember_x: torch.Tensor,
    nonmember_y: torch.Tensor,
) -> dict[str, float]:
    """Loss-threshold attack: low loss => member. AUC 0.5 = no membership signal."""
    member = -sample_losses(model, member_x, member_y)
    nonmember = -sample_losses(model, nonmember_x, nonmember_y)
    return {
        "auc": roc_auc(member, nonmember),
        "best_acc": best_threshold_accuracy(member, nonmember),
        "members": len(member),
        "nonmembers": len(nonmember),
    }


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
