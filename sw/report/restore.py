"""The restore stage in a report: the compensation adapter and what it left per layer."""

from __future__ import annotations

__all__ = ["restore_markdown", "restore_console"]

_HOW = {"fitted": "fitted to",  # restore.Restore: a reduced-rank fit per layer
        "trained": "trained on the network's pretraining data on a twin holding"}  # LSM


def restore_console(summary: dict, with_it: float, without: float, what: str) -> str:
    """One line: the compensation and a figure with and without it ("" if no restore
    stage ran)."""
    r = summary.get("restore")
    if r is None:
        return ""
    return (f"\n[{summary['task']}] restore: compensation rank {r['rank']} "
            f"({r['sram_bytes']:,} B of SRAM); {what} {with_it:.3f} with it, "
            f"{without:.3f} without")


def restore_markdown(summary: dict) -> list[str]:
    """The restore section: rank, SRAM, probing cost and the per-layer fit."""
    r = summary.get("restore")
    if r is None:
        return ["## Restore stage", "", "Not run (`--no-restore`).", ""]
    lines = ["## Restore stage", "",
             f"Compensation adapter of rank {r['rank']} in slot {r['slot']} "
             f"({r['sram_bytes']:,} B of SRAM), {_HOW[r.get('fit', 'fitted')]} the weights "
             f"the probe read through the deployed chip's MVMs ({r['probe_repeats']} reads "
             f"per weight, {r['probe_adc_conversions']:,} ADC conversions). It stays on in "
             f"every later stage; the adapters were trained on the chip's twin.", "",
             "| layer | weight error RMS (weight units) | output error left |",
             "|---|---|---|"]
    for name, stats in r["layers"].items():
        lines.append(f"| {name} | {stats['weight_error_rms']:.2f} | "
                     f"{stats['output_error_left']:.3f} |")
    if r.get("fit") == "trained":
        lines += ["", "Trained on the network's output, the compensation's error left is "
                  "the logits' (RMS against the nominal network, on the calibration "
                  "inputs), the same for both layers."]
    return lines + [""]
