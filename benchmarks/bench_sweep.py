"""A short `rmlora sweep` of every registered task: 2 random choices each (seed 0,
inline, golden chip, no chip check), its wall time per choice and every figure's mean
and worst over the two, with the (choice, target) pairs met. The full sweeps are
`rmlora sweep --task TASK --choices 10`.

A task whose data is missing ($RMLORA_DATA) reports nothing.
"""

CHOICES = 2


def _figures(sweep: dict) -> dict:
    name = sweep["task"]
    measured = [m for c in sweep["choices"] for m in c["targets"].values() if m is not None]
    out = {
        f"sweep_{name}_choices": len(sweep["choices"]),
        f"sweep_{name}_s": sweep["seconds"]["total"],
        f"sweep_{name}_s_per_choice": sweep["seconds"]["total"] / len(sweep["choices"]),
        f"sweep_{name}_targets_met": sum(measured),
        f"sweep_{name}_targets": len(measured),
    }
    for key, stats in sweep["aggregate"].items():
        out[f"sweep_{name}_{key}_mean"] = stats["mean"]
        out[f"sweep_{name}_{key}_worst"] = stats["worst"]
    return out


def run(tasks=None) -> dict:
    """``tasks``: names to sweep (default: every registered task)."""
    from rmlora.sw.tasks import TASKS
    from rmlora.sw.tasks.sweep import run_sweep

    out = {}
    for name in TASKS if tasks is None else tasks:
        task = TASKS[name]
        missing = task.data_missing()
        if missing:
            print(f"  ({name} skipped: {missing})")
            continue
        out |= _figures(run_sweep(task, CHOICES, seed=0))
    return out
