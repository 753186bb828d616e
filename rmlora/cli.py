"""The `rmlora` command: one entry point for what users run.

    rmlora sim        the face, speaker and diffusion flows with their defaults, and reports
    rmlora face       the face flow: pretrain, unlearn, learn, measured on the chip
    rmlora speaker    the speaker-authentication flow, likewise
    rmlora diffusion  the image-generation flow: erase a digit, learn a style
    rmlora cost       training, deployment and inference cost against the alternatives
    rmlora robustness Monte Carlo over programming noise, stuck cells and drift, with
                      and without the compensation adapter
    rmlora report     rebuild a face report from a saved JSON summary
    rmlora bringup    build the chip, bring it up on the simulator, report
    rmlora infer      compile a network, run it on a chip backend, per-layer table
    rmlora verilog    write the Verilog of every block (same as `make verilog`)
    rmlora header     regenerate firmware/include/rmlora.h from the contract
"""

import argparse
import json
import sys
from pathlib import Path


def parse_people(text: str) -> list[int]:
    """'0-4' or '0,3,7' or '0-2,9' -> person ids, in the order given."""
    people = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            ids = range(int(lo), int(hi) + 1) if sep else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"people {text!r}: {part!r} is not an id or "
                                             f"a range a-b") from None
        if sep and int(hi) < int(lo):
            raise argparse.ArgumentTypeError(f"people {text!r}: empty range {part!r}")
        people += list(ids)
    return people


TASK_DEFAULTS = {
    "face": {"classes": "0-4", "forget": "1", "learn": "5"},
    "speaker": {"classes": "george,jackson,lucas,nicolas,theo", "forget": "jackson",
                "learn": "yweweler"},
}


def _flow(task: str, classes: str, forget: str, learn: str, seed: int, check, check_images,
          progress: bool = True) -> dict:
    """Run a task's flow from command-line strings; exits with the error on bad input."""
    try:
        if task == "face":
            from rmlora.sw.learn.face import run_face
            return run_face(people=parse_people(classes), forget=int(forget),
                            learn=int(learn), seed=seed, check_backend=check,
                            check_images=check_images, progress=progress)
        from rmlora.sw.learn.speaker import run_speaker
        return run_speaker(speakers=[c.strip() for c in classes.split(",") if c.strip()],
                           forget=forget, learn=learn, seed=seed, check_backend=check,
                           check_images=check_images, progress=progress)
    except (ValueError, FileNotFoundError, argparse.ArgumentTypeError) as err:
        sys.exit(f"[{task}] {err}")


def _run_task(task: str, args, report_dir: Path | None) -> dict:
    from rmlora.sw.report import format_flow_table, write_flow_report
    from rmlora.sw.report.cost import format_cost_table

    check = None if args.check_backend == "none" else args.check_backend
    print(f"[{task}] classes {args.classes}, forget {args.forget}, learn {args.learn}, seed "
          f"{args.seed}; chip backend {args.backend}, chip check on {check or 'nothing'}")
    summary = _flow(task, args.classes, args.forget, args.learn, args.seed, check,
                    args.check_images)
    print(format_flow_table(summary))
    mia = summary["mia"]
    print(f"[{task}] membership attack member rate: LoRA {mia['lora']:.3f}, retrained "
          f"{mia['retrain']:.3f}, pretrained {mia['pretrained']:.3f}")
    print(format_cost_table(summary["cost"]))
    if "chip_check" in summary:
        c = summary["chip_check"]
        print(f"[{task}] chip check: {c['images']} inputs on {c['backend']} vs golden, "
              f"{c['records_compared']} record outputs, bit-exact {c['bit_exact']}")
    return _finish(task, summary, args, report_dir, write_flow_report)


def _finish(task: str, summary: dict, args, report_dir: Path | None, write_report) -> dict:
    """Targets, the JSON and the report of a finished flow; the summary."""
    for t in summary["targets"]:
        verdict = "met" if t["met"] else "not run" if t["value"] is None else "NOT MET"
        print(f"[{task}] target {t['key']} {t['rule']}: {t['value']} -> {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
        print(f"[{task}] JSON: {args.json}")
    if report_dir is not None:
        print(f"[{task}] report: {write_report(summary, report_dir)}")
    print(f"[{task}] {summary['seconds']['total']:.0f} s")
    return summary


def _task(args):
    _run_task(args.task, args, args.report)


def _run_diffusion(args, report_dir: Path | None) -> dict:
    from rmlora.sw.learn.diffusion_flow import run_diffusion
    from rmlora.sw.report.cost import format_cost_table
    from rmlora.sw.report.diffusion import format_diffusion_table, write_diffusion_report

    check = None if args.check_backend == "none" else args.check_backend
    print(f"[diffusion] erase {args.erase}, style {args.style}, seed {args.seed}; chip "
          f"backend {args.backend}, chip check on {check or 'nothing'}")
    try:
        summary = run_diffusion(args.erase, args.style, args.seed, check, args.check_images,
                                progress=True)
    except ValueError as err:
        sys.exit(f"[diffusion] {err}")
    print(format_diffusion_table(summary))
    print(format_cost_table(summary["cost"]))
    return _finish("diffusion", summary, args, report_dir, write_diffusion_report)


def _diffusion(args):
    _run_diffusion(args, args.report)


def _cost(args):
    from rmlora.sw.report.cost import format_cost_table

    if args.task == "diffusion":
        from rmlora.sw.learn.diffusion_flow import run_diffusion
        print(f"[cost] diffusion: running the flow (erase 3, style thick, seed {args.seed}) "
              f"on the golden chip for its activity")
        summary = run_diffusion(3, "thick", args.seed, None)
    else:
        d = TASK_DEFAULTS[args.task]
        classes, forget, learn = (args.classes or d["classes"], args.forget or d["forget"],
                                  args.learn or d["learn"])
        print(f"[cost] {args.task}: running the flow (classes {classes}, forget {forget}, "
              f"learn {learn}, seed {args.seed}) on the golden chip for its activity")
        summary = _flow(args.task, classes, forget, learn, args.seed, None, 0)
    print(format_cost_table(summary["cost"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary["cost"], indent=1))
        print(f"[cost] JSON: {args.json}")


def _sim(args):
    from rmlora.sim.cosim import REPO_ROOT

    out = REPO_ROOT / "build" / "report"
    args.json = None  # each report directory holds its summary.json
    index = ["# rmlora `make sim` reports", ""]
    failed = []
    for task in ("face", "speaker"):
        d = TASK_DEFAULTS[task]
        args.classes, args.forget, args.learn = d["classes"], d["forget"], d["learn"]
        summary = _run_task(task, args, out / task)
        met = sum(t["met"] for t in summary["targets"])
        index.append(f"- [{task}]({task}/report.md): {met} of {len(summary['targets'])} "
                     f"targets met, {summary['seconds']['total']:.0f} s")
        if "chip_check" in summary and not summary["chip_check"]["bit_exact"]:
            failed.append(task)
    args.erase, args.style = 3, "thick"
    summary = _run_diffusion(args, out / "diffusion")
    met = sum(t["met"] for t in summary["targets"])
    index.append(f"- [diffusion](diffusion/report.md): {met} of {len(summary['targets'])} "
                 f"targets met, {summary['seconds']['total']:.0f} s")
    if "chip_check" in summary and not summary["chip_check"]["bit_exact"]:
        failed.append("diffusion")
    settings = FULL_ROBUSTNESS if args.full_robustness else SIM_ROBUSTNESS
    for key, value in settings.items():
        setattr(args, key, value)
    args.task, args.rank, args.hwa_noise, args.workers, args.scheduler = "face", 8, 2.0, 0, None
    summary = _run_robustness(args, out / "robustness")
    met = sum(t["met"] for t in summary["targets"])
    index.append(f"- [robustness](robustness/report.md) (face, {args.runs} runs per level): "
                 f"{met} of {len(summary['targets'])} targets met, "
                 f"{summary['seconds']['runs']:.0f} s")
    (out / "index.md").write_text("\n".join(index) + "\n")
    print(f"[sim] reports: {out / 'index.md'}")
    if failed:
        sys.exit(f"[sim] the cosimulated chip and the golden model disagree on {failed}")


# `make sim`'s short robustness section; `rmlora sim --full-robustness` runs the full one
SIM_ROBUSTNESS = {"noise": "2,4,8", "stuck": "1", "drift": "1d", "runs": 3}
FULL_ROBUSTNESS = {"noise": "1,2,4,6,8,10", "stuck": "0,0.5,1,2", "drift": "1s,1h,1d,1y",
                   "runs": 20}


def _run_robustness(args, report_dir: Path | None) -> dict:
    import os
    import time

    from rmlora.sw.report.robustness import format_robustness_table, write_robustness_report
    from rmlora.sw.robust import conditions, prepare, sweep
    from rmlora.sw.robust.sweep import check_robustness

    try:
        levels = conditions(args.noise, args.stuck, args.drift)
        if args.runs < 1:
            raise ValueError(f"--runs must be >= 1, got {args.runs}")
    except ValueError as err:
        sys.exit(f"[robustness] {err}")
    workers = args.workers or os.cpu_count() or 1
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{workers} processes"
    print(f"[robustness] {args.task}: {len(levels)} conditions x {args.runs} runs on {where}; "
          f"compensation rank {args.rank}, hardware-aware noise {args.hwa_noise} uS")
    start = time.perf_counter()
    setup = prepare(args.task, args.seed, None if args.hwa_noise == 0 else args.hwa_noise,
                    args.rank, progress=True)
    prepared = time.perf_counter() - start
    if args.scheduler:
        from distributed import Client
        with Client(args.scheduler) as client:
            summary = sweep(setup, levels, args.runs, executor=client.get_executor(),
                            progress=True)
    else:
        summary = sweep(setup, levels, args.runs, workers, progress=True)
    summary["targets"] = check_robustness(summary)
    summary["seconds"] |= {"prepare": prepared, "total": time.perf_counter() - start}
    print(format_robustness_table(summary))
    return _finish("robustness", summary, args, report_dir,
                   lambda s, d: write_robustness_report(s, s["targets"], d))


def _robustness(args):
    _run_robustness(args, args.report)


def _report(args):
    from rmlora.sw.report import write_flow_report
    print(write_flow_report(json.loads(args.json.read_text()), args.out))


def _bringup(args):
    from rmlora.contract import ChipParams
    from rmlora.hw.build import TOP_NAME, write_verilog
    from rmlora.sim.cosim import REPO_ROOT, run_on_chip

    build = REPO_ROOT / "build"
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
    from rmlora.sw.models.demo import demo_inputs, demo_model
    from rmlora.sw.runtime import Chip
    from rmlora.sw.runtime.infer import format_table, infer

    model = demo_model(args.model, args.seed)
    compiled = compile_model(model, demo_inputs(args.model, 256, args.seed + 100))
    adapters = list(compiled.adapter_slots) if args.adapters is None else [
        a for a in args.adapters.split(",") if a]
    print(f"[infer] {args.model}: {len(compiled.layers)} layers, {len(compiled.segments)} "
          f"segments, {len(compiled.image)}-byte SRAM image, adapters "
          f"{compiled.adapter_slots}; enabled: {adapters or 'none'}")
    chips = [Chip(backend=args.backend, seed=args.seed)]
    if args.backend != "golden":
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
    print(f"[infer] {args.inputs} inputs on {args.backend} in {wall:.2f} s "
          f"(with the golden reference run); argmax {np.argmax(logits, axis=1).tolist()[:16]}")
    if any(r.matched is False for r in rows):
        sys.exit("[infer] outputs differ from the golden model")


def _verilog(args):
    from rmlora.hw.build import main
    main(["--out", str(args.out)])


def _header(args):
    from rmlora.firmware.header import main
    main([])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rmlora", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sim", help="the face, speaker and diffusion flows with their "
                                   "defaults, reports in build/report")
    p.add_argument("--check-backend", choices=("verilator", "icarus", "none"),
                   default="verilator")
    p.add_argument("--check-images", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--full-robustness", action="store_true",
                   help="the full robustness sweep (6 noise, 4 stuck-at, 4 drift levels, 20 "
                        "runs each) instead of the short one (3, 1, 1 levels, 3 runs)")
    p.set_defaults(func=_sim, backend="golden")
    for task, helptext, classes_help in (
            ("face", "the face flow on the simulated chip",
             "pretrained person ids 0-39, e.g. 0-4 or 3,8,12"),
            ("speaker", "the speaker-authentication flow on the simulated chip",
             "enrolled FSDD speakers, comma-separated")):
        d = TASK_DEFAULTS[task]
        p = sub.add_parser(task, help=helptext)
        flag = "--people" if task == "face" else "--speakers"
        p.add_argument(flag, dest="classes", default=d["classes"],
                       help=f"{classes_help} (default {d['classes']})")
        p.add_argument("--forget", default=d["forget"], help="enrolled class to forget")
        p.add_argument("--learn", default=d["learn"], help="new class to learn")
        p.add_argument("--seed", type=int, default=0)
        # The evaluation runs thousands of inputs per stage: on the golden model, which
        # the chip check proves bit-exact with the cosimulated RTL on every run.
        p.add_argument("--backend", choices=("golden",), default="golden",
                       help="chip backend the accuracies are measured on")
        p.add_argument("--check-backend", choices=("verilator", "icarus", "none"),
                       default="verilator", help="cosimulation compared with golden")
        p.add_argument("--check-images", type=int, default=20,
                       help="test inputs of the chip check (default 20)")
        p.add_argument("--json", type=Path, default=None, help="write the summary here")
        p.add_argument("--report", type=Path, default=None,
                       help="write a Markdown report with plots into this directory")
        p.set_defaults(func=_task, task=task)
    p = sub.add_parser("diffusion", help="the image-generation flow: erase a digit, learn "
                                         "a style, on the simulated chip")
    p.add_argument("--erase", type=int, default=3, help="digit to erase (default 3)")
    p.add_argument("--style", choices=("thick", "invert"), default="thick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("golden",), default="golden",
                   help="chip backend the samples are drawn on")
    p.add_argument("--check-backend", choices=("verilator", "icarus", "none"),
                   default="verilator", help="cosimulation compared with golden")
    p.add_argument("--check-images", type=int, default=20,
                   help="denoising-step inputs of the chip check (default 20)")
    p.add_argument("--json", type=Path, default=None, help="write the summary here")
    p.add_argument("--report", type=Path, default=None,
                   help="write a Markdown report with plots into this directory")
    p.set_defaults(func=_diffusion)
    p = sub.add_parser("cost", help="training, deployment and inference cost against "
                                    "the alternatives")
    p.add_argument("--task", choices=(*TASK_DEFAULTS, "diffusion"), default="face")
    p.add_argument("--classes", default=None,
                   help="people ids (face) or speakers (speaker); default: the task's")
    p.add_argument("--forget", default=None)
    p.add_argument("--learn", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the cost figures here")
    p.set_defaults(func=_cost)
    p = sub.add_parser("robustness", help="accuracy over Monte Carlo runs of programming "
                       "noise, stuck cells and drift, with and without compensation")
    p.add_argument("--task", choices=("face", "speaker"), default="face")
    p.add_argument("--noise", default=FULL_ROBUSTNESS["noise"],
                   help="programming error std levels in uS (empty: skip)")
    p.add_argument("--stuck", default=FULL_ROBUSTNESS["stuck"],
                   help="stuck-at rates in %% (empty: skip)")
    p.add_argument("--drift", default=FULL_ROBUSTNESS["drift"],
                   help="times since programming, e.g. 1s,1h,1d,1y (empty: skip)")
    p.add_argument("--runs", type=int, default=FULL_ROBUSTNESS["runs"],
                   help="Monte Carlo runs per level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rank", type=int, default=8, help="compensation adapter rank")
    p.add_argument("--hwa-noise", type=float, default=2.0,
                   help="programming noise (uS) of hardware-aware training; 0 skips it")
    p.add_argument("--workers", type=int, default=0,
                   help="processes on this machine (default: one per core)")
    p.add_argument("--scheduler", default=None,
                   help="a Dask scheduler address (tcp://host:8786): run there instead")
    p.add_argument("--json", type=Path, default=None, help="write the summary here")
    p.add_argument("--report", type=Path, default=None,
                   help="write a Markdown report with plots into this directory")
    p.set_defaults(func=_robustness)
    p = sub.add_parser("report", help="rebuild a face report from a JSON summary")
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("build/report"))
    p.set_defaults(func=_report)
    p = sub.add_parser("bringup", help="build the chip and bring it up on the simulator")
    p.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    p.set_defaults(func=_bringup)
    p = sub.add_parser("infer", help="run a compiled demo network on a chip backend")
    p.add_argument("--model", choices=("mlp", "face"), default="mlp")
    p.add_argument("--backend", choices=("golden", "verilator", "icarus"), default="verilator")
    p.add_argument("--inputs", type=int, default=2, help="inputs to run (default 2)")
    p.add_argument("--adapters", default=None,
                   help="comma-separated adapters to enable (default: all; '' for none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deploy-on-chip", action="store_true",
                   help="program the weights through the RTL's write-verify (slow)")
    p.set_defaults(func=_infer)
    p = sub.add_parser("verilog", help="write the Verilog of every block")
    p.add_argument("--out", type=Path, default=Path("build/verilog"))
    p.set_defaults(func=_verilog)
    sub.add_parser("header", help="regenerate the C header").set_defaults(func=_header)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
