"""Whole chip: host inference of the face-sized demo network (the face MLP-Mixer's
shape: 16 tokens of 16 pixels, 10 weight matrices, ~5k weights; two rank-6 adapters
on every layer, both enabled).

golden: the chip's cycles, conversions and LoRA MACs per inference, from a batch of
1024 on the golden backend (its speed is bench_golden's). cosim: seconds per inference
and simulated chip cycles per second on Verilator (model build excluded: the simulator
is started, the network deployed and loaded, and one inference run before timing: the
simulator's first MVMs load the compiled macro kernel, a one-off second), for 8
inferences; the cycles include the host bus traffic (inputs in, every layer's output
and stats out).
Beside it, in the same run, the same Verilator model with only its clock running
(tb_bench_clock.py): `cosim_vs_clock_only_ratio` is the share of the model's own speed
the cosimulation keeps.
"""

import json
import tempfile
import time
from pathlib import Path

from rmlora.hw.build import TOP_NAME, write_verilog
from rmlora.sim.cosim import REPO_ROOT, run_on_chip
from rmlora.sw.compiler import compile_model
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.infer import infer

BATCH, COSIM_INPUTS = 1024, 8
HERE = Path(__file__).resolve().parent


def _ready(compiled, backend):
    chip = Chip(backend=backend, seed=1)
    chip.deploy(compiled.plan)
    chip.load(compiled.image, names=compiled.adapter_slots)
    chip.enable(list(compiled.adapter_slots))
    return chip


def run() -> dict:
    compiled = compile_model(demo_model("face"), demo_inputs("face", 256, 100))
    chip = _ready(compiled, "golden")
    x = demo_inputs("face", BATCH, 0)
    _, rows = infer(chip, compiled, x)
    cycles = sum(r.cycles for r in rows)
    out = {"face_chip_cycles_per_inference": cycles,
           "face_chip_us_per_inference_at_100MHz": cycles / 100.0,
           "face_adc_conversions_per_inference": sum(r.adc for r in rows),
           "face_lora_macs_per_inference": sum(r.lora_macs for r in rows)}
    with _ready(compiled, "verilator") as sim:
        infer(sim, compiled, demo_inputs("face", 1, 2))  # warm-up, not timed
        x = demo_inputs("face", COSIM_INPUTS, 1)
        cycles0, t0 = sim.backend.sim_cycles, time.perf_counter()
        infer(sim, compiled, x)
        wall = time.perf_counter() - t0
        out["cosim_verilator_s_per_inference"] = wall / COSIM_INPUTS
        out["cosim_verilator_chip_cycles_per_s"] = (sim.backend.sim_cycles - cycles0) / wall
        out["cosim_verilator_cycles_per_inference"] = (sim.backend.sim_cycles - cycles0) / \
            COSIM_INPUTS
    out.update(clock_only())
    out["cosim_vs_clock_only_ratio"] = (out["cosim_verilator_chip_cycles_per_s"]
                                        / out["verilator_clock_only_cycles_per_s"])
    return out


def clock_only() -> dict:
    verilog = write_verilog(REPO_ROOT / "build" / "verilog", only={TOP_NAME})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clock.json"
        run_on_chip(verilog, "tb_bench_clock", sim="verilator", python_search=[HERE, REPO_ROOT],
                    extra_env={"RMLORA_BENCH_JSON": str(path)})
        return json.loads(path.read_text())
