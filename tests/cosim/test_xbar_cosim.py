"""Runs tb_xbar: the crossbar controller RTL with the Python macro models attached."""

from pathlib import Path

import pytest

from rmlora.hw.build import TOP_NAME
from rmlora.sim.cosim import default_simulator, run_cocotb

HERE = Path(__file__).parent


@pytest.mark.cosim
def test_crossbar_controller(chip_verilog):
    run_cocotb([chip_verilog[TOP_NAME]], TOP_NAME, "tb_xbar", sim=default_simulator(),
               python_search=[HERE])
