"""cocotb side of bench_chip's reference: the chip's Verilator model with only its
clock running (cocotb's C++ clock, no Python on any edge, the chip held idle after
reset), so the cosimulation's cycles/s can be quoted as a fraction of the model's
own; writes the figure to the JSON file named by RMLORA_BENCH_JSON."""

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer

from rmlora.sim.host_bus import CLOCK_PERIOD_NS

CYCLES = 200_000


@cocotb.test()
async def clock_only(dut):
    dut.rst.value = 1
    Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns", impl="gpi").start()
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    t0 = time.perf_counter()
    await Timer(CYCLES * CLOCK_PERIOD_NS, unit="ns")
    wall = time.perf_counter() - t0
    with open(os.environ["RMLORA_BENCH_JSON"], "w") as f:
        json.dump({"verilator_clock_only_cycles_per_s": CYCLES / wall}, f)
