"""Host inference of a compiled network on a chip, with a per-layer report.

The host runs the network's steps (rmlora.sw.runtime.network): the chip runs its
segments, the host the integer operations between them. Given a reference chip
(the golden backend, same seed, same deployment), every record's output of every
run is compared byte for byte.
"""

from dataclasses import dataclass

import numpy as np

from rmlora.sw.compiler import CompiledModel

from .chip import Chip, SegmentRun
from .network import run_network

__all__ = ["LayerReport", "infer", "run_recorded", "format_table"]


@dataclass
class LayerReport:
    """One weight matrix over one inference: all its records (layer passes) together."""

    layer: str
    vectors: int
    cycles: int
    adc: int
    mvm: int
    analogue_macs: int  # n_in * n_out per vector, computed in the crossbar
    lora_macs: int  # the LoRA unit's multiply-accumulates
    matched: bool | None  # every output byte equal to the reference's (None: no reference)
    sram: int = 0  # SRAM core-port words its records moved (SeqStats.sram)
    cache: int = 0  # adapter words the LoRA unit read from its cache (SeqStats.cache)
    records: int = 0  # its layer-pass records (each writes one SeqStats record)


def run_recorded(chip: Chip, compiled: CompiledModel, inputs
                 ) -> tuple[np.ndarray, list[SegmentRun]]:
    """int8 logits and every segment run (each record's outputs and stats), in order."""
    runs = []

    def run_segment(segment, x):
        y, run = chip.run(segment, x)
        runs.append(run)
        return y

    return run_network(compiled, inputs, run_segment), runs


def infer(chip: Chip, compiled: CompiledModel, inputs, reference: Chip | None = None
          ) -> tuple[np.ndarray, list[LayerReport]]:
    """int8 logits (B, classes) and the per-layer report of one inference (counts per
    input; every input costs the same: the chip's timing does not depend on data)."""
    logits, runs = run_recorded(chip, compiled, inputs)
    ref_runs = run_recorded(reference, compiled, inputs)[1] if reference is not None else None
    rows: dict[str, LayerReport] = {}
    for i, run in enumerate(runs):
        for layer, st in run.stats.items():  # a record: the layer over its vectors
            cl = compiled.layer(layer)
            keys = [key for key in run.outputs if key[0] == layer]
            row = rows.setdefault(layer, LayerReport(layer, 0, 0, 0, 0, 0, 0, None))
            row.vectors += len(keys)
            row.records += 1
            row.cycles += st.cycles
            row.adc += st.adc
            row.mvm += st.mvm
            row.lora_macs += st.macs
            row.sram += st.sram
            row.cache += st.cache
            row.analogue_macs += cl.n_in * cl.n_out * len(keys)
            if ref_runs is not None:
                same = all(np.array_equal(run.outputs[key], ref_runs[i].outputs[key])
                           for key in keys)
                row.matched = same and row.matched is not False
    return logits, list(rows.values())


def format_table(rows: list[LayerReport]) -> str:
    head = (f"{'layer':<26}{'vectors':>8}{'cycles':>10}{'ADC conv':>10}{'xbar MACs':>11}"
            f"{'LoRA MACs':>11}  bit-exact")
    lines = [head, "-" * len(head)]
    for r in rows:
        match = "-" if r.matched is None else ("yes" if r.matched else "NO")
        lines.append(f"{r.layer:<26}{r.vectors:>8}{r.cycles:>10,}{r.adc:>10,}"
                     f"{r.analogue_macs:>11,}{r.lora_macs:>11,}  {match}")
    total = LayerReport("total", sum(r.vectors for r in rows), sum(r.cycles for r in rows),
                        sum(r.adc for r in rows), 0, sum(r.analogue_macs for r in rows),
                        sum(r.lora_macs for r in rows), None)
    lines.append("-" * len(head))
    lines.append(f"{total.layer:<26}{total.vectors:>8}{total.cycles:>10,}{total.adc:>10,}"
                 f"{total.analogue_macs:>11,}{total.lora_macs:>11,}")
    return "\n".join(lines)
