"""The cost comparisons in a report: a table beside the published folds, a stacked
bar chart of inference energy by component, and write-verify pulses per cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["format_cost_table", "cost_markdown", "energy_plot", "pulses_plot",
           "format_projection", "sensitivity_markdown"]

FOLDS = [("training_fold", "training energy of the update (vs full fine-tune)"),
         ("deployment_fold", "deployment energy (vs reprogramming the crossbars)"),
         ("inference_energy_fold", "inference energy per input (vs all-digital)")]


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_cost_table(cost: dict) -> str:
    lines = [f"{'comparison':<55}{'measured':>10}{'published':>11}", "-" * 76]
    for key, label in FOLDS:
        lines.append(f"{label:<55}{cost[key]:>9.2f}x{cost['published'][key]:>10.2f}x")
    t, d, i = cost["training"], cost["deployment"], cost["inference"]["lora"]
    lines += [
        "-" * 76,
        f"training: LoRA {_si(t['lora']['energy_j'], 'J')} ({t['lora']['trainable_params']} "
        f"params), full fine-tune {_si(t['full_finetune']['energy_j'], 'J')}, retrain "
        f"{_si(t['retrain']['energy_j'], 'J')}" if "retrain" in t else "",
        f"deployment: LoRA {d['lora']['bytes']} B to SRAM, {_si(d['lora']['energy_j'], 'J')}, "
        f"{_si(d['lora']['time_s'], 's')}; full fine-tune {d['full_finetune']['pulses']:,} "
        f"pulses, {_si(d['full_finetune']['energy_j'], 'J')}, "
        f"{_si(d['full_finetune']['time_s'], 's')}",
        f"inference: hybrid {_si(i['hybrid']['energy_j'], 'J')} in "
        f"{_si(i['hybrid']['latency_s'], 's')}, all-digital {_si(i['digital']['energy_j'], 'J')}"
        f" in {_si(i['digital']['latency_s'], 's')}, analogue only "
        f"{_si(cost['inference']['analog_only']['hybrid']['energy_j'], 'J')}",
    ]
    c = cost.get("calibration")  # summaries from before issue 22 have none
    if c is not None:
        lines.append(f"analytic model on this run: deterministic counts "
                     f"{'all equal' if c['all_exact'] else 'DIFFER'}, energies within "
                     f"{c['max_rel_error']:.2%} (calibration.max_rel_error)")
    return "\n".join(line for line in lines if line)


def energy_plot(cost: dict, path: Path):
    bars = [("hybrid + LoRA", cost["inference"]["lora"]["hybrid"]),
            ("hybrid, no adapters", cost["inference"]["analog_only"]["hybrid"]),
            ("all-digital + LoRA", cost["inference"]["lora"]["digital"])]
    components = sorted({c for _, b in bars for c in b["by_component_j"]})
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(bars))
    for comp in components:
        values = np.array([b["by_component_j"].get(comp, 0.0) * 1e9 for _, b in bars])
        ax.bar([label for label, _ in bars], values, bottom=bottom, label=comp)
        bottom += values
    ax.set_ylabel("energy per input (nJ)")
    ax.set_title(f"Inference energy by component ({cost['table']['node_nm']:.0f} nm)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def pulses_plot(deploy: dict, path: Path):
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for name, label in (("lora", "first deployment"), ("full_finetune", "full fine-tune "
                                                      "(reprogramming)")):
        counts = np.asarray(deploy[name]["pulses_per_cell"])
        top = int(np.flatnonzero(counts).max(initial=0)) + 2
        ax.stairs(counts[:top], np.arange(top + 1) - 0.5, label=label)
    ax.set_xlabel("write-verify pulses per cell")
    ax.set_ylabel("cells")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def cost_markdown(cost: dict, plots: dict[str, str]) -> list[str]:
    return ["## Cost against the alternatives", "",
            "Counts the chip and the flow produced, priced by `rmlora.sw.cost.table` "
            "(45 nm figures of Horowitz, ISSCC 2014, scaled to 180 nm; the macro model's "
            "own pulse, verify, row and ADC energies).", "", "```",
            format_cost_table(cost), "```", "", f"![energy]({plots['energy']})", "",
            f"![pulses]({plots['pulses']})", ""]


def format_projection(result: dict) -> str:
    """A published network's projection (sw.cost.published.project, plus ``sensitivity``
    and ``required`` if present) as text: folds beside the published, the baselines."""
    t, d, i, chip = result["training"], result["deployment"], result["inference"], result["chip"]
    lines = [f"{result['model']}: {chip['weight_cells']:,} weight cells on {chip['macros']:,} "
             f"{chip['macro']} macros ({chip['chips']} chip{'s' * (chip['chips'] > 1)} of "
             f"{chip['macros_per_chip']}); "
             f"{result['note']}",
             f"{'comparison':<55}{'projected':>10}{'published':>11}", "-" * 76]
    for key, label in FOLDS:
        lines.append(f"{label:<55}{result[key]:>9.2f}x{result['published'][key]:>10.2f}x")
    lines += [
        "-" * 76,
        f"training: LoRA {_si(t['lora']['energy_j'], 'J')} ({t['lora']['trainable_params']:,} "
        f"params), full fine-tune {_si(t['full_finetune']['energy_j'], 'J')}, retrain "
        f"{_si(t['retrain']['energy_j'], 'J')} ({result['training_fold_vs_retrain']:.2f}x); "
        f"trainable parameters {result['trainable_params_fold']:.1f}x",
        f"deployment: LoRA {d['lora']['bytes']:,} B to SRAM {_si(d['lora']['energy_j'], 'J')}; "
        f"full fine-tune {d['full_finetune']['pulses']:,.0f} pulses "
        f"{_si(d['full_finetune']['energy_j'], 'J')}; first programming "
        f"{_si(d['first_programming']['energy_j'], 'J')}",
        f"inference: hybrid {_si(i['hybrid']['energy_j'], 'J')}, all-digital "
        f"{_si(i['digital']['energy_j'], 'J')}, GPU {_si(i['gpu']['energy_j'], 'J')} "
        f"({i['gpu']['bound']} bound; {result['inference_energy_fold_vs_gpu']:.2f}x)"]
    if "sensitivity" in result:
        lines += ["", sensitivity_markdown(result["sensitivity"])]
    if "required" in result:
        lines += ["", "factor on an assumption that reproduces the published fold:"]
        for fold_name, knobs in result["required"].items():
            lines.append(f"  {fold_name}: " + ", ".join(
                f"{k} x{v:.3g}" if v is not None else f"{k}: none in 1e-3..1e3"
                for k, v in knobs.items()))
    return "\n".join(lines)


def sensitivity_markdown(rows: list[dict]) -> str:
    """The sensitivity rows as a Markdown table: each fold low / default / high."""
    out = ["| assumption (default) | low / high | training | deployment | inference |",
           "|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{f['low']:.3g} / {f['default']:.3g} / {f['high']:.3g}"
                 for f in (r["folds"][k] for k, _ in FOLDS)]
        out.append(f"| {r['what']} ({r['default']}) | {r['low']} / {r['high']} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out)
