"""The face flow on the chip: summary keys, measurements, report, command line.

Fast tier: small synthetic faces, few epochs, golden chip (no cosimulation). The
real Olivetti run with the issue's targets is at the end (skipped without the file).
"""

import argparse
import json

import numpy as np
import pytest
import torch

from rmlora.sw.compiler import compile_model
from rmlora.sw.data import Augmentation
from rmlora.sw.learn.on_chip import ChipClassifier, chip_check, deploy
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.report import write_flow_report
from rmlora.sw.runtime import Chip, dequantize_logits, run_network
from rmlora.sw.tasks.face import FACE_TARGETS, parse_people, prepare_face, run_face
from rmlora.sw.tasks.targets import check_targets, lookup

from .flow_targets import assert_targets_met
from .test_olivetti import needs_faces, synthetic_faces
from .test_pipeline import FAST

REQUIRED = [
    "pretrained.float.test_acc", "pretrained.chip.test_acc", "unlearned.lora.forget_acc",
    "unlearned.lora.retain_acc", "unlearned.full_finetune.forget_acc",
    "unlearned.full_finetune.retain_acc", "unlearned.retrain.forget_acc",
    "unlearned.retrain.retain_acc", "continual.lora.new_acc", "continual.lora.old_acc",
    "continual.lora.forget_acc", "mia.lora", "mia.retrain",
]


@pytest.fixture(scope="module")
def summary():
    faces = synthetic_faces(n_people=4, size=32)
    return run_face(people=[0, 1, 2], forget=1, learn=3, seed=0, check_backend=None,
                    config=FAST, aug=Augmentation(copies=3), faces=faces)


def test_summary_has_every_key_with_accuracies_in_range(summary):
    for key in REQUIRED:
        value = lookup(summary, key)
        assert isinstance(value, float) and 0.0 <= value <= 1.0, key
    assert summary["config"]["class_of"] == {"0": 0, "1": 1, "2": 2, "3": 3}
    json.dumps(summary)  # JSON-ready as it is


def test_stages_share_one_deployment_and_baselines_reprogram(summary):
    deployed = summary["deploy"]
    assert set(deployed) == {"lora", "full_finetune", "retrained"}
    cells = deployed["lora"]["cells"]
    assert cells == 16 * 20 + 2 * (2 * 16 * 32 + 2 * 20 * 32) + 20 * 4  # embed, 2 x mixer, head
    for name in ("full_finetune", "retrained"):
        assert deployed[name]["cells"] == cells and deployed[name]["pulses"] > 0
    # every image of a stage is measured once, however many metrics read it: at most
    # the 112 training images, 12 test images and 36 held-out views
    assert summary["inferences"]["pretrained"] <= 112 + 12 + 36


def test_confusion_agrees_with_the_accuracies(summary):
    counts = np.asarray(summary["confusion"]["continual_lora"])
    new = summary["config"]["class_of"]["3"]
    assert counts[new, new] / counts[new].sum() == summary["continual"]["lora"]["new_acc"]
    forget = summary["config"]["class_of"]["1"]
    assert (counts[forget, forget] / counts[forget].sum()
            == summary["continual"]["lora"]["forget_acc"])


def test_programming_histogram_counts_every_cell(summary):
    prog = summary["programming"]
    assert sum(prog["target_counts"]) == prog["cells"] == summary["deploy"]["lora"]["cells"]
    assert sum(prog["error_counts"]) == prog["cells"]
    assert 0 < prog["error_std_us"] < 2.0  # write-verify band +-1 uS plus relaxation


def test_targets_are_checked_and_a_skipped_check_fails_its_target(summary):
    rows = {row["key"]: row for row in summary["targets"]}
    assert set(rows) == {key for key, _, _ in FACE_TARGETS}
    assert rows["chip_check.bit_exact"] == {"key": "chip_check.bit_exact", "value": None,
                                            "rule": "== True", "met": False}
    edited = json.loads(json.dumps(summary)) | {"chip_check": {"bit_exact": True}}
    edited["continual"]["lora"]["new_acc"] = 0.5
    rows = {row["key"]: row["met"] for row in check_targets(edited, FACE_TARGETS)}
    assert rows["chip_check.bit_exact"] and not rows["continual.lora.new_acc"]


def test_cost_section_prices_what_the_flow_did(summary):
    cost = summary["cost"]
    for key in ("training_fold", "deployment_fold", "inference_energy_fold"):
        assert cost[key] > 0 and cost["published"][key] > 1
    assert cost["deployment"]["lora"]["bytes"] == summary["adapters"]["forget"]["sram_bytes"]
    assert cost["deployment"]["full_finetune"]["pulses"] == (
        summary["deploy"]["full_finetune"]["pulses"])
    lora, bare = (cost["inference"][k]["activity"] for k in ("lora", "analog_only"))
    # the same crossbar work: the same planes asked for (the empty ones not converted)
    assert (lora["adc_conversions"] + lora["adc_skipped"]
            == bare["adc_conversions"] + bare["adc_skipped"]) and lora["adc_conversions"] > 0
    assert bare["lora_macs"] == 0 < lora["lora_macs"]
    assert cost["training"]["lora"]["trainable_params"] == (
        summary["costs"]["unlearn_lora"]["trainable_params"])
    assert sum(summary["deploy"]["lora"]["pulses_per_cell"]) == summary["deploy"]["lora"][
        "cells"]


def test_report_writes_markdown_and_plots(summary, tmp_path):
    report = write_flow_report(summary, tmp_path)
    text = report.read_text()
    assert "## Targets" in text and "`continual.lora.new_acc`" in text
    for name in ("accuracy.png", "confusion.png", "conductance.png", "energy.png",
                 "pulses.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({name})" in text
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(
        json.dumps(summary))


@pytest.fixture(scope="module")
def demo():
    model = demo_model("face", 0)
    return compile_model(model, demo_inputs("face", 64, 1)), demo_inputs("face", 6, 2)


def test_chip_classifier_is_the_chip_measured_once(demo):
    compiled, images = demo
    chips = [Chip(seed=3), Chip(seed=3)]
    for chip in chips:
        deploy(chip, compiled)
    classifier = ChipClassifier(chips[0], compiled, ["forget"])
    repeated = torch.from_numpy(np.concatenate([images, images[:2]]))
    logits = classifier(repeated)
    assert classifier.inferences == len(images)  # the repeats were not run again
    chips[1].enable(["forget"])
    direct = run_network(compiled, images, lambda s, x: chips[1].run(s, x)[0])
    expected = torch.from_numpy(dequantize_logits(compiled, direct)).float()
    assert torch.equal(logits[:len(images)], expected)
    assert torch.equal(logits[len(images):], expected[:2])
    assert torch.equal(classifier(repeated), logits) and classifier.inferences == len(images)


def test_chip_check_compares_every_record(demo):
    compiled, images = demo
    result = chip_check(compiled, images[:2], ["forget", "learn"], seed=1, backend="golden")
    assert result["bit_exact"] and result["logits_equal"]
    assert result["outputs_compared"] == sum(r.vectors for s in compiled.segments
                                             for r in s.records)
    assert result["records_compared"] == sum(len(s.records) for s in compiled.segments)
    assert result["outputs_differing"] == 0 and result["stats_differing"] == 0


def test_people_parsing_and_bad_roles():
    assert parse_people("0-4") == [0, 1, 2, 3, 4]
    assert parse_people("3,8,12") == [3, 8, 12]
    assert parse_people("0-2,9") == [0, 1, 2, 9]
    for bad in ("a", "4-2", "1,,2"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_people(bad)
    faces = synthetic_faces(n_people=6, size=32)
    for kwargs, match in [({"forget": 7}, "forget=7 must be one of"),
                          ({"learn": 2}, "learn=2 must not be one of"),
                          ({"people": [0, 40]}, "person 40"),
                          ({"people": [0, 0, 1]}, "distinct"),
                          ({"people": [1], "learn": 2}, "at least 2")]:
        args = {"people": [0, 1, 2], "forget": 1, "learn": 5, "faces": faces} | kwargs
        with pytest.raises(ValueError, match=match):
            prepare_face(**args)


@needs_faces
def test_default_face_flow_meets_the_targets_on_the_chip():
    """The issue's defaults (people 0-4, forget 1, learn 5, seed 0) on the golden chip;
    chip_check (cosimulation) is covered by make sim and the cosim tests."""
    summary = run_face(check_backend=None)
    assert_targets_met(summary)


def test_the_validation_split_holds_out_training_images_and_never_a_test_image():
    from rmlora.sw.tasks.classifier import Roles
    from rmlora.sw.tasks.face import FACE

    faces = synthetic_faces(n_people=4, size=32)
    roles = Roles((0, 1, 2), 1, 3)
    _, _, data = FACE.prepare(roles, 5, faces)
    _, _, val = FACE.validation_split(roles, 5, faces)
    assert len(val.test_x) == 4 * 2 and len(data.test_x) == 4 * 3  # 2 of 7, 3 of 10
    train = {bytes(x.numpy()) for x in data.train_x}
    test = {bytes(x.numpy()) for x in data.test_x}
    for x in val.test_x:
        assert bytes(x.numpy()) in train and bytes(x.numpy()) not in test
