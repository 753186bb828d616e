"""The `rmlora` command: one entry point for what users run.

    rmlora TASK       a registered task's flow (face, speaker, diffusion: rmlora.sw.tasks):
                      pretrain, unlearn, learn, measured on the chip, cost, report
    rmlora sim        every registered task with its defaults, and reports
    rmlora cost TASK  training, deployment and inference cost against the alternatives
    rmlora robustness Monte Carlo over programming noise, stuck cells and drift, with
                      and without the compensation adapter
    rmlora report     rebuild any task's report from its saved JSON summary
    rmlora bringup    build the chip, bring it up on the simulator, report
    rmlora infer      compile a network, run it on a chip backend, per-layer table
                      (--driver c: through the C firmware driver)
    rmlora firmware   build the C driver (-Werror, -fanalyzer) and run its example
                      against the Python runtime (same as `make firmware`)
    rmlora verilog    write the Verilog of every block (same as `make verilog`)
    rmlora header     regenerate firmware/include/rmlora.h from the contract
"""

import argparse
import json
import sys
from pathlib import Path

from rmlora.cli_checks import Refused, output_dir, output_file, positive_int, seed
from rmlora.cli_tasks import add_task_commands


def _bringup(args):
    from rmlora.contract import ChipParams
    from rmlora.hw.build import TOP_NAME, write_verilog
    from rmlora.sim.cosim import REPO_ROOT, run_on_chip

    build = REPO_ROOT / "build"
    output_dir("the build directory", build)
    verilog = write_verilog(build / "verilog", ChipParams(), only={TOP_NAME})
    out = build / "bringup" / "smoke.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    print(f"[bringup] chip Verilog: {verilog[TOP_NAME]}")
    print(f"[bringup] bringing the chip up on {args.simulator} (first run compiles the model)...")
    run_on_chip(verilog, "rmlora.sw.runtime.bringup", sim=args.simulator,
                extra_env={"RMLORA_SMOKE_JSON": str(out)})
    report = json.loads(out.read_text())
    print(f"[bringup] chip {report['chip_id']} contract {report['contract_version']}, SRAM "
          f"{report['sram_words']} x {report['sram_word_bytes']} bytes")
    print(f"[bringup] loaded {report['loaded_bytes']} bytes over AXI4-Lite and read them back: "
          f"{'equal' if report['readback_equal'] else 'DIFFERENT'}")
    print(f"[bringup] {report['write_cycles_per_word']:.1f} cycles/word written, "
          f"{report['read_cycles_per_word']:.1f} cycles/word read; "
          f"{report['chip_cycles_per_s']:,.0f} chip cycles/s on {args.simulator}")
    print(f"[bringup] write-verify of {report['programmed_cells']} cells by the RTL controller: "
          f"{report['write_verify_pulses_mean']:.1f} pulses/cell on average "
          f"(max {report['write_verify_pulses_max']}), {report['not_converged_cells']} not "
          f"converged, {report['program_cycles']:,} cycles; same as the golden model: "
          f"{report['program_matches_golden']}")
    print(f"[bringup] {report['mvm_inputs']} MVMs of 16x16 on the macro, {report['mvm_cycles']} "
          f"cycles each: accumulators bit-exact with the golden model: "
          f"{report['mvm_bit_exact']}; analogue error vs ideal int matmul "
          f"{100 * report['mvm_rel_rms_error_vs_ideal']:.1f} % RMS")
    print(f"[bringup] report: {out}")
    if not (report["program_matches_golden"] and report["mvm_bit_exact"]):
        sys.exit("[bringup] the RTL and the golden model disagree")


def _infer(args):
    import time

    import numpy as np

    from rmlora.sw.compiler import compile_model
    from rmlora.sw.lora import adapter_names
    from rmlora.sw.models.demo import demo_inputs, demo_model
    from rmlora.sw.runtime import Chip
    from rmlora.sw.runtime.firmware_chip import FirmwareChip
    from rmlora.sw.runtime.infer import format_table, infer

    model = demo_model(args.model, args.seed)
    if args.adapters is not None:
        has = sorted(adapter_names(model))
        unknown = [a for a in args.adapters.split(",") if a.strip() and a.strip() not in has]
        if unknown:
            raise Refused(f"--adapters {args.adapters}: the {args.model} demo has no adapter "
                          f"{', '.join(map(repr, unknown))}; choose from {', '.join(has)} "
                          f"(comma-separated, '' for none)")
    compiled = compile_model(model, demo_inputs(args.model, 256, args.seed + 100))
    adapters = list(compiled.adapter_slots) if args.adapters is None else [
        a.strip() for a in args.adapters.split(",") if a.strip()]
    print(f"[infer] {args.model}: {len(compiled.layers)} layers, {len(compiled.segments)} "
          f"segments, {len(compiled.image)}-byte SRAM image, adapters "
          f"{compiled.adapter_slots}; enabled: {adapters or 'none'}")
    # the chip under test: driven by the Python runtime, or by the C driver
    chips = [(FirmwareChip if args.driver == "c" else Chip)(backend=args.backend, seed=args.seed)]
    if args.backend != "golden" or args.driver == "c":
        chips.append(Chip(backend="golden", seed=args.seed))  # the reference
    try:
        for i, chip in enumerate(chips):
            on_chip = args.deploy_on_chip and i == 0 and args.backend != "golden"
            t0 = time.perf_counter()
            report = chip.deploy(compiled.plan, on_chip=on_chip,
                                 scratch_word=compiled.scratch[0])
            if i == 0:
                how = "by the RTL controller" if on_chip else "by the golden write-verify model"
                print(f"[infer] deployed {report.cells} weights {how}: {report.pulses} pulses, "
                      f"{report.failed_cells} cells not converged, {report.cycles:,} controller "
                      f"cycles ({time.perf_counter() - t0:.1f} s)")
            chip.load(compiled.image, names=compiled.adapter_slots)
            chip.enable(adapters)
        x = demo_inputs(args.model, args.inputs, args.seed)
        t0 = time.perf_counter()
        logits, rows = infer(chips[0], compiled, x,
                             reference=chips[1] if len(chips) > 1 else None)
        wall = time.perf_counter() - t0
    finally:
        for chip in chips:
            chip.close()
    print(format_table(rows))
    print(f"[infer] {args.inputs} inputs on {args.backend} through the {args.driver} driver in "
          f"{wall:.2f} s (with the golden reference run); argmax "
          f"{np.argmax(logits, axis=1).tolist()[:16]}")
    if any(r.matched is False for r in rows):
        sys.exit("[infer] outputs differ from the golden model")


def _firmware(args):
    from rmlora.firmware.build import FirmwareBuildError, build_library, check_sources
    from rmlora.sw.compiler import compile_model
    from rmlora.sw.models.demo import demo_inputs, demo_model
    from rmlora.sw.runtime.firmware_net import run_example

    output_file("--json", args.json)  # before any work
    try:
        check_sources(analyze=True)
        lib = build_library()
    except FirmwareBuildError as err:
        sys.exit(f"[firmware] {err}")
    print(f"[firmware] driver and example clean with -Werror and -fanalyzer: {lib}")
    compiled = compile_model(demo_model(args.model, args.seed),
                             demo_inputs(args.model, 256, args.seed + 100))
    names = list(compiled.adapter_slots)
    forget = names[0]
    sets = [names, [forget], []]
    result = run_example(compiled, demo_inputs(args.model, args.inputs, args.seed), sets,
                         forget, backend=args.backend, seed=args.seed)
    print(f"[firmware] {args.model} from C on {args.backend}: {result['runs']} runs (sets "
          f"{sets}, then again after deleting {forget!r}); outputs equal to the Python "
          f"runtime: {result['outputs_equal']}, all {result['record_outputs_compared']} record "
          f"outputs equal: {result['traces_equal']}; delete zeroed {result['words_zeroed']} "
          f"words")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"model": args.model, "seed": args.seed, "sets": sets,
                                     **result}, indent=2) + "\n")
    print(f"[firmware] wrote {args.json}")
    if not (result["outputs_equal"] and result["traces_equal"] and result["words_zeroed_equal"]):
        sys.exit("[firmware] the C driver and the Python runtime disagree")


def _verilog(args):
    from rmlora.hw.build import main
    output_dir("--out", args.out)
    main(["--out", str(args.out)])


def _header(args):
    from rmlora.firmware.header import HEADER_PATH, main
    output_file("the header", HEADER_PATH)
    main([])


# Commands that need no task: their parser is built without importing the tasks.
CHIP_COMMANDS = ("bringup", "infer", "firmware", "verilog", "header")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rmlora", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    if not (argv and argv[0] in CHIP_COMMANDS):
        add_task_commands(sub)  # imports every registered task (torch): seconds
    p = sub.add_parser("bringup", help="build the chip and bring it up on the simulator")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.set_defaults(func=_bringup, command_parser=p)
    p = sub.add_parser("infer", help="run a compiled demo network on a chip backend")
    p.add_argument("--model", choices=("mlp", "face"), default="mlp")
    p.add_argument("--backend", choices=("golden", "verilator", "icarus"), default="verilator")
    p.add_argument("--inputs", type=positive_int, default=2, help="inputs to run (default 2)")
    p.add_argument("--adapters", default=None,
                   help="comma-separated adapters to enable (default: all; '' for none)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--deploy-on-chip", action="store_true",
                   help="program the weights through the RTL's write-verify (slow)")
    p.add_argument("--driver", choices=("python", "c"), default="python",
                   help="drive the chip with the Python runtime or the C firmware driver")
    p.set_defaults(func=_infer, command_parser=p)
    p = sub.add_parser("firmware", help="build the C driver and run its example against "
                                        "the Python runtime")
    p.add_argument("--model", choices=("mlp", "face"), default="face")
    p.add_argument("--backend", choices=("golden", "verilator", "icarus"), default="golden")
    p.add_argument("--inputs", type=positive_int, default=4, help="inputs to run (default 4)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--json", type=Path, default=Path("build/firmware/example.json"))
    p.set_defaults(func=_firmware, command_parser=p)
    p = sub.add_parser("verilog", help="write the Verilog of every block")
    p.add_argument("--out", type=Path, default=Path("build/verilog"))
    p.set_defaults(func=_verilog, command_parser=p)
    p = sub.add_parser("header", help="regenerate the C header")
    p.set_defaults(func=_header, command_parser=p)
    args = parser.parse_args(argv)
    try:
        args.func(args)  # checks every argument before any work (rmlora.cli_checks)
    except Refused as why:  # a bad argument: one line, exit status 2, no traceback
        args.command_parser.error(str(why).replace("\n", " "))


if __name__ == "__main__":
    sys.exit(main())
