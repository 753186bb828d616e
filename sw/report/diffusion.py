"""The image-generation task's report: targets, judge rates per stage, Frechet
distances, cost, and a grid of samples per stage (PNG), from the summary alone."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .atomic import staged_report
from .cost import cost_markdown, energy_plot, pulses_plot
from .restore import restore_markdown

__all__ = ["format_diffusion_table", "write_diffusion_report"]

STAGES = [("pretrained", "pretrained"), ("erased", "erased (LoRA)"),
          ("styled", "erased + style (LoRA)"), ("full_finetune", "erased by full fine-tune"),
          ("retrained", "retrained without the digit")]


def format_diffusion_table(summary: dict) -> str:
    head = (f"{'stage':<30}{'prompted':>10}{'erased digit':>14}{'other digits':>14}"
            f"{'style':>8}{'FD':>8}")
    lines = [head, "-" * len(head)]
    for key, label in STAGES:
        r = summary[key]
        fd = summary["fid"].get(key)
        lines.append(f"{label:<30}{r['prompt_rate']:>10.3f}{r['erased_digit_rate']:>14.3f}"
                     f"{r['other_prompt_rate']:>14.3f}{r['style_rate']:>8.3f}"
                     f"{'' if fd is None else f'{fd:.1f}':>8}")
    return "\n".join(lines)


def _grid_plot(summary: dict, path: Path):
    fig = Figure(figsize=(2.2 * len(STAGES), 3.4), layout="constrained")
    for i, (key, label) in enumerate(STAGES):
        ax = fig.add_subplot(1, len(STAGES), i + 1)
        ax.imshow(np.asarray(summary["grids"][key]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks(np.arange(10) * 8 + 3.5, [str(d) for d in range(10)], fontsize=7)
    fig.suptitle("Samples on the chip, one row per prompted digit", fontsize=10)
    fig.savefig(path, dpi=110)


@staged_report
def write_diffusion_report(summary: dict, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = {"samples": "samples.png", "energy": "energy.png", "pulses": "pulses.png"}
    _grid_plot(summary, out / plots["samples"])
    energy_plot(summary["cost"], out / plots["energy"])
    pulses_plot(summary["deploy"], out / plots["pulses"])
    cfg = summary["config"]
    model = {"dit": "the diffusion transformer (DiT)", "mlp": "the MLP denoiser"}.get(
        cfg.get("model", "mlp"), cfg.get("model"))
    lines = [f"# rmlora diffusion flow on the simulated chip: {model}", "",
             f"Digit {cfg['erase']} erased (anchor {cfg['anchor']}), style {cfg['style']!r} "
             f"learned; {cfg['samples_per_digit']} samples per digit, {cfg['steps']} steps; "
             f"seed {cfg['seed']}; sampled on the {cfg['backend']} chip backend. Machine: "
             f"{platform.machine()}, Python {platform.python_version()}.", "",
             "## Targets", "", "| target | value | rule | met |", "|---|---|---|---|"]
    for t in summary["targets"]:
        value = t["value"]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"| `{t['key']}` | {shown} | {t['rule']} | "
                     f"{'yes' if t['met'] else '**no**'} |")
    lines += ["", "## What the judge sees (chip)", "", "```", format_diffusion_table(summary),
              "```", "", "FD: Frechet distance of the judge's features of the kept digits' "
              "samples against real kept digits.", ""]
    if "fid_float" in summary:
        lines += ["The float model's FD: " + ", ".join(
            f"{stage} {value:.1f} (the chip's is {summary['fid_ratio'][stage]:.2f}x)"
            for stage, value in summary["fid_float"].items()) + ".", ""]
    lines += [f"![samples]({plots['samples']})", ""]
    lines += restore_markdown(summary)
    lines += cost_markdown(summary["cost"], plots)
    check = summary.get("chip_check")
    lines += ["## Chip check", ""]
    lines.append("Skipped." if check is None else
                 f"{check['images']} denoising-step inputs with adapters {check['adapters']} on "
                 f"{check['backend']} and on the {check['reference']} chip: "
                 f"{check['outputs_differing']} of {check['outputs_compared']} vector outputs "
                 f"differ, {check['stats_differing']} of {check['records_compared']} records' "
                 f"stats; bit-exact: **{check['bit_exact']}**; macro counters equal: "
                 f"{check['activity_equal']}.")
    lines += ["", "## Time", "", ", ".join(f"{k} {v:.1f} s"
                                           for k, v in summary["seconds"].items()), ""]
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
