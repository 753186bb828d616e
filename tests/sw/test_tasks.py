"""A task is one module: a tiny task declared here (synthetic clusters, a two-layer
MLP) runs end to end through the command line like the built-in ones; its report is
rebuilt from its summary; its cost is priced; targets are typed."""

import json

import pytest
import torch
from torch import nn

from rmlora.cli import main
from rmlora.sw.learn import AdapterSpec, FlowConfig, FlowData, StageConfig
from rmlora.sw.tasks import TASKS, register, unregister
from rmlora.sw.tasks.classifier import ClassifierTask, Roster
from rmlora.sw.tasks.targets import ClassifierTargets, at_least, at_most, check_targets


def clusters(roles, seed, source=None):
    """One Gaussian cluster per class in 8 dimensions: 24 training, 8 test and 8
    held-out inputs per class."""
    names = [*roles.classes, roles.learn]
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(len(names), 8, generator=gen)

    def draw(n):
        y = torch.arange(len(names)).repeat_interleave(n)
        return centres[y] + torch.randn(len(y), 8, generator=gen), y
    class_of = {name: i for i, name in enumerate(names)}
    return list(roles.classes), class_of, FlowData(
        *draw(24), *draw(8), *draw(8), class_of[roles.forget], class_of[roles.learn])


def tiny_config(seed):
    layers = ("0", "2")
    return FlowConfig(seed=seed, pretrain=StageConfig(epochs=20, lr=0.02),
                      unlearn=StageConfig(epochs=8, lr=0.02),
                      forget_adapter=AdapterSpec("forget", 4, 8.0, layers),
                      continual=StageConfig(epochs=8, lr=0.02),
                      continual_adapter=AdapterSpec("continual", 4, 8.0, layers),
                      full_finetune=StageConfig(epochs=4, lr=0.02))


TINY = ClassifierTask(
    name="tiny", help="a tiny synthetic classification task",
    roster=Roster("shapes", classes=("circle", "square", "star"), forget="square",
                  learn="cross"),
    load=clusters,
    model=lambda x, n: nn.Sequential(nn.Linear(x.shape[1], 16, bias=False), nn.ReLU(),
                                     nn.Linear(16, n, bias=False)),
    config=tiny_config, mvm_reads=(("0", 2),),
    targets=ClassifierTargets(pretrained_acc=at_least(0.9), forget_acc=at_most(0.05)))


@pytest.fixture
def tiny():
    register(TINY)
    yield TINY
    unregister(TINY.name)


def test_a_registered_task_runs_end_to_end_through_the_command_line(tiny, tmp_path):
    out = tmp_path / "tiny.json"
    main(["tiny", "--shapes", "circle,square,star", "--forget", "square", "--learn", "cross",
          "--check-backend", "golden", "--check-images", "4", "--json", str(out),
          "--report", str(tmp_path / "report")])
    summary = json.loads(out.read_text())
    assert summary["task"] == "tiny"
    assert summary["config"]["shapes"] == ["circle", "square", "star"]
    assert summary["config"]["class_of"] == {"circle": 0, "square": 1, "star": 2, "cross": 3}
    assert [t["key"] for t in summary["targets"]] == [key for key, _, _ in TINY.targets]
    assert summary["chip_check"]["images"] == 4 and summary["chip_check"]["bit_exact"]
    # the task's reads reach every chip it compiles: its layer "0" at 2 reads a plane
    assert summary["config"]["mvm_reads"] == {"0": 2, "2": 1}
    assert summary["config"]["mvm_reads_clamped"] == []
    assert set(summary["deploy"]) == {"lora", "full_finetune", "retrained"}
    assert summary["cost"]["inference_energy_fold"] > 0

    # `rmlora report` rebuilds the same report from the summary alone
    main(["report", "--json", str(out), "--out", str(tmp_path / "rebuilt")])
    report = (tmp_path / "report" / "report.md").read_text()
    assert "`unlearned.lora.forget_acc`" in report
    assert (tmp_path / "rebuilt" / "report.md").read_text() == report

    # `rmlora cost TASK` runs the same flow (no chip check) and prices it
    main(["cost", "tiny", "--json", str(tmp_path / "cost.json")])
    cost = json.loads((tmp_path / "cost.json").read_text())
    assert cost == summary["cost"]


def test_the_face_tasks_reads_name_its_layers():
    """FACE.mvm_reads compiles onto the face Mixer: every name is one of its layers
    (compile_model refuses others) and each layer is asked for its reads."""
    from rmlora.sw.compiler import compile_model
    from rmlora.sw.models.demo import demo_inputs, demo_model
    from rmlora.sw.tasks.face import FACE

    compiled = compile_model(demo_model("face"), demo_inputs("face", 64, 1),
                             reads=FACE.compile_reads())
    asked = dict(FACE.mvm_reads)
    assert asked and all(n > 1 for n in asked.values())
    assert {layer.name: layer.reads_asked for layer in compiled.layers} == {
        layer.name: asked.get(layer.name, 1) for layer in compiled.layers}


def test_a_task_with_a_bad_reads_number_is_refused_before_training(tiny, monkeypatch):
    """A task's mvm_reads outside 1, 2, 4, 8 is refused by run_task before the first
    epoch, naming the layer and the value."""
    import dataclasses

    from rmlora.sw.learn.restore import Restore
    from rmlora.sw.tasks import run_task

    bad = dataclasses.replace(TINY, mvm_reads=(("0", 3),))
    monkeypatch.setattr(Restore, "__init__", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match="layer '0': reads=3 per bit plane must be one of"):
        run_task(bad, bad.default_options, 0, None, prepared=bad.prepare(bad.default_options, 0))


def test_a_chip_check_larger_than_the_data_is_refused_before_training(tiny, monkeypatch):
    """64 test and held-out inputs (4 classes x 8 each): 65 is refused by run_task
    before the first epoch, whether or not the command line checked it first."""
    from rmlora.sw.learn.restore import Restore
    from rmlora.sw.tasks import run_task

    options = TINY.default_options
    prepared = TINY.prepare(options, 0)
    assert TINY.chip_check_capacity(prepared, None) == 64
    assert TINY.chip_check_capacity(None, None) is None
    monkeypatch.setattr(Restore, "__init__", lambda *a: pytest.fail("trained"))
    with pytest.raises(ValueError, match="check_inputs=65: the chip check has 64 inputs"):
        run_task(TINY, options, 0, "golden", 65, prepared=prepared)


def test_registry_refuses_a_second_task_of_the_same_name(tiny):
    with pytest.raises(ValueError, match="already registered"):
        register(TINY)
    assert list(TASKS)[:3] == ["face", "speaker", "diffusion"]


def test_targets_are_typed():
    with pytest.raises(TypeError, match="pretrained_accuracy"):
        ClassifierTargets(pretrained_accuracy=at_least(0.9))
    with pytest.raises(ValueError, match="forget_acc"):
        ClassifierTargets(forget_acc=0.05)
    # a value the summary lacks outside the chip check is the task's error, not "not run"
    with pytest.raises(KeyError, match="unlearned.lora.forget_acc"):
        check_targets({"pretrained": {"chip": {"test_acc": 1.0}}}, ClassifierTargets(
            pretrained_acc=at_least(0.9), forget_acc=at_most(0.05)))
    rows = check_targets({"pretrained": {"chip": {"test_acc": 1.0}}},
                         ClassifierTargets(pretrained_acc=at_least(0.9)))
    assert rows[0] == {"key": "pretrained.chip.test_acc", "value": 1.0, "rule": ">= 0.9",
                       "met": True}
    assert rows[1]["key"] == "chip_check.bit_exact" and rows[1]["value"] is None


@pytest.mark.parametrize("text, why", [(None, "no such file"),
                                       ("{bad", "cannot read a summary"),
                                       ("[1]", "a summary is a JSON object"),
                                       ('{"task": "nosuch"}', "is not registered")])
def test_report_refuses_a_bad_summary_in_one_line(tmp_path, capsys, text, why):
    path = tmp_path / "summary.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--json", str(path), "--out", str(tmp_path / "report")])
    assert exit_.value.code == 2  # argparse's usage error
    assert why in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "report").exists()
