"""A task's targets, typed: one field per target, so a misspelt target is an error.

    FACE = ClassifierTargets(pretrained_acc=at_least(0.95), forget_acc=at_most(0.05))

Each field of a targets class names the summary value it bounds once (its ``key``);
a task sets the bounds it has and leaves the others None (not a target). The rows
written into a summary keep the order of the fields: {key, value, rule, met}.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

__all__ = ["Bound", "at_least", "at_most", "within", "equals", "Targets", "ClassifierTargets",
           "lookup", "check_targets"]

RULES = (">=", "<=", "abs<=", "==")


@dataclass(frozen=True)
class Bound:
    """One comparison of a summary value: value >= bound, <= bound, |value| <= bound or
    == bound."""

    rule: str
    bound: float | bool

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"rule {self.rule!r}: choose one of {', '.join(RULES)}")

    def met(self, value) -> bool:
        if value is None:
            return False
        if self.rule == ">=":
            return bool(value >= self.bound)
        if self.rule == "<=":
            return bool(value <= self.bound)
        if self.rule == "abs<=":
            return bool(abs(value) <= self.bound)
        return bool(value == self.bound)


def at_least(bound: float) -> Bound:
    return Bound(">=", bound)


def at_most(bound: float) -> Bound:
    return Bound("<=", bound)


def within(bound: float) -> Bound:
    return Bound("abs<=", bound)


def equals(bound) -> Bound:
    return Bound("==", bound)


def target(key: str, default: Bound | None = None):
    """A targets field bounding the summary value at ``key`` (dotted path)."""
    return field(default=default, metadata={"key": key})


def lookup(summary: dict, key: str):
    value = summary
    for part in key.split("."):
        value = value[part]
    return value


@dataclass(frozen=True)
class Targets:
    """Base of a task's targets: the set fields, in order, as (key, rule, bound).

    ``OPTIONAL``: summary sections a run may leave out (the chip check, when no
    cosimulation backend is chosen): their targets read as not run. Any other
    missing value is an error of the task, not a target that failed."""

    OPTIONAL = ("chip_check",)

    def __post_init__(self):
        for f in fields(self):
            if not isinstance(getattr(self, f.name), Bound | None):
                raise ValueError(f"{f.name}: a Bound (at_least, at_most, within, equals) or "
                                 f"None, got {getattr(self, f.name)!r}")

    def bounds(self) -> Iterator[tuple[str, Bound]]:
        """(summary key, Bound) of every set field, in field order."""
        for f in fields(self):
            bound = getattr(self, f.name)
            if bound is not None:
                yield f.metadata["key"], bound

    def __iter__(self) -> Iterator[tuple[str, str, float | bool]]:
        for key, bound in self.bounds():
            yield key, bound.rule, bound.bound

    def check(self, summary: dict) -> list[dict]:
        return check_targets(summary, self)


def check_targets(summary: dict, targets: Targets) -> list[dict]:
    """[{key, value, rule, met}] for every target of ``targets``; a value in a section
    the run left out (``Targets.OPTIONAL``) fails its target with value None."""
    rows = []
    for key, bound in targets.bounds():
        try:
            value = lookup(summary, key)
        except KeyError:
            if key.split(".")[0] not in Targets.OPTIONAL:
                raise KeyError(f"target {key!r}: no such value in the summary") from None
            value = None
        rows.append({"key": key, "value": value, "rule": f"{bound.rule} {bound.bound}",
                     "met": bound.met(value)})
    return rows


@dataclass(frozen=True)
class ClassifierTargets(Targets):
    """Targets of a classification task (forget a class, learn a new one), measured on
    the chip; the chip check's two are on unless set to None."""

    pretrained_acc: Bound | None = target("pretrained.chip.test_acc")
    forget_acc: Bound | None = target("unlearned.lora.forget_acc")
    retain_drop: Bound | None = target("unlearned.lora.retain_drop")
    new_acc: Bound | None = target("continual.lora.new_acc")
    old_acc: Bound | None = target("continual.lora.old_acc")
    continual_forget_acc: Bound | None = target("continual.lora.forget_acc")
    mia_gap: Bound | None = target("mia.lora_minus_retrain")
    bit_exact: Bound | None = target("chip_check.bit_exact", equals(True))
    activity_equal: Bound | None = target("chip_check.activity_equal", equals(True))
