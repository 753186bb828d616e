"""The `rmlora` commands that run tasks, each a loop over the registered tasks
(rmlora.sw.tasks): one command per task, `sim`, `cost`, `report`, `robustness` and
`sweep`. Each command checks all its arguments, output paths and data first
(rmlora.cli_checks), then runs; its results are written atomically."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from rmlora.cli_checks import (
    Refused,
    check_outputs,
    check_sweep,
    checked_data,
    checked_flow,
    checked_levels,
    checked_options,
    float_above,
    float_in,
    input_file,
    int_in,
    non_negative_int,
    output_dir,
    output_file,
    positive_int,
    seed,
)

__all__ = ["add_task_commands"]

# `make sim`'s short robustness section; `rmlora sim --full-robustness` runs the full one
SIM_ROBUSTNESS = {"noise": "2,4,8", "stuck": "1", "drift": "1d", "runs": 3}
FULL_ROBUSTNESS = {"noise": "1,2,4,6,8,10", "stuck": "0,0.5,1,2", "drift": "1s,1h,1d,1y",
                   "runs": 20}
ROBUSTNESS_TASK = "face"  # the task of `make sim`'s robustness section
CHECK_IMAGES = 20  # the chip check's inputs unless --check-images says otherwise


def _tasks():
    from rmlora.sw.tasks import TASKS
    return TASKS


def _add_check(p: argparse.ArgumentParser) -> None:
    from rmlora.sw.runtime import BACKENDS
    p.add_argument("--check-backend", choices=(*BACKENDS, "none"), default="verilator",
                   help="cosimulation compared with the golden chip (golden: a second "
                        "golden chip; none: skip)")
    p.add_argument("--check-images", type=positive_int, default=None,
                   help=f"inputs of the chip check (default {CHECK_IMAGES}; at most the "
                        f"task's test and held-out inputs)")


def _add_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", type=Path, default=None, help="write the summary here")
    p.add_argument("--report", type=Path, default=None,
                   help="write a Markdown report with plots into this directory")


def _chip_check(args) -> tuple[str | None, int]:
    """(backend or None, inputs) of the chip check; --check-images without one is an
    option that does not apply, refused."""
    backend = None if args.check_backend == "none" else args.check_backend
    if backend is None and args.check_images is not None:
        raise Refused(f"--check-images {args.check_images}: applies only to a chip check, "
                      f"and --check-backend is none; drop one of them")
    return backend, CHECK_IMAGES if args.check_images is None else args.check_images


def _run_task(task, options, prepared, args, report_dir: Path | None) -> dict:
    """One task's flow from the command line, its arguments checked: run, print, write."""
    from rmlora.sw.report import REPORTS
    from rmlora.sw.report.cost import format_cost_table
    from rmlora.sw.tasks import run_task

    check, check_images = _chip_check(args)
    print(f"[{task.name}] {task.describe(options)}, seed {args.seed}; evaluated on the golden "
          f"chip, chip check on {check or 'nothing'}")
    summary = run_task(task, options, args.seed, check, check_images, prepared=prepared,
                       progress=True, restore=not getattr(args, "no_restore", False))
    report = REPORTS[task.report]
    print(report.console(summary))
    print(format_cost_table(summary["cost"]))
    if "chip_check" in summary:
        c = summary["chip_check"]
        print(f"[{task.name}] chip check: {c['images']} inputs on {c['backend']} vs golden, "
              f"{c['outputs_compared']} vector outputs and {c['records_compared']} records' "
              f"stats, bit-exact {c['bit_exact']}")
    return _finish(task.name, summary, args, report_dir, report.write)


def _write_or_rescue(name: str, result: dict, write) -> Path:
    """``write()`` -> the path it wrote. The paths were checked before the run, but a
    device can still fill up or go away during it: then ``result`` is saved in the
    temporary directory and the command exits saying where, so a long run's result
    is not lost."""
    try:
        return write()
    except OSError as err:
        fd, rescue = tempfile.mkstemp(prefix=f"rmlora-{name}-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1)
        sys.exit(f"[{name}] could not write the results ({err}); they are saved in {rescue}")


def _finish(name: str, summary: dict, args, report_dir: Path | None, write_report) -> dict:
    """Targets, the JSON and the report of a finished flow; the summary."""
    from rmlora.sw.report.atomic import write_text_atomic

    for t in summary["targets"]:
        verdict = "met" if t["met"] else "not run" if t["value"] is None else "NOT MET"
        print(f"[{name}] target {t['key']} {t['rule']}: {t['value']} -> {verdict}")
    if args.json:
        path = _write_or_rescue(name, summary, lambda: write_text_atomic(
            args.json, json.dumps(summary, indent=1)))
        print(f"[{name}] JSON: {path}")
    if report_dir is not None:
        path = _write_or_rescue(name, summary, lambda: write_report(summary, report_dir))
        print(f"[{name}] report: {path}")
    print(f"[{name}] {summary['seconds']['total']:.0f} s")
    return summary


def _task(args):
    if getattr(args, "model", None) is not None:  # a command several tasks share
        args.task = args.variants[args.model]
    task = _tasks()[args.task]
    check_outputs(args)
    options, prepared = checked_flow(task, args, args.seed, *_chip_check(args))
    _run_task(task, options, prepared, args, args.report)


def _sim(args):
    from rmlora.sim.cosim import REPO_ROOT
    from rmlora.sw.report.atomic import write_text_atomic

    out = REPO_ROOT / "build" / "report"
    output_dir("the report directory", out)
    args.json = None  # each report directory holds its summary.json
    settings = FULL_ROBUSTNESS if args.full_robustness else SIM_ROBUSTNESS
    for key, value in settings.items():
        setattr(args, key, value)
    args.task, args.rank, args.hwa_noise, args.workers, args.scheduler, args.report = (
        ROBUSTNESS_TASK, 8, 2.0, 0, None, None)
    checked_levels(args)
    check = _chip_check(args)
    tasks = {name: task for name, task in _tasks().items() if task.in_sim}
    options = {name: checked_options(task, None, args.seed, *check)  # every task: fast ...
               for name, task in tasks.items()}
    flows = {name: checked_data(task, *options[name], args.seed, *check)  # ... then its data
             for name, task in tasks.items()}
    index = ["# rmlora `make sim` reports", ""]
    failed = []
    for name, task in tasks.items():
        summary = _run_task(task, *flows.pop(name), args, out / name)
        met = sum(t["met"] for t in summary["targets"])
        index.append(f"- [{name}]({name}/report.md): {met} of {len(summary['targets'])} "
                     f"targets met, {summary['seconds']['total']:.0f} s")
        if "chip_check" in summary and not summary["chip_check"]["bit_exact"]:
            failed.append(name)
    summary = _run_robustness(args, out / "robustness")
    met = sum(t["met"] for t in summary["targets"])
    index.append(f"- [robustness](robustness/report.md) ({args.task}, {args.runs} runs per "
                 f"level): {met} of {len(summary['targets'])} targets met, "
                 f"{summary['seconds']['runs']:.0f} s")
    write_text_atomic(out / "index.md", "\n".join(index) + "\n")
    print(f"[sim] reports: {out / 'index.md'}")
    if failed:
        sys.exit(f"[sim] the cosimulated chip and the golden model disagree on {failed}")


def _cost_table(clock_mhz: float | None):
    """The cost model's table at ``--clock-mhz`` (None: its default clock)."""
    from rmlora.sw.cost import table_for

    return table_for() if clock_mhz is None else table_for(clock_hz=clock_mhz * 1e6)


def _cost(args):
    from rmlora.sw.report.atomic import write_text_atomic
    from rmlora.sw.report.cost import format_cost_table
    from rmlora.sw.tasks import run_task

    task = _tasks()[args.task]
    given = [o for o, v in (("--model", args.model), ("--json", args.model_json),
                            ("--plot", args.plot), ("--clock-mhz", args.model_clock_mhz))
             if v is not None]
    if given:  # options of `cost --model`, given before the task (ignored there)
        args.command_parser.error(f"{', '.join(given)} before TASK: a task's options come "
                                  f"after it (rmlora cost {args.task} --json out.json); "
                                  f"--model takes no TASK")
    if args.json is not None:
        output_file("--json", args.json)
    options, prepared = checked_flow(task, args, args.seed, None, 0)
    print(f"[cost] {task.name}: running the flow ({task.describe(options)}, seed {args.seed}) "
          f"on the golden chip for its activity")
    summary = run_task(task, options, args.seed, None, prepared=prepared,
                       cost_table=_cost_table(args.clock_mhz))
    print(format_cost_table(summary["cost"]))
    if args.json:
        path = _write_or_rescue("cost", summary["cost"], lambda: write_text_atomic(
            args.json, json.dumps(summary["cost"], indent=1)))
        print(f"[cost] JSON: {path}")


def _cost_model(args):
    """`rmlora cost --model NAME`: a published network projected by the analytic model,
    with its sensitivity table (and plot)."""
    from rmlora.sw.cost.published import MODELS, project
    from rmlora.sw.cost.sensitivity import plot, required, sensitivity
    from rmlora.sw.report.atomic import write_text_atomic
    from rmlora.sw.report.cost import format_projection

    if args.model is None:
        args.command_parser.error("give a TASK (rmlora cost face ...) or --model NAME")
    for option, path in (("--json", args.model_json), ("--plot", args.plot)):
        if path is not None:
            output_file(option, path)
    table = _cost_table(args.model_clock_mhz)
    results = {}
    for name in MODELS if args.model == "all" else [args.model]:
        results[name] = project(name, table)
        results[name]["sensitivity"] = sensitivity(name)
        results[name]["required"] = required(name)
        print(format_projection(results[name]) + "\n")
    if args.plot:
        path = plot({name: r["sensitivity"] for name, r in results.items()}, args.plot)
        print(f"[cost] plot: {path}")
    result = results if args.model == "all" else results[args.model]
    if args.model_json:
        path = _write_or_rescue("cost", result, lambda: write_text_atomic(
            args.model_json, json.dumps(result, indent=1)))
        print(f"[cost] JSON: {path}")


def _run_robustness(args, report_dir: Path | None) -> dict:
    import time

    from rmlora.sw.report.robustness import format_robustness_table, write_robustness_report
    from rmlora.sw.robust import prepare, sweep
    from rmlora.sw.robust.sweep import check_robustness

    levels = checked_levels(args)
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


def _sweep(args):
    from rmlora.sw.report.atomic import write_text_atomic
    from rmlora.sw.report.sweep import format_sweep_table, write_sweep_report
    from rmlora.sw.tasks.sweep import run_sweep

    check_sweep(args)
    task = _tasks()[args.task]
    print(f"[sweep] {task.name}: {args.choices} random choices (never the default), seed "
          f"{args.seed}, on {args.workers} worker(s); evaluated on the golden chip")
    sweep = run_sweep(task, args.choices, args.seed, args.workers, progress=True,
                      restore=not args.no_restore, validation=args.validation)
    print(format_sweep_table(sweep))
    if args.json:
        path = _write_or_rescue("sweep", sweep, lambda: write_text_atomic(
            args.json, json.dumps(sweep, indent=1)))
        print(f"[sweep] JSON: {path}")
    if args.report is not None:
        path = _write_or_rescue("sweep", sweep, lambda: write_sweep_report(sweep, args.report))
        print(f"[sweep] report: {path}")
    print(f"[sweep] {sweep['seconds']['total']:.0f} s")


def _report(args):
    from rmlora.sw.report import REPORTS

    input_file("--json", args.json)
    output_dir("--out", args.out)
    try:
        summary = json.loads(args.json.read_text())
    except (OSError, ValueError) as e:
        raise Refused(f"--json {args.json}: cannot read a summary: {e}") from None
    if not isinstance(summary, dict):
        raise Refused(f"--json {args.json}: a summary is a JSON object, got "
                      f"{type(summary).__name__}")
    name = summary.get("task")
    task = _tasks().get(name) if isinstance(name, str) else None
    if task is None:
        raise Refused(f"--json {args.json}: task {summary.get('task')!r} is not registered "
                      f"(registered: {', '.join(_tasks())})")
    try:  # the report is staged: a summary it cannot read leaves no file behind
        print(REPORTS[task.report].write(summary, args.out))
    except (KeyError, IndexError, TypeError, ValueError) as err:
        what = f"no {err.args[0]!r}" if isinstance(err, KeyError) else f"{err}"
        raise Refused(f"--json {args.json}: not a complete {task.name} summary "
                      f"({type(err).__name__}: {what})") from None
    except OSError as err:  # the device failed after the checks; the summary is intact
        sys.exit(f"[report] could not write {args.out}: {err}")


def add_task_commands(sub) -> None:
    """Every task's command, then sim, cost, robustness, sweep and report."""
    from rmlora.contract.lora import LORA_MAX_RANK
    from rmlora.sw.robust.conditions import MAX_NOISE_US
    from rmlora.sw.robust.setup import robustness_tasks

    tasks = _tasks()
    commands: dict[str, dict[str, str]] = {}  # command -> variant -> task
    for name, task in tasks.items():
        commands.setdefault(task.command or name, {})[task.variant] = name
    for command, variants in commands.items():
        name = next(iter(variants.values()))  # the first registered adds the options
        task = tasks[name]
        p = sub.add_parser(command, help=task.help)
        task.add_options(p)
        if len(variants) > 1:
            p.add_argument("--model", choices=tuple(variants), default=task.variant,
                           help=f"which network (default {task.variant})")
        p.add_argument("--seed", type=seed, default=0)
        p.add_argument("--no-restore", action="store_true",
                       help="skip the restore stage (no compensation adapter; for comparison)")
        _add_check(p)
        _add_outputs(p)
        p.set_defaults(func=_task, task=name, variants=variants, command_parser=p)
    p = sub.add_parser("sim", help=f"the {', '.join(tasks)} flows with their defaults, "
                                   f"reports in build/report")
    _add_check(p)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--full-robustness", action="store_true",
                   help="the full robustness sweep (6 noise, 4 stuck-at, 4 drift levels, 20 "
                        "runs each) instead of the short one (3, 1, 1 levels, 3 runs)")
    p.set_defaults(func=_sim, command_parser=p)
    p = sub.add_parser("cost", help="a task's training, deployment and inference cost "
                                    "against the alternatives, or a published network's "
                                    "(--model)")
    from rmlora.sw.cost.published import MODELS
    p.add_argument("--model", choices=(*MODELS, "all"), default=None,
                   help="project a published network (all: every one) with the analytic "
                        "model instead of running a task")
    p.add_argument("--json", dest="model_json", type=Path, default=None,
                   help="with --model: write the projection here")
    p.add_argument("--plot", type=Path, default=None,
                   help="with --model: draw the sensitivity plot here (PNG)")
    p.add_argument("--clock-mhz", dest="model_clock_mhz", type=float_above(0, "MHz"),
                   default=None,
                   help="with --model: the digital clock the chip is priced at")
    p.set_defaults(func=_cost_model, command_parser=p)
    by_task = p.add_subparsers(dest="task", required=False, metavar="TASK")
    for name, task in tasks.items():
        q = by_task.add_parser(name, help=f"the cost of the {name} flow")
        task.add_options(q)
        q.add_argument("--seed", type=seed, default=0)
        q.add_argument("--json", type=Path, default=None, help="write the cost figures here")
        q.add_argument("--clock-mhz", type=float_above(0, "MHz"), default=None,
                       help="the digital clock the chip is priced at (default: the cost "
                            "model's, rmlora.sw.cost.table.DEFAULT_CLOCK_HZ); the macros' "
                            "analogue waits keep their time")
        q.set_defaults(func=_cost, command_parser=q)
    p = sub.add_parser("robustness", help="accuracy over Monte Carlo runs of programming "
                       "noise, stuck cells and drift, with and without compensation")
    p.add_argument("--task", choices=robustness_tasks(), default=ROBUSTNESS_TASK)
    p.add_argument("--noise", default=FULL_ROBUSTNESS["noise"],
                   help="programming error std levels in uS (empty: skip)")
    p.add_argument("--stuck", default=FULL_ROBUSTNESS["stuck"],
                   help="stuck-at rates in %% (empty: skip)")
    p.add_argument("--drift", default=FULL_ROBUSTNESS["drift"],
                   help="times since programming, e.g. 1s,1h,1d,1y (empty: skip)")
    p.add_argument("--runs", type=positive_int, default=FULL_ROBUSTNESS["runs"],
                   help="Monte Carlo runs per level")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--rank", type=int_in(1, LORA_MAX_RANK), default=8,
                   help=f"compensation adapter rank (1..{LORA_MAX_RANK})")
    p.add_argument("--hwa-noise", type=float_in(0, MAX_NOISE_US, "uS"), default=2.0,
                   help="programming noise (uS) of hardware-aware training; 0 skips it")
    p.add_argument("--workers", type=non_negative_int, default=0,
                   help="processes on this machine (default 0: one per core)")
    p.add_argument("--scheduler", default=None,
                   help="a Dask scheduler address (tcp://host:8786): run there instead")
    _add_outputs(p)
    p.set_defaults(func=_robustness, command_parser=p)
    p = sub.add_parser("sweep", help="a task over random choices of its classes (digit, "
                       "style) and seeds: figures per choice, mean and worst, targets met")
    p.add_argument("--task", choices=tuple(tasks), required=True)
    p.add_argument("--choices", type=positive_int, default=10,
                   help="random choices to run, never the default one (default 10)")
    p.add_argument("--seed", type=seed, default=0,
                   help="seeds the draw of the choices and of their flow seeds (default 0)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="processes, each single-threaded (default 1)")
    p.add_argument("--json", type=Path, default=None, help="write the sweep here")
    p.add_argument("--no-restore", action="store_true",
                   help="run the flows without the restore stage (for comparison)")
    p.add_argument("--validation", action="store_true",
                   help="every choice on the task's validation split of its training data "
                        "(for choosing a recipe; test inputs are not used)")
    p.add_argument("--report", type=Path, default=None,
                   help="write a Markdown report (and the sweep's JSON) into this directory")
    p.set_defaults(func=_sweep, command_parser=p)
    p = sub.add_parser("report", help="rebuild any task's report from its JSON summary")
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("build/report"))
    p.set_defaults(func=_report, command_parser=p)
