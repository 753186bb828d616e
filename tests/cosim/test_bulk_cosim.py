"""Runs tb_bulk (the bulk port on the chip top) on the default simulator and Icarus."""

from pathlib import Path

import pytest

from rmlora.sim.cosim import default_simulator, run_on_chip

HERE = Path(__file__).parent


@pytest.mark.cosim
@pytest.mark.parametrize("sim", sorted({default_simulator(), "icarus"}))
def test_bulk_port(chip_verilog, sim):
    run_on_chip(chip_verilog, "tb_bulk", sim=sim, python_search=[HERE])
