"""cocotb module behind `make sim` (for now): bring the chip up over its host bus.

Reads the identity registers, loads a seeded pattern into the SRAM buffer
through the bus window, reads it back, and writes what it did and measured to
the JSON file named by RMLORA_SMOKE_JSON, for the command line to print.
"""

import json
import os
import time

import cocotb
import numpy as np

from rmlora.contract import CHIP_ID, REG, ChipParams

from .host_bus import start_chip

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
    out = os.environ.get("RMLORA_SMOKE_JSON")
    if out:
        with open(out, "w") as f:
            json.dump(report, f, indent=2)
