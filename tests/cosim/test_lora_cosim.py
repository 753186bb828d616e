"""Runs tb_lora: the LoRA unit with an SRAM buffer, on Verilator (SIM picks)."""

from pathlib import Path

import pytest
from amaranth.back import verilog

from rmlora.hw.toolchain import write_if_changed
from rmlora.sim.cosim import REPO_ROOT, default_simulator, run_cocotb

from .lora_top import NAME, LoraTop
from .tb_lora import P

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def lora_top_verilog():
    path = REPO_ROOT / "build" / "verilog" / f"{NAME}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = verilog.convert(LoraTop(P), name=NAME, emit_src=False)
    write_if_changed(path, text)
    return path


@pytest.mark.cosim
def test_lora_unit(lora_top_verilog):
    run_cocotb([lora_top_verilog], NAME, "tb_lora", sim=default_simulator(),
               python_search=[HERE, REPO_ROOT])
