"""Which assumption moves each projected fold most, and what would reproduce the paper's.

    rows = sensitivity("dit-b2")       # each assumption at a low and a high value
    need = required("dit-b2")          # the factor on each assumption that gives each
                                       # published fold (None: no factor in range does)
    plot(results, path)                # one panel a network, a bar a fold and assumption

Every variant reruns ``published.project`` with one input changed; the counts are
remembered (analytic._counts), so a variant costs a repricing.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from .flow import PUBLISHED
from .published import Budget, default_write_verify, lsm_512, project, published
from .spec import ActivityStats
from .table import table_for

__all__ = ["FOLDS", "ASSUMPTIONS", "sensitivity", "required", "plot"]

FOLDS = ("training_fold", "deployment_fold", "inference_energy_fold")
DIGITAL_WHOLE_LAYER = 1 << 40  # a weight buffer that holds any layer


def _table(**fields):
    return replace(table_for(), **fields)


def _sram(factor: float):
    return _table(sram_word_j=table_for().sram_word_j * factor)


def _adc(factor: float):
    t = table_for()
    return replace(t, macro=replace(t.macro, adc_fom_j_per_step=t.macro.adc_fom_j_per_step
                                    * factor))


def _with_adapters(name: str, rank: int | None = None, targets=None):
    pub = published(name)
    ad = pub.adapters[0]
    return replace(pub, adapters=(replace(ad, r=rank or ad.r,
                                          target_modules=targets or ad.target_modules),))


def _budget_ratio(name: str, ratio: float):
    """The full fine-tune (and retraining) given ``ratio`` times the LoRA update's budget."""
    pub = published(name)
    scaled = Budget(round(pub.lora.samples * ratio), max(1, round(pub.lora.steps * ratio)),
                    f"{ratio:g} x the LoRA budget")
    return replace(pub, full_finetune=scaled, retrain=scaled)


def _reprogram(factor: float):
    return default_write_verify()[1].scaled(factor)


def _spikes(name: str, rate: float):
    """The LSM at another spike rate (input and reservoir); other networks as they are."""
    return {"model": lsm_512(input_rate=rate, spike_rate=rate)} if name == "lsm-512" else {}


def _activity(name: str, converted: float, row_density: float):
    pub = published(name)
    stats = ActivityStats(converted, row_density, "sensitivity")
    return {"model": replace(pub, net=replace(pub.net, activity=stats))}


# Fewer and more of the network adapted than published, by network.
FEWER = {"dit-b2": ("fc2",), "lsm-512": ("recurrent",), "mixer-face": ("head",)}
ALL_LAYERS = ".*"

# name -> (what it is, the default, (label, project kwargs for a network) low and high).
# The factors are a decade or so either way of the table's figure, unless stated.
ASSUMPTIONS = {
    "sram_word": ("SRAM energy per 64-bit word (Horowitz 32 KB read, x16 at 180 nm)",
                  "320 pJ", ("/4", lambda n: {"table": _sram(1 / 4)}),
                  ("x4", lambda n: {"table": _sram(4)})),
    "adc": ("ADC energy (Walden FoM 100 fJ/step, 8 bits: 25.6 pJ)", "25.6 pJ",
            ("/10", lambda n: {"table": _adc(0.1)}), ("x10", lambda n: {"table": _adc(10)})),
    "pulses": ("pulses per reprogrammed cell (macro model, fitted change)", "2.8",
               ("x0.5", lambda n: {"reprogram": _reprogram(0.5)}),
               ("x4", lambda n: {"reprogram": _reprogram(4)})),
    "fresh_cells": ("a full fine-tune programs fresh cells (first programming)", "no",
                    ("no", lambda n: {}),
                    ("yes", lambda n: {"reprogram": default_write_verify()[0]})),
    "node": ("process node of the digital side (macro energies stay at 180 nm)", "180 nm",
             ("40 nm, 1.1 V", lambda n: {"table": table_for(40, 1.1)}),
             ("180 nm", lambda n: {})),
    "rank": ("LoRA rank", "published", ("1", lambda n: {"model": _with_adapters(n, rank=1)}),
             ("16", lambda n: {"model": _with_adapters(n, rank=16)})),
    "adapted": ("fraction of the network adapted", "published",
                ("fewer layers", lambda n: {"model": _with_adapters(n, targets=FEWER[n])}),
                ("every layer", lambda n: {"model": _with_adapters(n, targets=ALL_LAYERS)})),
    "budget": ("full fine-tune's budget / LoRA's (face: 200/16 epochs, published)",
               "published", ("1x", lambda n: {"model": _budget_ratio(n, 1)}),
               ("12.5x", lambda n: {"model": _budget_ratio(n, 12.5)})),
    "activity": ("converted planes and row density of int8 inputs (measured means)",
                 "0.833, 0.247", ("0.6, 0.1", lambda n: _activity(n, 0.6, 0.1)),
                 ("1.0, 0.5", lambda n: _activity(n, 1.0, 0.5))),
    "spike_rate": ("LSM spike rate, input and reservoir (assumed)", "0.1",
                   ("0.02", lambda n: _spikes(n, 0.02)), ("0.5", lambda n: _spikes(n, 0.5))),
    "digital_buffer": ("all-digital chip's weight buffer", "4 KiB (the LoRA cache)",
                       ("4 KiB", lambda n: {}),
                       ("whole layer", lambda n: {"digital_buffer_words": DIGITAL_WHOLE_LAYER})),
}


def _folds(name: str, **kw) -> dict[str, float]:
    r = project(name, **kw)
    return {k: r[k] for k in FOLDS}


def sensitivity(name: str) -> list[dict]:
    """One row an assumption: each fold at the default, the low and the high value."""
    base = _folds(name)
    rows = []
    for key, (what, default, (lo_label, lo), (hi_label, hi)) in ASSUMPTIONS.items():
        low, high = _folds(name, **lo(name)), _folds(name, **hi(name))
        rows.append({"assumption": key, "what": what, "default": default,
                     "low": lo_label, "high": hi_label,
                     "folds": {f: {"default": base[f], "low": low[f], "high": high[f]}
                               for f in FOLDS}})
    return rows


# fold -> the assumptions scaled by a factor to reach the published figure
SCALED = {
    "training_fold": {"budget": lambda n, f: {"model": _budget_ratio(n, f)}},
    "deployment_fold": {"pulses": lambda n, f: {"reprogram": _reprogram(f)},
                        "sram_word": lambda n, f: {"table": _sram(f)}},
    "inference_energy_fold": {"sram_word": lambda n, f: {"table": _sram(f)},
                              "adc": lambda n, f: {"table": _adc(f)}},
}


def required(name: str, lo: float = 1e-3, hi: float = 1e3) -> dict:
    """fold -> assumption -> the factor on it (in [lo, hi]) at which the projection
    equals the published fold (bisection on log factor; the folds are monotone in
    each), or None when no factor in range reaches it."""
    out = {}
    for fold_name, knobs in SCALED.items():
        target = PUBLISHED[fold_name]
        out[fold_name] = {}
        for key, kwargs in knobs.items():
            def gap(f, kwargs=kwargs, fold_name=fold_name, target=target):
                return math.log(_folds(name, **kwargs(name, f))[fold_name] / target)
            a, b = math.log(lo), math.log(hi)
            ga, gb = gap(lo), gap(hi)
            if ga * gb > 0:
                out[fold_name][key] = None
                continue
            for _ in range(40):
                m = (a + b) / 2
                gm = gap(math.exp(m))
                a, b, ga = (m, b, gm) if gm * ga > 0 else (a, m, ga)
            out[fold_name][key] = math.exp((a + b) / 2)
    return out


def plot(results: dict[str, list[dict]], path: Path) -> Path:
    """Each network a panel: per fold and assumption a bar from its low to its high
    value (log scale), the default and the published fold marked."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(len(names), len(FOLDS), figsize=(4.2 * len(FOLDS),
                                                               0.45 * len(ASSUMPTIONS) * len(
                                                                   names) + 1.5),
                             squeeze=False)
    for i, name in enumerate(names):
        rows = results[name]
        for j, fold_name in enumerate(FOLDS):
            ax = axes[i][j]
            for k, row in enumerate(rows):
                f = row["folds"][fold_name]
                lo, hi = sorted((f["low"], f["high"]))
                ax.plot([lo, hi], [k, k], lw=6, color="tab:blue", solid_capstyle="butt")
                ax.plot([f["default"]], [k], "k|", ms=10)
            ax.axvline(PUBLISHED[fold_name], color="tab:red", ls="--", lw=1)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_yticks(range(len(rows)), [r["assumption"] for r in rows], fontsize=7)
            ax.set_title(f"{name}: {fold_name.replace('_', ' ')}", fontsize=9)
    fig.suptitle("Projected folds: each assumption low to high (black: default; red: published)",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
