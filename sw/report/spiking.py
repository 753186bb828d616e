"""A spiking network's section of a flow report: spike rates per layer and step."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["spike_rate_plot", "spiking_markdown"]

STAGE_LABELS = {"pretrained": "pretrained", "unlearned_lora": "unlearned (LoRA)",
                "continual_lora": "continual (LoRA)"}


def spike_rate_plot(summary: dict, path: Path) -> None:
    """The input layer's and the reservoir's spike rate at every step, one reservoir
    line per chip stage."""
    s = summary["spiking"]
    steps = list(range(s["steps"]))
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(steps, s["input_rate"], "k--", label=f"input ({s['channels']} channels)")
    for stage, rates in s["reservoir_rate"].items():
        ax.plot(steps, rates, marker="o", label=f"reservoir, {STAGE_LABELS.get(stage, stage)}")
    ax.set_xlabel("time step")
    ax.set_ylabel("spike rate (spikes per neuron per step)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Spike rates on the chip, {s['neurons']} LIF neurons", fontsize=9)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)


def spiking_markdown(summary: dict, plot: str) -> list[str]:
    s = summary["spiking"]
    lines = ["## Spike rates", "",
             "Per step, mean over the test utterances and the layer's neurons, measured on "
             "the chip (the reservoir's spikes are its LIF layer pass's outputs).", "",
             "| layer | " + " | ".join(f"t={t}" for t in range(s["steps"])) + " |",
             "|---|" + "---|" * s["steps"],
             "| input | " + " | ".join(f"{r:.3f}" for r in s["input_rate"]) + " |"]
    for stage, rates in s["reservoir_rate"].items():
        lines.append(f"| reservoir, {STAGE_LABELS.get(stage, stage)} | "
                     + " | ".join(f"{r:.3f}" for r in rates) + " |")
    e = s.get("event_driven_digital")
    if e is not None:
        lines += ["", f"Inference energy per utterance with every adapter on: the hybrid "
                  f"chip {e['hybrid_j'] * 1e6:.2f} uJ; the all-digital chip of the cost "
                  f"model (every weight read and multiplied at every step) "
                  f"{e['dense_fold']:.2f}x that; an event-driven all-digital chip (only "
                  f"the weight rows of the {e['active_rows_per_input']:,.0f} inputs that "
                  f"spiked, read and added) {e['energy_j'] * 1e6:.2f} uJ, "
                  f"**{e['fold']:.2f}x** the hybrid's."]
    return lines + ["", f"![spike rates]({plot})", ""]
