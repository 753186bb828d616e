"""Every bad invocation of every `rmlora` command is refused before any work: one
line naming the option, the value and what is allowed, exit status 2, no traceback,
no file written, within seconds (issue 19). Results are written atomically."""

import contextlib
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmlora.cli import main
from rmlora.cli_checks import (
    MAX_SEED,
    Refused,
    float_in,
    input_file,
    int_in,
    output_dir,
    output_file,
)
from rmlora.sw.report.atomic import staged_dir, staged_report, write_text_atomic
from rmlora.sw.tasks import TASKS

REFUSAL_SECONDS = 10  # the bound on a refusal


def _have_data(*tasks):
    return all(TASKS[t].data_missing() is None for t in tasks)


needs_faces = pytest.mark.skipif(not _have_data("face"), reason="face data not here")
needs_all_data = pytest.mark.skipif(not _have_data("face", "speaker"), reason="data not here")

# Reaching any of these means a flow started: with bad arguments that is the bug.
HEAVY = ("rmlora.sw.tasks.run_task", "rmlora.sw.tasks.sweep.run_sweep",
         "rmlora.sw.robust.prepare", "rmlora.sw.robust.sweep", "rmlora.sw.runtime.Chip",
         "rmlora.sw.compiler.compile_model", "rmlora.hw.build.main",
         "rmlora.hw.build.write_verilog", "rmlora.firmware.header.main",
         "rmlora.sim.cosim.run_on_chip")


class StartedWork(AssertionError):
    pass


def _started(*args, **kwargs):
    raise StartedWork("a command started its work despite a bad argument")


@pytest.fixture(scope="module")
def no_work():
    with pytest.MonkeyPatch.context() as mp:
        for target in HEAVY:
            mp.setattr(target, _started)
        yield


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "file").write_text("not a directory")
    (root / "dir").mkdir()
    (root / "bad.json").write_text("{bad")
    (root / "list.json").write_text("[1]")
    (root / "task_list.json").write_text('{"task": ["face"]}')
    # a face summary cut short: the report would fail after its first plot
    (root / "short.json").write_text(json.dumps({"task": "face", "config": {},
                                                 "targets": []}))
    return root


def refusal(argv: list[str]) -> tuple[int, str, float]:
    """(exit status, stderr, seconds) of ``rmlora argv`` run in this process."""
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exit_:
            return exit_.code, err.getvalue(), time.perf_counter() - start
    raise AssertionError(f"rmlora {' '.join(argv)} was not refused")


def filled(argv, paths: Path) -> list[str]:
    """``argv`` with {f} (a file), {d} (a directory) and {r} (their directory) filled in."""
    places = {"{f}": paths / "file", "{d}": paths / "dir", "{r}": paths}
    for key, path in places.items():
        argv = [a.replace(key, str(path)) for a in argv]
    return argv


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# (argv, what the error line says); {f}: a file, {d}: a directory, {r}: the root
INVALID = [
    (["face", "--seed", "-1"], "--seed: must be an integer 0..2147483647, got '-1'"),
    (["face", "--seed", str(MAX_SEED + 1)], "--seed"),
    (["face", "--check-images", "0"], "--check-images: must be an integer >= 1"),
    (["face", "--check-images", "-1"], "--check-images"),
    (["face", "--check-images", "lots"], "got 'lots'"),
    (["face", "--check-backend", "spice"], "invalid choice: 'spice'"),
    (["face", "--check-backend", "none", "--check-images", "5"], "applies only to a chip check"),
    (["face", "--people", "0-x"], "--people"),
    (["face", "--json", "{d}"], "--json {d}: is a directory"),
    (["face", "--json", "/dev/null"], "--json /dev/null: is not a regular file"),
    (["face", "--json", "{f}/out.json"], "{f} is a file, not a directory"),
    (["face", "--report", "{f}"], "--report {f}: is a file"),
    (["face", "--report", "{f}/sub/report"], "{f} is a file, not a directory"),
    pytest.param(["face", "--check-images", "600"], "allowed 1..558", marks=needs_faces),
    pytest.param(["face", "--people", "0-4", "--forget", "9"], "forget=9", marks=needs_faces),
    pytest.param(["face", "--people", "0-4", "--learn", "40"], "person 40", marks=needs_faces),
    (["speaker", "--seed", "-3"], "--seed"),
    pytest.param(["speaker", "--speakers", "george,nobody"], "'nobody'",
                 marks=needs_all_data),
    (["diffusion", "--seed", "-1"], "--seed"),
    (["diffusion", "--check-images", "-1"], "--check-images"),
    (["diffusion", "--check-images", "81"], "allowed 1..80"),
    (["diffusion", "--erase", "10"], "erase must be a digit 0-9, got 10"),
    (["diffusion", "--style", "bold"], "invalid choice: 'bold'"),
    (["diffusion", "--json", "{f}/x/y.json"], "{f} is a file"),
    (["sim", "--check-images", "0"], "--check-images"),
    pytest.param(["sim", "--check-images", "81"], "allowed 1..80", marks=needs_all_data),
    (["sim", "--seed", "x"], "--seed"),
    (["cost", "--task", "diffusion"], "--task"),
    (["cost"], "give a TASK"),
    (["cost", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["cost", "--json", "{f}", "face"], "before TASK"),
    (["cost", "--model", "dit-b2", "--json", "{d}"], "is a directory"),
    (["cost", "--model", "dit-b2", "--plot", "{d}"], "is a directory"),
    (["cost", "--model", "dit-b2", "--clock-mhz", "0"], "--clock-mhz"),
    (["cost", "diffusion", "--people", "0-4"], "unrecognized arguments: --people"),
    (["cost", "diffusion", "--check-images", "4"], "unrecognized arguments"),
    (["cost", "diffusion", "--erase", "-1"], "erase must be a digit"),
    (["cost", "face", "--json", "{d}"], "is a directory"),
    (["cost", "face", "--seed", "-1"], "--seed"),
    (["report", "--json", "{r}/missing.json"], "no such file"),
    (["report", "--json", "{d}"], "is a directory"),
    (["report", "--json", "{r}/bad.json", "--out", "{r}/out1"], "cannot read a summary"),
    (["report", "--json", "{r}/list.json", "--out", "{r}/out2"], "a JSON object"),
    (["report", "--json", "{r}/task_list.json", "--out", "{r}/out4"], "is not registered"),
    (["report", "--json", "{r}/short.json", "--out", "{r}/out3"],
     "not a complete face summary"),
    (["report", "--json", "{r}/short.json", "--out", "{f}"], "--out {f}: is a file"),
    (["report"], "--json"),
    (["robustness", "--rank", "17"], "--rank: must be an integer 1..16, got '17'"),
    (["robustness", "--rank", "0"], "--rank"),
    (["robustness", "--workers", "-1"], "--workers: must be an integer >= 0"),
    (["robustness", "--runs", "0"], "--runs"),
    (["robustness", "--hwa-noise", "-1"], "--hwa-noise: must be a number 0..50 uS"),
    (["robustness", "--hwa-noise", "nan"], "--hwa-noise"),
    (["robustness", "--noise", "1,two"], "not a number"),
    (["robustness", "--stuck", "101"], "outside [0, 100]"),
    (["robustness", "--drift", "1parsec"], "1parsec"),
    (["robustness", "--task", "diffusion"], "invalid choice: 'diffusion'"),
    (["robustness", "--json", "{f}/x.json"], "is a file, not a directory"),
    (["robustness", "--report", "{f}"], "is a file"),
    pytest.param(["robustness", "--scheduler", "tcp://127.0.0.1:1"], "no scheduler answers",
                 marks=needs_faces),
    pytest.param(["robustness", "--scheduler", "no scheduler"], "--scheduler",
                 marks=needs_faces),
    pytest.param(["robustness", "--scheduler", "tcp://[::1"], "give tcp://host:port",
                 marks=needs_faces),
    pytest.param(["robustness", "--scheduler", "http://localhost:8786"], "give tcp://",
                 marks=needs_faces),
    (["sweep"], "--task"),
    (["sweep", "--task", "face", "--choices", "0"], "--choices"),
    (["sweep", "--task", "face", "--workers", "0"], "--workers"),
    (["sweep", "--task", "face", "--seed", "-5"], "--seed"),
    (["sweep", "--task", "face", "--report", "{f}"], "is a file"),
    (["sweep", "--task", "diffusion", "--validation"], "no validation split"),
    pytest.param(["sweep", "--task", "speaker", "--validation"], "no validation split",
                 marks=needs_all_data),
    (["bringup", "--simulator", "modelsim"], "invalid choice: 'modelsim'"),
    (["infer", "--inputs", "0"], "--inputs: must be an integer >= 1, got '0'"),
    (["infer", "--inputs", "-3"], "--inputs"),
    (["infer", "--seed", "-1"], "--seed"),
    (["infer", "--backend", "spice"], "invalid choice"),
    (["infer", "--adapters", "forget"], "no adapter 'forget'; choose from a, b"),
    (["infer", "--model", "face", "--adapters", "a,learn"], "no adapter 'a'"),
    (["verilog", "--out", "{f}"], "--out {f}: is a file"),
    (["verilog", "--out", "{f}/sub"], "is a file, not a directory"),
    (["header", "--out", "x"], "unrecognized arguments"),
    (["nosuch"], "invalid choice: 'nosuch'"),
    ([], "required"),
]


@pytest.mark.parametrize("argv, why", INVALID)
def test_a_bad_invocation_is_refused_in_one_line_before_any_work(no_work, paths, argv, why):
    argv, (why,) = filled(argv, paths), filled([why], paths)
    before = tree(paths)
    code, err, seconds = refusal(argv)
    assert code == 2, err
    assert "Traceback" not in err
    assert why in err.splitlines()[-1]
    assert ": error: " in err.splitlines()[-1]
    assert seconds < REFUSAL_SECONDS
    assert tree(paths) == before  # nothing written, not even a directory


def test_a_refusal_from_the_shell_is_status_2_and_no_traceback():
    for argv in (["infer", "--inputs", "0"], ["diffusion", "--check-images", "81"]):
        done = subprocess.run([sys.executable, "-m", "rmlora.cli", *argv], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.splitlines()[-1].startswith(f"rmlora {argv[0]}: error: ")


def test_a_malformed_summary_leaves_the_old_report_as_it_was(paths, tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("the previous report")
    code, err, _ = refusal(["report", "--json", str(paths / "short.json"), "--out", str(out)])
    assert code == 2 and "not a complete face summary" in err.splitlines()[-1]
    assert tree(out) == {"report.md"}  # no plot of the failed report, no staging directory
    assert (out / "report.md").read_text() == "the previous report"


# --- the checks and the atomic writes one by one ------------------------------------
def test_range_types_name_what_is_allowed():
    import argparse
    assert int_in(1, 16)("16") == 16 and float_in(0, 50, "uS")("0") == 0.0
    for parse, text, allowed in ((int_in(1, 16), "17", "an integer 1..16"),
                                 (int_in(0), "-1", "an integer >= 0"),
                                 (int_in(0), "1.5", "an integer >= 0"),
                                 (float_in(0, 50, "uS"), "inf", "a number 0..50 uS")):
        with pytest.raises(argparse.ArgumentTypeError, match=f"must be {allowed}, got"):
            parse(text)


def test_output_checks_refuse_an_unwritable_or_full_place(tmp_path, monkeypatch):
    output_file("--json", tmp_path / "new" / "deeper" / "out.json")  # created later
    output_dir("--report", tmp_path / "new" / "report")
    monkeypatch.setattr("shutil.disk_usage", lambda path: type("U", (), {"free": 4096})())
    with pytest.raises(Refused, match="only 4,096 bytes free"):
        output_file("--json", tmp_path / "out.json")
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Read-only file system")
    monkeypatch.setattr("tempfile.TemporaryFile", read_only)
    with pytest.raises(Refused, match="is not writable .Read-only file system."):
        output_dir("--report", tmp_path / "report")


def test_a_scheduler_must_answer_as_a_dask_scheduler():
    """A TCP connection is not enough (a proxy may accept any): the check asks the
    scheduler for its identity."""
    import socket
    import threading

    import distributed

    from rmlora.cli_checks import scheduler_reachable

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        scheduler_reachable(cluster.scheduler_address)
    with socket.create_server(("127.0.0.1", 0)) as server:  # answers, but garbage
        def answer():
            connection, _ = server.accept()
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)
        threading.Thread(target=answer, daemon=True).start()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(Refused, match="no Dask scheduler answers there"):
            scheduler_reachable(address)


def test_input_check_refuses_what_cannot_be_read(tmp_path):
    with pytest.raises(Refused, match="no such file"):
        input_file("--json", tmp_path / "missing.json")
    with pytest.raises(Refused, match="is a directory"):
        input_file("--json", tmp_path)


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path):
    path = write_text_atomic(tmp_path / "sub" / "summary.json", "old")
    assert path.read_text() == "old"
    with pytest.raises(TypeError):
        write_text_atomic(path, 42)  # fails half-way
    assert path.read_text() == "old" and tree(tmp_path) == {"sub", "sub/summary.json"}
    write_text_atomic(path, "new")
    assert path.read_text() == "new" and tree(tmp_path) == {"sub", "sub/summary.json"}
    (tmp_path / "link.json").symlink_to(path)  # written through, the link kept
    write_text_atomic(tmp_path / "link.json", "linked")
    assert (tmp_path / "link.json").is_symlink() and path.read_text() == "linked"


@staged_report
def _two_files(summary: dict, out_dir) -> Path:
    (Path(out_dir) / "plot.png").write_text("plot")
    (Path(out_dir) / "report.md").write_text(summary["text"])  # KeyError if malformed
    return Path(out_dir) / "report.md"


def test_a_staged_report_appears_whole_or_not_at_all(tmp_path):
    out = tmp_path / "report"
    with pytest.raises(KeyError):
        _two_files({}, out)
    assert tree(tmp_path) == set()  # no directory, no plot, no staging directory
    assert _two_files({"text": "one"}, out) == out / "report.md"
    assert tree(out) == {"plot.png", "report.md"}
    (out / "other.txt").write_text("kept")
    with pytest.raises(KeyError):
        _two_files({}, out_dir=out)
    assert tree(out) == {"plot.png", "report.md", "other.txt"}
    _two_files({"text": "two"}, out)
    assert (out / "report.md").read_text() == "two" and (out / "other.txt").exists()


def test_a_staged_directory_is_removed_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError), staged_dir(tmp_path / "x") as stage:
        (stage / "a").write_text("a")
        raise RuntimeError("failed")
    assert tree(tmp_path) == set()


# --- fuzzing: invalid arguments never reach training, never print a traceback ------
def _not_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


def _not_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


NOT_INT = st.text(min_size=1, max_size=8).filter(_not_int)
NOT_NUMBER = st.text(min_size=1, max_size=8).filter(_not_number)
NEGATIVE = st.integers(max_value=-1).map(str)
BAD_SEED = st.one_of(NEGATIVE, st.integers(min_value=MAX_SEED + 1).map(str), NOT_INT)
BAD_COUNT = st.one_of(st.integers(max_value=0).map(str), NOT_INT)
BAD_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
PATH_UNDER_FILE = st.sampled_from(["{f}/out.json", "{f}/a/b"])

# (command..., option): strategies of values every one of which that option refuses
BAD = {
    ("face",): {"--seed": BAD_SEED, "--check-images": BAD_COUNT, "--json": PATH_UNDER_FILE,
                "--report": st.sampled_from(["{f}", "{f}/r"]),
                "--check-backend": BAD_WORD.filter(
                    lambda w: w not in ("golden", "verilator", "icarus", "none"))},
    ("speaker",): {"--seed": BAD_SEED, "--check-images": BAD_COUNT,
                   "--json": PATH_UNDER_FILE},
    ("diffusion",): {"--seed": BAD_SEED, "--check-images": BAD_COUNT,
                     "--erase": st.one_of(st.integers(max_value=-1),
                                          st.integers(min_value=10)).map(str),
                     "--style": BAD_WORD.filter(lambda w: w not in ("thick", "invert"))},
    ("sim",): {"--seed": BAD_SEED, "--check-images": BAD_COUNT},
    ("cost", "face"): {"--seed": BAD_SEED, "--json": PATH_UNDER_FILE,
                       "--clock-mhz": st.one_of(st.floats(max_value=0), st.sampled_from(
                           [float("nan"), float("inf")])).map(repr) | NOT_NUMBER},
    ("cost", "diffusion"): {"--seed": BAD_SEED, "--erase": NEGATIVE},
    ("robustness",): {"--rank": st.one_of(st.integers(max_value=0),
                                          st.integers(min_value=17)).map(str),
                      "--workers": NEGATIVE, "--runs": BAD_COUNT, "--seed": BAD_SEED,
                      "--hwa-noise": st.one_of(st.floats(max_value=-1e-9),
                                               st.floats(min_value=50.001),
                                               st.just(float("nan"))).map(repr),
                      "--noise": NOT_NUMBER.filter(lambda t: "," not in t and t.strip()),
                      "--json": PATH_UNDER_FILE,
                      # no host or no port: refused before any connection is tried
                      "--scheduler": st.text(alphabet="[]:/%@ .tcpls", min_size=1, max_size=12)},
    ("sweep", "--task", "face"): {"--choices": BAD_COUNT, "--workers": BAD_COUNT,
                                  "--seed": BAD_SEED, "--report": PATH_UNDER_FILE},
    ("report", "--json", "{r}/bad.json"): {"--out": st.sampled_from(["{f}", "{f}/x"])},
    ("infer",): {"--inputs": BAD_COUNT, "--seed": BAD_SEED,
                 "--model": BAD_WORD.filter(lambda w: w not in ("mlp", "face"))},
    ("verilog",): {"--out": st.sampled_from(["{f}", "{f}/v"])},
    ("bringup",): {"--simulator": BAD_WORD.filter(lambda w: w not in ("verilator", "icarus"))},
}


CASES = sorted((command, option) for command, options in BAD.items() for option in options)


@st.composite
def bad_invocations(draw) -> list[str]:
    """A command with one option given a value it refuses, or with an unknown option."""
    command, option = draw(st.sampled_from(CASES))
    if draw(st.integers(0, 9)) == 0:
        unknown = draw(BAD_WORD.filter(lambda w: w not in ("h", "help")))
        return [*command, f"--{unknown}-x"]
    return [*command, f"{option}={draw(BAD[command][option])}"]  # '=': '-1' is a value


@settings(max_examples=120, deadline=None)
@given(argv=bad_invocations())
def test_fuzzed_bad_arguments_never_start_a_flow(no_work, paths, argv):
    argv = filled(argv, paths)
    before = tree(paths)
    code, err, seconds = refusal(argv)
    assert code == 2 and "Traceback" not in err, err
    assert ": error: " in err.splitlines()[-1]
    assert seconds < REFUSAL_SECONDS
    assert tree(paths) == before


def test_a_result_the_device_refuses_after_the_run_is_saved_elsewhere(tmp_path, monkeypatch):
    import argparse
    import tempfile

    from rmlora.cli_tasks import _finish

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("rmlora.sw.report.atomic.write_text_atomic", full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    summary = {"task": "face", "targets": [], "seconds": {"total": 1.0}}
    args = argparse.Namespace(json=tmp_path / "out.json")
    with pytest.raises(SystemExit) as exit_, contextlib.redirect_stdout(io.StringIO()):
        _finish("face", summary, args, None, None)
    (rescued,) = tmp_path.glob("rmlora-face-*.json")
    assert json.loads(rescued.read_text()) == summary
    assert "No space left on device" in exit_.value.code and str(rescued) in exit_.value.code
