"""cocotb side of bench_xbar: write-verify and MVM on the RTL with the macro models
attached; writes measured figures to the JSON file named by RMLORA_BENCH_JSON."""

import json
import os

import cocotb
import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.xbar import XbarOp
from rmlora.sim.host_bus import start_chip
from rmlora.sw.formats.xbar import Descriptor
from rmlora.sw.golden import xbar as golden
from tests.cosim.tb_xbar import PERF, Bench, macro_config

P = ChipParams()
WB = P.sram_word_bytes
BLOCK = 16  # write-verify a BLOCK x BLOCK block (one macro-port transaction per pulse/verify)
MVMS = 20  # single-tile 128x128 MVMs


@cocotb.test(timeout_time=5000, timeout_unit="ms")
async def bench(dut):
    rng = np.random.default_rng(0)
    bench = Bench(await start_chip(dut), macro_config(), seed=0)
    cfg = bench.chip_macros[0].config
    figures = {}

    w = rng.integers(-cfg.w_max, cfg.w_max + 1, (BLOCK, BLOCK))
    targets = bench.chip_macros[0].weight_to_target_code(w)
    await bench.bus.write_sram(8 * WB, targets.astype(np.uint8).tobytes())
    desc = Descriptor(XbarOp.PROGRAM, BLOCK, BLOCK, src=8, dst=64, macro=1,
                             tolerance=cfg.verify_tolerance_codes, max_pulses=60)
    status = await bench.run(desc)
    counts = np.frombuffer(await bench.bus.read_sram(64 * WB, BLOCK * BLOCK), dtype=np.uint8)
    pulses = (counts & 0x7F).astype(float)
    figures.update(write_verify_pulses_mean=float(pulses.mean()),
                   write_verify_pulses_p99=float(np.percentile(pulses, 99)),
                   write_verify_failed_cells=int(np.count_nonzero(counts & 0x80)),
                   write_verify_cycles_per_cell=status["cycles"] / BLOCK**2,
                   cosim_program_cycles_per_s=status["sim_cycles"] / status["wall_s"])

    # single-tile MVM: cycles against the analytic count
    full = rng.integers(-cfg.w_max, cfg.w_max + 1, (P.macro_rows, P.macro_cols))
    bench.chip_macros[0].program_statistical(full)
    desc = Descriptor(XbarOp.MVM, P.macro_rows, P.macro_cols, src=8, dst=64,
                             gain_shift=5)
    await bench.bus.write_sram(8 * WB, rng.integers(-128, 128, P.macro_rows, dtype=np.int8)
                               .tobytes())
    status = await bench.run(desc)
    figures.update(mvm_cycles=status["cycles"], mvm_cycles_analytic=golden.mvm_cycles(desc, P),
                   mvm_adc_conversions=status["adc"])

    # cosimulation speed while the chip computes (simulated cycles from START to the
    # status poll that saw it done, per wall second): a layer tiled over all four macros
    n = 2 * P.macro_rows
    for m in range(4):
        bench.chip_macros[m].program_statistical(full)
    desc = Descriptor(XbarOp.MVM, n, 2 * P.macro_cols, src=8, dst=64, gain_shift=6)
    cycles, wall = 0, 0.0
    for _ in range(MVMS):
        await bench.bus.write_sram(8 * WB, rng.integers(-128, 128, n, dtype=np.int8).tobytes())
        status = await bench.run(desc, poll_cycles=1000)
        cycles, wall = cycles + status["sim_cycles"], wall + status["wall_s"]
    figures.update(cosim_verilator_cycles_per_s=cycles / wall,
                   tiled_mvm_cycles=status["cycles"])
    assert set(PERF) <= set(status)
    with open(os.environ["RMLORA_BENCH_JSON"], "w") as f:
        json.dump(figures, f)
