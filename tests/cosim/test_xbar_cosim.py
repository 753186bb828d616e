"""Runs tb_xbar: the crossbar controller RTL with the Python macro models attached."""

from pathlib import Path

import pytest

from rmlora.sim.cosim import default_simulator, run_on_chip

HERE = Path(__file__).parent


@pytest.mark.cosim
def test_crossbar_controller(chip_verilog):
    run_on_chip(chip_verilog, "tb_xbar", sim=default_simulator(), python_search=[HERE])
