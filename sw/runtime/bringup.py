"""cocotb module behind `make bringup`: bring the chip up, then use its analogue path.

1. Host bus: read the identity registers, load a seeded pattern into the SRAM
   buffer through the bus window and read it back.
2. Analogue path, with the Python ReRAM macros attached to the macro port:
   program a block of random weights by write-verify (the RTL controller pulses
   and verifies every cell), run MVMs on it, and check every accumulator bit for
   bit against the golden model run on identical macro models.
Writes what it did and measured to the JSON file named by RMLORA_SMOKE_JSON.
"""

import json
import os
import time

import cocotb
import numpy as np

from rmlora.contract import CHIP_ID, REG, ChipParams
from rmlora.contract.xbar import XbarOp
from rmlora.sim.host_bus import start_chip
from rmlora.sim.macro_driver import MacroPortDriver
from rmlora.sim.reram import MacroArray
from rmlora.sw.formats.xbar import Descriptor
from rmlora.sw.golden import xbar as golden

SMOKE_BYTES = 4096


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def bring_up(dut):
    params = ChipParams()
    bus = await start_chip(dut)
    chip_id = await bus.read_reg("ID")
    if chip_id != CHIP_ID:
        raise AssertionError(f"ID register reads 0x{chip_id:08x}, expected 0x{CHIP_ID:08x}")
    version = REG["VERSION"].unpack(await bus.read_reg("VERSION"))
    hw = REG["HW_SRAM"].unpack(await bus.read_reg("HW_SRAM"))

    pattern = np.random.default_rng(0).integers(0, 256, SMOKE_BYTES, dtype=np.uint8).tobytes()
    wall0, cyc0 = time.perf_counter(), await bus.cycles()
    await bus.write_sram(0, pattern)
    cyc1 = await bus.cycles()
    readback = await bus.read_sram(0, SMOKE_BYTES)
    cyc2, wall1 = await bus.cycles(), time.perf_counter()
    if readback != pattern:
        bad = next(i for i in range(SMOKE_BYTES) if readback[i] != pattern[i])
        raise AssertionError(f"SRAM byte {bad} reads {readback[bad]}, wrote {pattern[bad]}")

    words = SMOKE_BYTES // 4
    report = {
        "chip_id": f"0x{chip_id:08x}",
        "contract_version": f"{version['MAJOR']}.{version['MINOR']}.{version['PATCH']}",
        "sram_words": 1 << hw["DEPTH_LOG2"],
        "sram_word_bytes": hw["WIDTH_BYTES"],
        "sram_bytes_expected": params.sram_bytes,
        "loaded_bytes": SMOKE_BYTES,
        "readback_equal": True,
        "write_cycles_per_word": (cyc1 - cyc0) / words,
        "read_cycles_per_word": (cyc2 - cyc1) / words,
        "chip_cycles": cyc2 - cyc0,
        "wall_s": wall1 - wall0,
        "chip_cycles_per_s": (cyc2 - cyc0) / (wall1 - wall0),
    }
    report.update(await analogue_path(bus))
    out = os.environ.get("RMLORA_SMOKE_JSON")
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=2)


async def run_descriptor(bus, desc) -> dict:
    status = await bus.run_xbar(desc, poll_cycles=200)
    if status["ERROR"]:
        raise AssertionError(f"descriptor refused: ERR_CODE {await bus.read_reg('ERR_CODE')}")
    return status


async def analogue_path(bus, n_in: int = 16, n_out: int = 16, n_inputs: int = 4) -> dict:
    p = ChipParams()
    wb = p.sram_word_bytes
    rng = np.random.default_rng(1)
    chip, twin = MacroArray(p, seed=1), MacroArray(p, seed=1)
    MacroPortDriver(bus.dut, chip)
    cfg = chip[0].config
    w = rng.integers(-cfg.w_max, cfg.w_max + 1, (n_in, n_out))
    targets = chip[0].weight_to_target_code(w)
    await bus.write_sram(8 * wb, targets.astype(np.uint8).tobytes())
    desc = Descriptor(XbarOp.PROGRAM, n_in, n_out, src=8, dst=64,
                             tolerance=cfg.verify_tolerance_codes)
    program = await run_descriptor(bus, desc)
    result = np.frombuffer(await bus.read_sram(64 * wb, n_in * n_out), dtype=np.uint8)
    want, failed, _ = golden.program(desc, targets, twin)
    pulses = result & 0x7F
    desc = Descriptor(XbarOp.MVM, n_in, n_out, src=8, dst=64, gain_shift=3)
    exact, errors, mvm_cycles = True, [], 0
    for _ in range(n_inputs):
        x = rng.integers(-128, 128, n_in).astype(np.int8)
        await bus.write_sram(8 * wb, x.tobytes())
        mvm_cycles = (await run_descriptor(bus, desc))["cycles"]
        acc = np.frombuffer(await bus.read_sram(64 * wb, 4 * n_out), dtype="<i4")
        gold, _ = golden.mvm(desc, x[None, :], twin)
        exact &= bool(np.array_equal(acc, gold[0]))
        ideal = x.astype(np.int64) @ w
        errors.append(float(np.sqrt(np.mean((acc - ideal) ** 2) / np.mean(ideal ** 2.0))))
    return {
        "programmed_cells": n_in * n_out,
        "program_cycles": program["cycles"],
        "write_verify_pulses_mean": float(pulses.mean()),
        "write_verify_pulses_max": int(pulses.max()),
        "not_converged_cells": int(np.count_nonzero(result & 0x80)),
        "program_matches_golden": bool(np.array_equal(result, want.ravel())) and failed == int(
            np.count_nonzero(result & 0x80)),
        "mvm_inputs": n_inputs,
        "mvm_cycles": mvm_cycles,
        "mvm_bit_exact": exact,
        "mvm_rel_rms_error_vs_ideal": float(np.mean(errors)),
    }
