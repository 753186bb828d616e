"""The `rmlora` command: one entry point for what users run.

    rmlora sim        build the chip, bring it up on the simulator, report
    rmlora verilog    write the Verilog of every block (same as `make verilog`)
    rmlora header     regenerate firmware/include/rmlora.h from the contract
"""

import argparse
import json
import sys
from pathlib import Path


def _sim(args):
    from rmlora.contract import ChipParams
    from rmlora.hw.build import TOP_NAME, write_verilog
    from rmlora.sim.cosim import REPO_ROOT, run_on_chip

    build = REPO_ROOT / "build"
    verilog = write_verilog(build / "verilog", ChipParams(), only={TOP_NAME})
    out = build / "sim" / "smoke.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    print(f"[sim] chip Verilog: {verilog[TOP_NAME]}")
    print(f"[sim] bringing the chip up on {args.simulator} (first run compiles the model)...")
    run_on_chip(verilog, "rmlora.sim.smoke", sim=args.simulator,
                extra_env={"RMLORA_SMOKE_JSON": str(out)})
    report = json.loads(out.read_text())
    print(f"[sim] chip {report['chip_id']} contract {report['contract_version']}, SRAM "
          f"{report['sram_words']} x {report['sram_word_bytes']} bytes")
    print(f"[sim] loaded {report['loaded_bytes']} bytes over AXI4-Lite and read them back: "
          f"{'equal' if report['readback_equal'] else 'DIFFERENT'}")
    print(f"[sim] {report['write_cycles_per_word']:.1f} cycles/word written, "
          f"{report['read_cycles_per_word']:.1f} cycles/word read; "
          f"{report['chip_cycles_per_s']:,.0f} chip cycles/s on {args.simulator}")
    print(f"[sim] write-verify of {report['programmed_cells']} cells by the RTL controller: "
          f"{report['write_verify_pulses_mean']:.1f} pulses/cell on average "
          f"(max {report['write_verify_pulses_max']}), {report['not_converged_cells']} not "
          f"converged, {report['program_cycles']:,} cycles; same as the golden model: "
          f"{report['program_matches_golden']}")
    print(f"[sim] {report['mvm_inputs']} MVMs of 16x16 on the macro, {report['mvm_cycles']} "
          f"cycles each: accumulators bit-exact with the golden model: "
          f"{report['mvm_bit_exact']}; analogue error vs ideal int matmul "
          f"{100 * report['mvm_rel_rms_error_vs_ideal']:.1f} % RMS")
    print(f"[sim] report: {out}")
    if not (report["program_matches_golden"] and report["mvm_bit_exact"]):
        sys.exit("[sim] the RTL and the golden model disagree")


def _verilog(args):
    from rmlora.hw.build import main
    main(["--out", str(args.out)])


def _header(args):
    from rmlora.firmware.header import main
    main([])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rmlora", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sim", help="build the chip and bring it up on the simulator")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.set_defaults(func=_sim)
    p = sub.add_parser("verilog", help="write the Verilog of every block")
    p.add_argument("--out", type=Path, default=Path("build/verilog"))
    p.set_defaults(func=_verilog)
    sub.add_parser("header", help="regenerate the C header").set_defaults(func=_header)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
