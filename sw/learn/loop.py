"""The one training loop every stage uses, and the activity it reports.

Each stage returns a ``StageCost``: what was actually run (sample passes, optimizer
steps, trainable parameters, analogue and digital multiply-accumulates per forward
pass). The cost model turns these counts into energy and time later; here they are
only counted, never estimated.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from rmlora.sw.learn.config import StageConfig
from rmlora.sw.models.trace import trace_linear


def make_deterministic(seed: int, threads: int) -> None:
    """Same seed, same numbers: fixed RNG, deterministic kernels, fixed thread count."""
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


@contextmanager
def deterministic(seed: int, threads: int):
    """``make_deterministic`` for a block; the caller's torch settings come back after."""
    was_deterministic, was_threads = torch.are_deterministic_algorithms_enabled(), (
        torch.get_num_threads())
    make_deterministic(seed, threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_num_threads(was_threads)


@dataclass(frozen=True)
class StageCost:
    """Activity of one training stage (inputs to the cost model)."""

    stage: str
    epochs: int
    samples_per_epoch: int
    sample_passes: int  # samples x epochs: forward + backward passes run
    optimizer_steps: int
    trainable_params: int
    total_params: int
    analog_macs_per_sample: int  # products with frozen (crossbar) weights, one forward
    digital_macs_per_sample: int  # products in LoRA branches (digital unit), one forward
    backward_macs_per_sample: int  # weight and input gradients of one sample (linear_calls)
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LinearCall:
    """One nn.Linear run in a forward pass of one sample, in execution order."""

    name: str
    macs: int  # rows x in_features x out_features
    digital: bool  # a LoRA A or B (the digital unit); else a crossbar matrix
    trainable: bool  # its weight requires grad
    grad_input: bool  # backward computes its input gradient (a trainable layer ran before)


def linear_calls(model: nn.Module, example: torch.Tensor) -> list[LinearCall]:
    """Every ``nn.Linear`` of one forward pass of one sample, with hooks.

    Backward costs per layer: the weight gradient (macs) if the weight trains, the
    input gradient (macs) if any trainable layer ran before it in the pass, since
    only then does the gradient have to flow through it."""
    calls = []

    def on_call(name: str, mod: nn.Linear, rows: int) -> None:
        calls.append(LinearCall(name, rows * mod.in_features * mod.out_features,
                                ".lora_A." in name or ".lora_B." in name,
                                mod.weight.requires_grad, any(c.trainable for c in calls)))

    trace_linear(model, example, on_call)
    return calls


def forward_macs(model: nn.Module, example: torch.Tensor) -> tuple[int, int]:
    """(analogue, digital) multiply-accumulates of one forward pass of one sample:
    LoRA A and B run on the digital unit, every other ``nn.Linear`` on the crossbars."""
    calls = linear_calls(model, example)
    return (sum(c.macs for c in calls if not c.digital),
            sum(c.macs for c in calls if c.digital))


def backward_macs(calls: list[LinearCall]) -> int:
    """Multiply-accumulates of one sample's backward pass (see linear_calls)."""
    return sum(c.macs * (int(c.trainable) + int(c.grad_input)) for c in calls)


def _loss_columns(classes, y: torch.Tensor):
    """(columns, y as positions among them): the labels remapped onto ``classes``."""
    if classes is None:
        return None, y
    columns = torch.tensor(sorted(set(classes)), dtype=torch.long)
    missing = set(y.unique().tolist()) - set(columns.tolist())
    if missing:
        raise ValueError(f"labels {sorted(missing)} are not among the loss classes "
                         f"{columns.tolist()}")
    return columns, torch.searchsorted(columns, y.long())


def train_stage(
    stage: str,
    model: nn.Module,
    params: list[nn.Parameter],
    x: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None,
    config: StageConfig,
    seed: int,
    progress: bool = False,
    classes: list[int] | None = None,
) -> StageCost:
    """Adam on per-sample weighted cross-entropy, ``mean(weight * CE)``, over ``params``
    (AdamW with decoupled weight decay when ``config.weight_decay`` > 0).

    ``classes``: the output columns the cross-entropy is taken over (default: all);
    the others get no gradient, so a stage cannot move an output it does not use.

    A negative weight is gradient ascent on those samples (the forgetting term), whose
    loss is capped at ``config.forget_loss_cap``. The
    shuffling order comes from its own generator seeded by ``seed``, so a stage is
    reproducible whatever ran before it; so does the thinning of the inputs
    (``config.input_thinning``), when there is one.
    """
    if len(x) == 0:
        raise ValueError(f"{stage}: no training samples")
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError(f"{stage}: nothing to train (no parameter requires grad)")
    weight = torch.ones(len(x)) if weight is None else weight
    columns, y = _loss_columns(classes, y)
    optimizer = (torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
                 if config.weight_decay else torch.optim.Adam(params, lr=config.lr))
    order_gen = torch.Generator().manual_seed(seed)
    thin_gen = torch.Generator().manual_seed(seed) if config.input_thinning else None
    calls = linear_calls(model, x)
    analog = sum(c.macs for c in calls if not c.digital)
    digital = sum(c.macs for c in calls if c.digital)
    steps = 0
    start = time.perf_counter()
    model.train()
    bar = tqdm(range(config.epochs), desc=stage, disable=not progress, leave=False)
    for _ in bar:
        total = 0.0
        for idx in torch.randperm(len(x), generator=order_gen).split(config.batch_size):
            w = weight[idx]
            xb = x[idx]
            if thin_gen is not None:
                xb = xb * (torch.rand(xb.shape, generator=thin_gen) >= config.input_thinning)
            logits = model(xb)
            logits = logits if columns is None else logits[:, columns]
            ce = F.cross_entropy(logits, y[idx], reduction="none",
                                 label_smoothing=config.label_smoothing)
            if config.forget_loss_cap is not None:  # ascent stops at the cap (zero gradient)
                ce = torch.where(w < 0, ce.clamp(max=config.forget_loss_cap), ce)
            loss = (w * ce).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            total += loss.item() * len(idx)
        bar.set_postfix(loss=f"{total / len(x):.4f}")
    model.eval()
    return StageCost(
        stage=stage,
        epochs=config.epochs,
        samples_per_epoch=len(x),
        sample_passes=config.epochs * len(x),
        optimizer_steps=steps,
        trainable_params=sum(p.numel() for p in params),
        total_params=sum(p.numel() for p in model.parameters()),
        analog_macs_per_sample=analog,
        digital_macs_per_sample=digital,
        backward_macs_per_sample=backward_macs(calls),
        seconds=time.perf_counter() - start,
    )
