"""Host bus: bus cycles per 32-bit word, and cosimulation speed on both simulators.

Runs the `make sim` bring-up (4 KiB written and read back through the SRAM
window by cocotbext-axi) on Verilator and on Icarus. The speed is chip cycles
per wall-clock second with cocotbext-axi's per-cycle coroutines attached, the
worst case for cocotb; the macro-port driver of later issues works per
transaction instead.
"""

import json
import tempfile
from pathlib import Path

from rmlora.contract import ChipParams
from rmlora.hw.build import TOP_NAME, write_verilog
from rmlora.sim.cosim import REPO_ROOT, run_on_chip


def run() -> dict:
    verilog = write_verilog(REPO_ROOT / "build" / "verilog", ChipParams(),
                            only={TOP_NAME})
    figures = {}
    for sim in ("verilator", "icarus"):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "smoke.json"
            run_on_chip(verilog, "rmlora.sw.runtime.bringup", sim=sim,
                       extra_env={"RMLORA_SMOKE_JSON": str(out)})
            report = json.loads(out.read_text())
        figures[f"bus_{sim}_chip_cycles_per_s"] = round(report["chip_cycles_per_s"])
        figures["bus_write_cycles_per_word"] = report["write_cycles_per_word"]
        figures["bus_read_cycles_per_word"] = report["read_cycles_per_word"]
    return figures
