"""A flow's report (face, speaker): Markdown plus PNG plots, from the summary alone.

Everything comes from the JSON summary (rmlora.sw.tasks.run_task), so a report can
be rebuilt from a saved run: ``rmlora report --json out.json``.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import staged_report
from .cost import cost_markdown, energy_plot, pulses_plot
from .restore import restore_console, restore_markdown
from .spiking import spike_rate_plot, spiking_markdown

__all__ = ["write_flow_report", "format_flow_table", "format_flow_console"]

# (label, summary path of the chip metrics, path of the float metrics)
METHODS = [
    ("pretrained", "pretrained.chip", "pretrained.float"),
    ("unlearn: LoRA", "unlearned.lora", "unlearned.lora.float"),
    ("unlearn: full fine-tune", "unlearned.full_finetune", "unlearned.full_finetune.float"),
    ("unlearn: retrain", "unlearned.retrain", "unlearned.retrain.float"),
    ("continual: LoRA", "continual.lora", "continual.lora.float"),
]
ROLES = [("forget_acc", "forgotten class"), ("retain_acc", "kept classes"),
         ("new_acc", "new class")]
CONFUSION_STAGES = [("pretrained", "pretrained"), ("unlearned_lora", "unlearned (LoRA)"),
                    ("continual_lora", "continual (LoRA)"),
                    ("full_finetune", "full fine-tune"), ("retrained", "retrained")]


def _get(summary: dict, path: str) -> dict | None:
    value = summary
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _role_value(metrics: dict, role: str):
    # continual reports the kept classes as old_acc
    return metrics.get(role, metrics.get("old_acc") if role == "retain_acc" else None)


def _pct(value) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f} %"


def format_flow_table(summary: dict) -> str:
    """Accuracy per method and role, chip (float in brackets), as fixed-width text."""
    head = f"{'method':<26}" + "".join(f"{label:>26}" for _, label in ROLES)
    lines = [head, "-" * len(head)]
    for label, chip_path, float_path in METHODS:
        chip, flt = _get(summary, chip_path), _get(summary, float_path)
        if chip is None:
            continue
        cells = []
        for role, _ in ROLES:
            c = _role_value(chip, role)
            f = _role_value(flt, role) if flt else None
            cells.append(f"{_pct(c)} ({_pct(f)})")
        lines.append(f"{label:<26}" + "".join(f"{cell:>26}" for cell in cells))
    return "\n".join(lines)


def format_flow_console(summary: dict) -> str:
    """The accuracy table and the membership attack, as printed after a run."""
    mia = summary["mia"]
    restore = ""
    if "chip_unrestored" in summary["pretrained"]:
        restore = restore_console(
            summary, summary["pretrained"]["chip"]["retain_holdout_acc"],
            summary["pretrained"]["chip_unrestored"]["retain_holdout_acc"],
            "pretrained held-out accuracy on the chip")
    return (f"{format_flow_table(summary)}\n[{summary['task']}] membership attack member "
            f"rate: LoRA {mia['lora']:.3f}, retrained {mia['retrain']:.3f}, pretrained "
            f"{mia['pretrained']:.3f}{restore}")


def _accuracy_plot(summary: dict, path: Path):
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.add_subplot()
    methods = [(label, _get(summary, c), _get(summary, f)) for label, c, f in METHODS
               if _get(summary, c) is not None]
    x = np.arange(len(methods))
    width = 0.26
    for i, (role, role_label) in enumerate(ROLES):
        chip = [_role_value(m, role) for _, m, _ in methods]
        flt = [_role_value(f, role) if f else None for _, _, f in methods]
        pos = x + (i - 1) * width
        ax.bar(pos, [np.nan if v is None else v for v in chip], width,
               label=f"{role_label} (chip)")
        ax.scatter(pos, [np.nan if v is None else v for v in flt], color="black", s=12,
                   zorder=3, label="float" if i == 0 else None)
    ax.set_xticks(x, [label for label, _, _ in methods], fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title("Accuracy per stage and method (bars: chip, dots: float)")
    ax.legend(fontsize=7, loc="lower left")
    fig.savefig(path, dpi=110)


def _confusion_plot(summary: dict, path: Path):
    stages = [(key, label) for key, label in CONFUSION_STAGES if key in summary["confusion"]]
    fig = Figure(figsize=(3.0 * len(stages), 3.2), layout="constrained")
    names = {int(c): str(p) for p, c in summary["config"]["class_of"].items()}
    ticks = [names[c] for c in range(len(names))]
    for i, (key, label) in enumerate(stages):
        ax = fig.add_subplot(1, len(stages), i + 1)
        counts = np.asarray(summary["confusion"][key])
        ax.imshow(counts, cmap="Blues", vmin=0)
        for (r, c), n in np.ndenumerate(counts):
            if n:
                ax.text(c, r, str(n), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(ticks)), ticks, fontsize=7)
        ax.set_yticks(range(len(ticks)), ticks, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        if i == 0:
            ax.set_ylabel("true", fontsize=8)
        ax.set_title(label, fontsize=9)
    fig.suptitle("Confusion on the test inputs, on the chip", fontsize=10)
    fig.savefig(path, dpi=110)


def _conductance_plot(summary: dict, path: Path):
    prog = summary["programming"]
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.add_subplot(1, 2, 1)
    edges = np.asarray(prog["edges_us"])
    ax.stairs(prog["target_counts"], edges, label="target", fill=True, alpha=0.4)
    ax.stairs(prog["programmed_counts"], edges, label="after write-verify")
    ax.set_xlabel("conductance (uS)")
    ax.set_ylabel("cells")
    ax.set_title(f"{prog['cells']} weight cells after programming", fontsize=9)
    ax.legend(fontsize=8)
    ax = fig.add_subplot(1, 2, 2)
    ax.stairs(prog["error_counts"], np.asarray(prog["error_edges_us"]), fill=True)
    ax.set_xlabel("programmed - target (uS), clipped to the plot")
    ax.set_title(f"programming error: std {prog['error_std_us']:.2f} uS, "
                 f"max |{prog['error_max_us']:.2f}| uS", fontsize=9)
    fig.savefig(path, dpi=110)


def _markdown(summary: dict, plots: dict[str, str]) -> str:
    cfg = summary["config"]
    lines = [
        f"# rmlora {summary['task']} flow on the simulated chip",
        "",
        f"Classes {list(cfg['class_of'])}: {cfg['forget']} forgotten, {cfg['learn']} "
        f"learned later; seed {cfg['seed']}; accuracies measured on the "
        f"{cfg['backend']} chip backend ({cfg['train_inputs']} training inputs, "
        f"{cfg['test_inputs']} test inputs). Machine: {platform.machine()}, "
        f"Python {platform.python_version()}.",
        "",
        "## Targets",
        "",
        "| target | value | rule | met |",
        "|---|---|---|---|",
    ]
    for t in summary["targets"]:
        value = t["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"| `{t['key']}` | {shown} | {t['rule']} | "
                     f"{'yes' if t['met'] else '**no**'} |")
    lines += ["", "## Accuracy (chip, float in brackets)", "", "```",
              format_flow_table(summary), "```", "", f"![accuracy]({plots['accuracy']})", "",
              f"![confusion]({plots['confusion']})", ""]
    mia = summary["mia"]
    lines += ["## Membership inference on the forgotten class", "",
              f"Attack: {mia['attack']}. 0 = the attacker calls none of the forgotten "
              f"class's training inputs members.", "",
              "| model | member rate | AUC |", "|---|---|---|"]
    for key in ("pretrained", "lora", "full_finetune", "retrain"):
        if key in mia:
            lines.append(f"| {key} | {mia[key]:.3f} | {mia[key + '_auc']:.3f} |")
    lines += ["", "## What each method cost the chip", "",
              "| deployment | cells | pulses | verify reads | not converged | controller "
              "cycles | SRAM image bytes |", "|---|---|---|---|---|---|---|"]
    for name, d in summary["deploy"].items():
        lines.append(f"| {name} | {d['cells']} | {d['pulses']:,} | {d['verify_reads']:,} | "
                     f"{d['failed_cells']} | {d['cycles']:,} | {d['image_bytes']:,} |")
    lines += ["", "The LoRA stages reuse the first deployment: forgetting and learning load "
              "adapters into SRAM and never pulse a cell. Each baseline rewrites the "
              "pretrained chip's crossbars (pulses counted from the pretrained weights).", "",
              "| adapter | slot | rank | alpha | layers | SRAM bytes |",
              "|---|---|---|---|---|---|"]
    for name, a in summary["adapters"].items():
        lines.append(f"| {name} | {a['slot']} | {a['rank']} | {a['alpha']} | "
                     f"{', '.join(a['layers'])} | {a['sram_bytes']:,} |")
    if "spiking" in summary:
        lines += spiking_markdown(summary, plots["spikes"])
    lines += ["", f"![conductance]({plots['conductance']})", ""]
    lines += restore_markdown(summary)
    check = summary.get("chip_check")
    lines += ["## Chip check", ""]
    if check is None:
        lines.append("Skipped (no cosimulation backend chosen).")
    else:
        lines.append(f"{check['images']} inputs with adapters {check['adapters']} on "
                     f"{check['backend']} and on the {check['reference']} chip: "
                     f"{check['outputs_compared']} vector outputs compared, "
                     f"{check['outputs_differing']} differ; {check['records_compared']} "
                     f"records' stats compared, {check['stats_differing']} differ; "
                     f"logits equal: "
                     f"{check['logits_equal']}; bit-exact: **{check['bit_exact']}**.")
    if "cost" in summary:
        lines += cost_markdown(summary["cost"], plots)
    secs = summary["seconds"]
    lines += ["", "## Time", "", ", ".join(f"{k} {v:.1f} s" for k, v in secs.items()), ""]
    return "\n".join(lines)


@staged_report
def write_flow_report(summary: dict, out_dir: str | Path) -> Path:
    """Write report.md, summary.json and the PNG plots into out_dir; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = {"accuracy": "accuracy.png", "confusion": "confusion.png",
             "conductance": "conductance.png"}
    _accuracy_plot(summary, out / plots["accuracy"])
    _confusion_plot(summary, out / plots["confusion"])
    _conductance_plot(summary, out / plots["conductance"])
    if "spiking" in summary:
        plots["spikes"] = "spikes.png"
        spike_rate_plot(summary, out / plots["spikes"])
    if "cost" in summary:
        plots |= {"energy": "energy.png", "pulses": "pulses.png"}
        energy_plot(summary["cost"], out / plots["energy"])
        pulses_plot(summary["deploy"], out / plots["pulses"])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    report = out / "report.md"
    report.write_text(_markdown(summary, plots))
    return report
