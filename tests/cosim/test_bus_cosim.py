"""Runs tb_bus on the chip's Verilog: on the default simulator (SIM, Verilator
unless set) and, so that both stay working, on Icarus too."""

from pathlib import Path

import pytest

from rmlora.sim.cosim import default_simulator, run_on_chip

HERE = Path(__file__).parent


@pytest.mark.cosim
@pytest.mark.parametrize("sim", sorted({default_simulator(), "icarus"}))
def test_host_bus(chip_verilog, sim):
    run_on_chip(chip_verilog, "tb_bus", sim=sim, python_search=[HERE])
