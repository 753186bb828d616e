"""A robustness sweep's report: a table, three plots and Markdown, from the summary alone
(rmlora.sw.robust.sweep.sweep), so a saved JSON rebuilds it."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rmlora.sw.units import parse_seconds

from .atomic import staged_report

__all__ = ["format_robustness_table", "write_robustness_report", "robustness_markdown"]

SWEEPS = [("noise", "programming error std (uS)"), ("stuck", "stuck-at rate (%)"),
          ("drift", "time since programming")]


def _pct(entry: dict, key: str) -> str:
    stats = entry.get("stats", {}).get(key)
    if stats is None:
        return "-"
    return f"{100 * stats['mean']:.1f} ± {100 * stats['std']:.1f} ({100 * stats['worst']:.1f})"


def _rows(summary: dict) -> list[list[str]]:
    rows = [["nominal", "-", _pct(summary["noiseless"], "deployed"),
             _pct(summary["noiseless"], "compensated"),
             _pct(summary["noiseless"], "forget_acc"), "-", "-", "-"]]
    for kind, _ in SWEEPS:
        for label, e in summary.get(f"by_{kind}", {}).items():
            hwa, pred = e.get("hwa", {}), e.get("aihwkit", {})
            rows.append([kind, label, _pct(e, "deployed"), _pct(e, "compensated"),
                         _pct(e, "forget_acc"), f"{e['failed_cells']:.1f}",
                         f"{_pct(hwa, 'deployed')} / {_pct(hwa, 'compensated')}" if hwa else "-",
                         " / ".join(f"{100 * pred[k]:.1f}" for k in ("plain", "hwa") if k in pred)
                         or "-"])
    return rows


HEADER = ["sweep", "level", "deployed %", "compensated %", "forget % (adapters + comp.)",
          "failed cells", "HWA deployed / compensated %", "aihwkit plain / HWA %"]


def format_robustness_table(summary: dict) -> str:
    """Plain text: mean ± std (worst) over the runs of each level."""
    rows = [HEADER] + _rows(summary)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _x(kind: str, labels: list[str]) -> np.ndarray:
    if kind == "drift":
        return np.array([max(parse_seconds(label), 1e-3) for label in labels])
    return np.array([float(label) for label in labels])


def _plot(summary: dict, kind: str, xlabel: str, path: Path) -> bool:
    by = summary.get(f"by_{kind}")
    if not by:
        return False
    labels = list(by)
    x = _x(kind, labels)
    fig = Figure(figsize=(6, 3.6))
    ax = fig.subplots()
    series = [("deployed", by, "plain, deployed", "-o"),
              ("compensated", by, "plain, compensated", "-s")]
    hwa = {label: e["hwa"] for label, e in by.items() if "hwa" in e}
    if len(hwa) == len(by):
        series += [("deployed", hwa, "hardware-aware, deployed", "--o"),
                   ("compensated", hwa, "hardware-aware, compensated", "--s")]
    for key, entries, name, style in series:
        mean = np.array([100 * entries[label]["stats"][key]["mean"] for label in labels])
        std = np.array([100 * entries[label]["stats"][key]["std"] for label in labels])
        ax.errorbar(x, mean, yerr=std, fmt=style, capsize=3, label=name)
    if all("aihwkit" in e for e in by.values()):
        for net, style in (("plain", ":"), ("hwa", ":")):
            if all(net in by[label]["aihwkit"] for label in labels):
                ax.plot(x, [100 * by[label]["aihwkit"][net] for label in labels], style,
                        label=f"aihwkit prediction, {net}")
    ax.axhline(100 * summary["noiseless_acc"], color="grey", lw=0.8, label="noiseless chip")
    if kind == "drift":
        ax.set_xscale("log")
        ax.set_xticks(x, labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy, pretrained classes (%)")
    ax.set_ylim(0, 102)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def robustness_markdown(summary: dict, plots: dict[str, str], targets: list[dict]) -> list[str]:
    """The report's section: setup, targets, table, plots."""
    lines = [f"Task {summary['task']}, seed {summary['seed']}, {summary['runs']} Monte Carlo "
             f"runs per level; compensation adapter rank {summary['compensation_rank']} "
             f"({summary['noiseless']['compensation_bytes']:,} SRAM bytes); hardware-aware "
             f"network trained at {summary['hwa_noise_us']} uS. Runs took "
             f"{summary['seconds']['runs']:.0f} s.", "",
             "Cells are mean ± std (worst) over the runs. 'forget' is the forgotten class's "
             "accuracy with the forget, continual and compensation adapters on.", ""]
    for t in targets:
        lines.append(f"- target `{t['key']}` {t['rule']}: {t['value']:.3f} -> "
                     f"{'met' if t['met'] else 'NOT MET'}")
    lines += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(summary)]
    lines.append("")
    lines += [f"![{name}]({file})" for name, file in plots.items()]
    return lines


@staged_report
def write_robustness_report(summary: dict, targets: list[dict], out_dir: str | Path) -> Path:
    """report.md, summary.json (without the per-run results) and the plots."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = {kind: f"{kind}.png" for kind, label in SWEEPS
             if _plot(summary, kind, label, out / f"{kind}.png")}
    lines = ["# Robustness on the simulated chip", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}.", ""]
    lines += robustness_markdown(summary, plots, targets)
    (out / "report.md").write_text("\n".join(lines) + "\n")
    short = {k: v for k, v in summary.items() if k != "results"}
    (out / "summary.json").write_text(json.dumps(short | {"targets": targets}, indent=1))
    return out / "report.md"
