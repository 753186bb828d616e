"""Every argument of an `rmlora` command checked before any work starts.

Ranges are argparse types (``int_in``, ``float_in``): argparse refuses a bad value
itself. What needs more than the value (an output path, the data, a count the data
bounds, a Dask scheduler) is checked by the functions below, which raise
``Refused``; rmlora.cli.main prints it as the command's usage error. Either way a
bad invocation ends in seconds with one line naming the option, the value and what
is allowed, and exit status 2, instead of failing after hours of training.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Refused", "int_in", "float_in", "positive_int", "non_negative_int", "seed",
           "output_file", "output_dir", "input_file", "checked_options", "checked_flow",
           "checked_data", "check_outputs", "checked_levels", "check_sweep", "scheduler_reachable",
           "MAX_SEED", "MIN_FREE_BYTES"]

# Seeds are offset (seed + 100, a sweep's flow seeds) and handed to numpy and torch
# generators; 2**31 - 1 keeps every offset seed a valid 32-bit seed.
MAX_SEED = 2**31 - 1
# A report (PNG plots, Markdown, summary) is well under 16 MB: refuse a nearly full
# device before the run rather than losing the result to ENOSPC after it.
MIN_FREE_BYTES = 16 * 2**20
SCHEDULER_TIMEOUT_S = 5.0


class Refused(Exception):
    """A bad argument found before any work; the message names the option, the value
    and what is allowed."""


# --- ranges (argparse types) --------------------------------------------------------
def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in low..high (no upper bound if high is None)."""
    allowed = f"an integer >= {low}" if high is None else f"an integer {low}..{high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    parse.__name__ = allowed  # argparse names the type in some messages
    return parse


def _finite_float(allowed: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a finite number for which ``ok`` holds; ``allowed`` says which."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}") from None
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    parse.__name__ = allowed  # argparse names the type in some messages
    return parse


def float_in(low: float, high: float, unit: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high]."""
    return _finite_float(f"a number {low:g}..{high:g}{' ' + unit if unit else ''}",
                         lambda value: low <= value <= high)


def float_above(low: float, unit: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number > low (an open bound, where float_in's are closed)."""
    return _finite_float(f"a finite number > {low:g}{' ' + unit if unit else ''}",
                         lambda value: value > low)


positive_int = int_in(1)
non_negative_int = int_in(0)
seed = int_in(0, MAX_SEED)


# --- paths --------------------------------------------------------------------------
def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (what creating it starts from)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path):
        path = path.parent
    return path


def _unwritable(directory: Path) -> str | None:
    """Why files cannot be created in the existing ``directory`` (None: they can).
    A real file is tried (unnamed, gone when closed): os.access says yes to root on
    any directory, and nothing but a write finds a read-only mount or a full quota."""
    if not os.path.isdir(directory):
        return f"{directory} is a file, not a directory"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        return f"{directory} is not writable ({err.strerror})"
    free = shutil.disk_usage(directory).free
    if free < MIN_FREE_BYTES:
        return (f"only {free:,} bytes free on the device of {directory} (at least "
                f"{MIN_FREE_BYTES:,} needed)")
    return None


def output_file(option: str, path: Path) -> None:
    """A file the command will write (its directories are created if need be)."""
    if os.path.isdir(path):
        raise Refused(f"{option} {path}: is a directory; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):  # the rename would replace it
        raise Refused(f"{option} {path}: is not a regular file (a device, a pipe); give a "
                      f"file name")
    why = _unwritable(_first_existing(Path(path).absolute().parent))
    if why:
        raise Refused(f"{option} {path}: {why}; give a file in a writable directory")


def output_dir(option: str, path: Path) -> None:
    """A directory the command will write files into (created if need be)."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise Refused(f"{option} {path}: is a file; give a directory")
    why = _unwritable(_first_existing(Path(path)))
    if why:
        raise Refused(f"{option} {path}: {why}; give a writable directory")


def input_file(option: str, path: Path) -> None:
    """A file the command will read."""
    if not os.path.lexists(path):
        raise Refused(f"{option} {path}: no such file")
    if os.path.isdir(path):
        raise Refused(f"{option} {path}: is a directory; give a file")
    if not os.access(path, os.R_OK):
        raise Refused(f"{option} {path}: not readable")


# --- a task's flow --------------------------------------------------------------------
def _check_data(task, what: str) -> None:
    missing = task.data_missing()
    if missing:
        raise Refused(f"{what}: its data is missing: {missing} (set RMLORA_DATA to the "
                      f"directory that holds it)")


def _check_images(task, options, config, prepared, check_images: int) -> None:
    available = task.chip_check_capacity(prepared, config)
    if available is not None and check_images > available:
        raise Refused(f"--check-images {check_images}: the {task.name} flow "
                      f"({task.describe(options)}) has {available} inputs for the chip "
                      f"check; allowed 1..{available}")


def checked_options(task, args: argparse.Namespace | None, seed: int,
                    check_backend: str | None, check_images: int):
    """(options, flow configuration) of ``task`` from the command line (args None: its
    default options), checked without loading the data: the options, the data files'
    presence and, where the configuration bounds it, the chip check's input count."""
    try:
        options = task.default_options if args is None else task.options(args)
        config = task.flow_config(options, seed, progress=False)
    except (ValueError, argparse.ArgumentTypeError) as err:
        raise Refused(f"{task.name}: {err}") from None
    _check_data(task, task.name)
    if check_backend is not None:
        _check_images(task, options, config, None, check_images)
    return options, config


def checked_flow(task, args: argparse.Namespace | None, seed: int, check_backend: str | None,
                 check_images: int):
    """(options, prepared data) of ``task``: ``checked_options``, then ``checked_data``."""
    options, config = checked_options(task, args, seed, check_backend, check_images)
    return checked_data(task, options, config, seed, check_backend, check_images)


def checked_data(task, options, config, seed: int, check_backend: str | None,
                 check_images: int):
    """(options, prepared data) of ``task``, its options already checked: the data loaded
    (seconds; handed to run_task, so it is not loaded twice) and the roles and the chip
    check's input count checked against it."""
    try:
        prepared = task.prepare(options, seed)
    except (ValueError, FileNotFoundError) as err:
        raise Refused(f"{task.name} {task.describe(options)}: {err}") from None
    if check_backend is not None:
        _check_images(task, options, config, prepared, check_images)
    return options, prepared


# --- the other commands ----------------------------------------------------------
def _task(name: str):
    from rmlora.sw.tasks import TASKS
    return TASKS[name]


def check_outputs(args: argparse.Namespace) -> None:
    """--json and --report, where the command has them and they are given."""
    if getattr(args, "json", None) is not None:
        output_file("--json", args.json)
    if getattr(args, "report", None) is not None:
        output_dir("--report", args.report)


def checked_levels(args: argparse.Namespace) -> list:
    """The robustness sweep's levels, every other argument of it checked too."""
    from rmlora.sw.robust import conditions

    try:
        levels = conditions(args.noise, args.stuck, args.drift)
    except ValueError as err:
        raise Refused(str(err)) from None
    check_outputs(args)
    _check_data(_task(args.task), f"--task {args.task}")
    if args.scheduler:
        scheduler_reachable(args.scheduler)
    return levels


def check_sweep(args: argparse.Namespace) -> None:
    """A sweep's outputs, data, random choices and validation split."""
    from rmlora.sw.tasks.sweep import draw_choices

    check_outputs(args)
    task = _task(args.task)
    _check_data(task, f"--task {task.name}")
    try:
        draw_choices(task, 1, args.seed)  # a task without random choices refuses here
        if args.validation:
            task.validation_split(task.default_options, args.seed)
    except (NotImplementedError, ValueError) as err:
        raise Refused(f"--task {task.name}: {err}") from None


async def _scheduler_identity(address: str) -> dict:
    from distributed.core import rpc
    scheduler = rpc(address, timeout=SCHEDULER_TIMEOUT_S)
    try:
        return await asyncio.wait_for(scheduler.identity(), SCHEDULER_TIMEOUT_S)
    finally:
        await scheduler.close_rpc()


def scheduler_reachable(address: str) -> None:
    """A Dask scheduler that answers at ``address`` within a few seconds. A TCP
    connection is not enough: a proxy or another server may accept it, and the run
    would fail only after its training (measured: a sandbox proxy accepted every
    address, and the Dask client died reading its reply)."""
    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        host, port = parts.hostname, parts.port
    except ValueError:  # e.g. an unclosed [ of an IPv6 address, a port out of range
        host, port = None, None
    if host and parts.scheme not in ("tcp", "tls"):
        raise Refused(f"--scheduler {address}: give tcp://host:port or tls://host:port")
    if not host or port is None:
        raise Refused(f"--scheduler {address}: give tcp://host:port (e.g. "
                      f"tcp://localhost:8786)")
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT_S).close()
    except OSError as err:
        raise Refused(f"--scheduler {address}: no scheduler answers there "
                      f"({err.strerror or err})") from None
    try:
        import distributed  # noqa: F401  (the `cluster` extra)
    except ImportError:
        raise Refused(f"--scheduler {address}: the Dask client is not installed (pip "
                      f"install 'rmlora[cluster]')") from None
    try:
        identity = asyncio.run(_scheduler_identity(f"{parts.scheme}://{host}:{port}"))
    # whatever the far end answers is not our bug: anything but a scheduler's
    # identity refuses the address (garbage made the Dask client raise MemoryError)
    except Exception as err:
        raise Refused(f"--scheduler {address}: no Dask scheduler answers there "
                      f"({type(err).__name__}: {err})") from None
    if not (isinstance(identity, dict) and identity.get("type") == "Scheduler"):
        raise Refused(f"--scheduler {address}: answers, but is not a Dask scheduler")
