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


def pytest_configure(config):
    """Under pytest-xdist (`make test`), each worker gets its share of the cores for torch
    and BLAS, and so do the processes it starts: two workers each running two threads on
    two cores spin against each other (a diffusion training fixture took 75 s instead of
    a few)."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return
    import torch
    from threadpoolctl import threadpool_limits

    share = max(1, (os.cpu_count() or 1) // int(workers))
    os.environ["OMP_NUM_THREADS"] = str(share)
    torch.set_num_threads(share)
    threadpool_limits(share)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RMLORA_SLOW", "0") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason="slow sweep: set RMLORA_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
