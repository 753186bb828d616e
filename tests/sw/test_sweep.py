"""`rmlora sweep`: random choices are seeded, never the default and keep the roles;
figures are read by key, aggregated in the right direction and counted against the
targets; the command refuses bad arguments before training; a tiny task sweeps end
to end. Summaries are made by hand here (an injected runner): no training but the
tiny task's."""

import json
from dataclasses import replace

import numpy as np
import pytest

from rmlora.cli import main
from rmlora.sw.data.digits import STYLES
from rmlora.sw.report.sweep import format_sweep_table
from rmlora.sw.tasks import TASKS, register, unregister
from rmlora.sw.tasks.classifier import ClassifierTask, Roles, Roster
from rmlora.sw.tasks.diffusion import DiffusionTask, Erasure
from rmlora.sw.tasks.sweep import (
    FLOW_SEEDS,
    aggregate,
    draw_choices,
    figures_of,
    read_figure,
    run_sweep,
    targets_met_in,
)
from rmlora.sw.tasks.task import Figure
from tests.sw.test_tasks import TINY

DRAWS = 200


def _draws(task, seed, n=DRAWS):
    rng = np.random.default_rng(seed)
    return [task.random_options(rng) for _ in range(n)]


@pytest.mark.parametrize("name", ["face", "speaker", "diffusion"])
def test_random_options_are_the_same_for_the_same_seed(name):
    task = TASKS[name]
    assert _draws(task, 3, 20) == _draws(task, 3, 20)
    assert _draws(task, 3, 20) != _draws(task, 4, 20)


@pytest.mark.parametrize("name", ["face", "speaker"])
def test_classifier_choices_keep_the_roles_within_the_pool(name):
    task = TASKS[name]
    roster, default = task.roster, task.default_options
    for roles in _draws(task, 0):
        assert len(roles.classes) == len(roster.classes) == len(set(roles.classes))
        assert set(roles.classes) <= set(roster.pool) and roles.learn in roster.pool
        assert roles.forget in roles.classes and roles.learn not in roles.classes
        assert (set(roles.classes), roles.forget, roles.learn) != (
            set(default.classes), default.forget, default.learn)
    # every class of the pool is drawn, in every role and first position
    draws = _draws(task, 0, 1000)
    assert {r.learn for r in draws} == {r.forget for r in draws} == set(roster.pool)
    assert {r.classes[0] for r in draws} == set(roster.pool)


def test_diffusion_choices_are_digits_and_styles_never_the_default():
    draws = _draws(TASKS["diffusion"], 0)
    assert Erasure() not in draws
    assert {d.erase for d in draws} == set(range(10))
    assert {d.style for d in draws} == set(STYLES)


def test_the_default_roles_in_another_order_are_still_the_default():
    face = TASKS["face"]
    assert face.is_default(Roles((4, 3, 2, 1, 0), 1, 5))
    assert not face.is_default(Roles((4, 3, 2, 1, 0), 2, 5))


def test_a_task_with_no_other_choice_cannot_be_swept():
    class OnlyTheDefault(DiffusionTask):
        def draw_options(self, rng):
            return Erasure()
    with pytest.raises(ValueError, match="draws in a row were its default options"):
        OnlyTheDefault().random_options(np.random.default_rng(0))
    with pytest.raises(NotImplementedError, match="no pool"):
        TINY.random_options(np.random.default_rng(0))


def test_a_pool_must_hold_the_default_roles():
    with pytest.raises(ValueError, match=r"\['cross'\] are not in it"):
        Roster("shapes", classes=("circle",), forget="circle", learn="cross",
               pool=("circle", "square"))


def test_choices_carry_their_own_flow_seeds_drawn_from_the_sweep_seed():
    speaker = TASKS["speaker"]
    drawn = draw_choices(speaker, 30, seed=5)
    assert drawn == draw_choices(speaker, 30, seed=5)
    assert all(FLOW_SEEDS[0] <= s < FLOW_SEEDS[1] for _, s in drawn)
    assert len({s for _, s in drawn}) > 25
    with pytest.raises(ValueError, match="choices must be >= 1"):
        draw_choices(speaker, 0, seed=5)


def test_figures_are_the_targets_values_then_the_tasks_own_each_once():
    face = figures_of(TASKS["face"])
    keys = [f.key for f in face]
    assert len(keys) == len(set(keys))
    numeric = [k for k, b in TASKS["face"].targets.bounds() if b.rule != "=="]
    assert keys[:len(numeric)] == numeric  # chip_check's flags are counted, not figures
    assert {"pretrained.float.test_acc", "pretrained.chip.retain_holdout_acc",
            "continual.lora.float.old_acc"} <= set(keys)
    better = {f.key: f.better for f in face}
    assert better["mia.lora_minus_retrain"] == "zero"
    assert better["unlearned.lora.forget_acc"] == "low"
    assert "pretrained.worst_digit_rate" in [f.key for f in figures_of(TASKS["diffusion"])]


def test_a_figure_is_read_by_key_and_a_missing_one_is_named():
    summary = {"task": "t", "a": {"b": 0.5, "digits": [0.9, 0.4, 0.8], "flag": True}}
    assert read_figure(summary, Figure("a.b", "high")) == 0.5
    assert read_figure(summary, Figure("a.worst", "high", least_of="a.digits")) == 0.4
    with pytest.raises(KeyError, match="no value 'a.c'"):
        read_figure(summary, Figure("a.c", "high"))
    with pytest.raises(KeyError, match="no value 'a.b.c'"):
        read_figure(summary, Figure("a.b.c", "high"))
    with pytest.raises(ValueError, match="not a number"):
        read_figure(summary, Figure("a.flag", "high"))
    with pytest.raises(ValueError, match="better="):
        Figure("a.b", "higher")


def test_worst_and_best_follow_which_way_is_better():
    figures = [Figure("acc", "high"), Figure("forget", "low"), Figure("gap", "zero")]
    records = [{"figures": {"acc": a, "forget": f, "gap": g}}
               for a, f, g in [(0.9, 0.0, 0.01), (1.0, 0.2, -0.08), (0.8, 0.1, 0.05)]]
    agg = aggregate(records, figures)
    assert agg["acc"] == pytest.approx({"mean": 0.9, "worst": 0.8, "best": 1.0,
                                        "better": "high"})
    assert agg["forget"]["worst"] == 0.2 and agg["forget"]["best"] == 0.0
    assert agg["gap"]["worst"] == -0.08 and agg["gap"]["best"] == 0.01
    assert agg["gap"]["mean"] == pytest.approx(-0.02 / 3)


def test_targets_met_counts_only_the_measured():
    records = [{"targets": {"acc": True, "bit_exact": None}},
               {"targets": {"acc": False, "bit_exact": None}},
               {"targets": {"acc": True, "bit_exact": None}}]
    assert targets_met_in(records) == {"acc": "2/3"}


def _nested(keys: list[str], value: float) -> dict:
    out: dict = {}
    for key in keys:
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def made_up_run(task_name, options, seed, check_backend, restore=True, validation=False):
    """A summary without training: every figure of the task is seed / 10000; the
    pretrained accuracy target is met when the seed is even."""
    task = TASKS[task_name]
    keys = [f.least_of or f.key for f in figures_of(task)]
    summary = _nested(keys, seed / 10_000) | {"task": task_name, "seconds": {"total": 1.0}}
    summary["targets"] = [{"key": "pretrained.chip.test_acc", "value": 0.9,
                           "met": seed % 2 == 0},
                          {"key": "chip_check.bit_exact", "value": None, "met": False}]
    return summary


def test_a_sweep_is_the_same_in_a_pool_and_inline():
    speaker = TASKS["speaker"]
    inline = run_sweep(speaker, 3, seed=1, runner=made_up_run)
    pooled = run_sweep(speaker, 3, seed=1, workers=2, runner=made_up_run)
    assert [c["seed"] for c in inline["choices"]] == [s for _, s in draw_choices(speaker, 3, 1)]
    for key in ("choices", "aggregate", "targets_met_in"):
        assert json.dumps(inline[key]) == json.dumps(pooled[key])
    seeds = [c["seed"] for c in inline["choices"]]
    acc = inline["aggregate"]["pretrained.chip.test_acc"]
    assert acc["worst"] == min(seeds) / 10_000 and acc["best"] == max(seeds) / 10_000
    assert inline["targets_met_in"] == {
        "pretrained.chip.test_acc": f"{sum(s % 2 == 0 for s in seeds)}/3"}
    assert inline["choices"][0]["options"]["forget"] in inline["choices"][0]["options"]["classes"]
    table = format_sweep_table(inline)
    assert "worst" in table and "a: unlearned.lora.forget_acc" not in table
    assert "a: pretrained.chip.test_acc (higher is better; target >= 0.97" in table
    assert "not run: chip_check.bit_exact" in table


def test_a_summary_without_a_figure_stops_the_sweep_naming_it():
    def incomplete(task_name, options, seed, check_backend, restore=True, validation=False):
        summary = made_up_run(task_name, options, seed, check_backend, restore, validation)
        del summary["continual"]["lora"]["float"]["old_acc"]
        return summary
    with pytest.raises(KeyError, match="continual.lora.float.old_acc"):
        run_sweep(TASKS["face"], 1, seed=0, runner=incomplete)


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a sweep started with bad arguments")
    monkeypatch.setattr("rmlora.sw.tasks.sweep.run_sweep", refuse)


@pytest.mark.parametrize("argv, why", [
    (["--choices", "0"], "--choices: must be an integer >= 1, got '0'"),
    (["--workers", "0"], "--workers: must be an integer >= 1, got '0'"),
    (["--json", "{tmp}"], "is a directory; give a file name"),
    (["--json", "{tmp}/file/out.json"], "file is a file, not a directory"),
    (["--report", "{tmp}/file/report"], "file is a file, not a directory"),
])
def test_sweep_refuses_bad_arguments_before_training(no_training, tmp_path, capsys, argv,
                                                     why):
    (tmp_path / "file").write_text("")
    argv = [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--task", "speaker", *argv])
    assert exit_.value.code == 2  # argparse's usage error
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("rmlora sweep: error: ") and why in error


@pytest.fixture
def tiny_with_pool():
    task = replace(TINY, roster=replace(TINY.roster, pool=("circle", "square", "star",
                                                           "cross", "moon")))
    register(task)
    yield task
    unregister(task.name)


def test_a_tiny_task_sweeps_end_to_end_through_the_command_line(tiny_with_pool, tmp_path,
                                                                capsys):
    assert isinstance(tiny_with_pool, ClassifierTask)
    out = tmp_path / "sweep.json"
    main(["sweep", "--task", "tiny", "--choices", "1", "--seed", "2", "--json", str(out),
          "--report", str(tmp_path / "report")])
    sweep = json.loads(out.read_text())
    (choice,) = sweep["choices"]
    options, seed = draw_choices(tiny_with_pool, 1, 2)[0]
    assert choice["options"] == {"classes": list(options.classes), "forget": options.forget,
                                 "learn": options.learn}
    assert choice["seed"] == seed
    assert set(choice["figures"]) == {f.key for f in figures_of(tiny_with_pool)}
    assert sweep["targets_met_in"].keys() == {"pretrained.chip.test_acc",
                                              "unlearned.lora.forget_acc"}
    assert "mean" in capsys.readouterr().out
    assert "| worst |" in (tmp_path / "report" / "report.md").read_text()
