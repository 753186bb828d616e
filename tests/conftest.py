"""Shared fixtures: the chip's Verilog is written once per test session."""

import os

import pytest

from rmlora.contract import ChipParams
from rmlora.hw.build import write_verilog
from rmlora.sim.cosim import REPO_ROOT

BUILD = REPO_ROOT / "build"


@pytest.fixture(scope="session")
def chip_verilog():
    """name -> path of every block's Verilog (default ChipParams), under build/verilog."""
    return write_verilog(BUILD / "verilog", ChipParams())


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RMLORA_SLOW", "0") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason="slow sweep: set RMLORA_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
