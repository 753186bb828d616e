"""A sweep's table and report (rmlora.sw.tasks.sweep.run_sweep), from the sweep's JSON
alone, so a saved sweep rebuilds them.

One row per choice, then the mean, worst and best rows; the figures are lettered
columns (their keys are long) with a legend below. A figure that is a target and
misses it in a choice is marked ``*``.
"""

from __future__ import annotations

import json
import platform
import string
from pathlib import Path

from .atomic import staged_report

__all__ = ["format_sweep_table", "write_sweep_report"]

BETTER_WORDS = {"high": "higher is better", "low": "lower is better",
                "zero": "nearer 0 is better"}


def _letters(n: int) -> list[str]:
    letters = string.ascii_lowercase
    return [letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26] for i in range(n)]


def _rows(sweep: dict) -> tuple[list[str], list[list[str]]]:
    keys = list(sweep["aggregate"])
    header = ["#", "seed", "met", *_letters(len(keys))]
    rows = []
    for i, choice in enumerate(sweep["choices"], 1):
        measured = [m for m in choice["targets"].values() if m is not None]
        cells = [f"{choice['figures'][k]:.3f}" + ("*" if choice["targets"].get(k) is False
                                                  else "") for k in keys]
        rows.append([str(i), str(choice["seed"]), f"{sum(measured)}/{len(measured)}", *cells])
    for stat in ("mean", "worst", "best"):
        rows.append([stat, "", "", *(f"{sweep['aggregate'][k][stat]:.3f}" for k in keys)])
    return header, rows


def _legend(sweep: dict) -> list[str]:
    keys = list(sweep["aggregate"])
    rules, met_in = sweep.get("target_rules", {}), sweep["targets_met_in"]
    lines = []
    for letter, key in zip(_letters(len(keys)), keys, strict=True):
        target = f"; target {rules[key]}, met in {met_in[key]}" if key in met_in else ""
        lines.append(f"{letter}: {key} ({BETTER_WORDS[sweep['aggregate'][key]['better']]}"
                     f"{target})")
    return lines


def _met_lines(sweep: dict) -> list[str]:
    """How many (choice, target) pairs met their target, how many choices met all."""
    choices = sweep["choices"]
    measured = [m for c in choices for m in c["targets"].values() if m is not None]
    every = sum(all(m is not False for m in c["targets"].values()) for c in choices)
    not_run = [key for key in choices[0]["targets"] if key not in sweep["targets_met_in"]]
    return [f"targets met: {sum(measured)} of {len(measured)} (choice, target) pairs; "
            f"{every} of {len(choices)} choices meet every target"
            + (f" (not run: {', '.join(not_run)})" if not_run else "")]


def format_sweep_table(sweep: dict) -> str:
    """Plain text: the table, the legend, the choices and the targets met."""
    header, rows = _rows(sweep)
    rows = [header, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 3, "-" * len(lines[0]))
    lines += _legend(sweep)
    lines += [f"#{i}: {c['choice']}" for i, c in enumerate(sweep["choices"], 1)]
    return "\n".join(lines + _met_lines(sweep))


@staged_report
def write_sweep_report(sweep: dict, out_dir: str | Path) -> Path:
    """report.md (the table in Markdown) and sweep.json in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header, rows = _rows(sweep)
    lines = [f"# Sweep of the {sweep['task']} task", "",
             f"{len(sweep['choices'])} random choices (never the default), drawn with seed "
             f"{sweep['seed']}; measured on the golden chip; "
             f"{sweep['seconds']['total']:.0f} s on {sweep['workers']} worker(s). "
             f"Machine: {platform.machine()}, Python {platform.python_version()}.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "A `*` marks a target missed in that choice.", ""]
    lines += [f"- {line}" for line in _legend(sweep)]
    lines += [""] + [f"- #{i}: {c['choice']}, seed {c['seed']}"
                     for i, c in enumerate(sweep["choices"], 1)]
    lines += [""] + _met_lines(sweep)
    (out / "report.md").write_text("\n".join(lines) + "\n")
    (out / "sweep.json").write_text(json.dumps(sweep, indent=1))
    return out / "report.md"
