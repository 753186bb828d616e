"""Robustness sweeps: conditions, the compensation fit, runs on any executor, summary,
report, and the issue's targets on the real faces (skipped without them)."""

import copy
import dataclasses
import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from rmlora.cli import main
from rmlora.contract.macro import MacroConfig
from rmlora.sw.learn.compensate import _reduced_rank, compile_compensated, fit_compensation
from rmlora.sw.report.robustness import format_robustness_table, write_robustness_report
from rmlora.sw.robust import conditions, execute, parse_levels, prepare, specs_for, summarize
from rmlora.sw.robust.conditions import parse_seconds
from rmlora.sw.robust.run import RunSpec, run_one, run_seed
from rmlora.sw.robust.sweep import check_robustness

from .test_fsdd import synthetic_features
from .test_olivetti import needs_faces


@pytest.fixture(scope="module")
def setup():
    """The speaker flow on synthetic features, rank-4 compensation, no HWA network."""
    return prepare("speaker", seed=0, hwa_noise_us=None, rank=4, source=synthetic_features())


def test_levels_parse_with_their_units_and_keep_their_labels():
    assert [c.label for c in parse_levels("noise", "1, 2,4")] == ["1", "2", "4"]
    assert [c.seconds for c in parse_levels("drift", "1s,1h,1d,1y")] == [
        1.0, 3600.0, 86400.0, 365.25 * 86400.0]
    assert parse_seconds("90") == 90.0
    config = parse_levels("stuck", "0.5")[0].macro_config(MacroConfig())
    assert config.sa0_rate == config.sa1_rate == 0.0025
    assert [c.kind for c in conditions("2", "", "1d")] == ["nominal", "noise", "drift"]
    for kind, text, match in [("noise", "1,x", "not a number"), ("noise", "60", "outside"),
                              ("stuck", "-1", "outside"), ("drift", "1q", "number with"),
                              ("noise", "1,1", "repeated"), ("heat", "1", "choose one of")]:
        with pytest.raises(ValueError, match=match):
            parse_levels(kind, text)


def test_reduced_rank_fit_cancels_the_error_at_full_rank_and_is_optimal_below():
    rng = np.random.default_rng(0)
    error = rng.standard_normal((6, 5))
    x = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 5))
    moment = x.T @ x / len(x)
    b, a = _reduced_rank(error, moment, 5)
    # float linear algebra against an analytic zero: a tolerance, not a chip output
    assert np.abs(x @ (error + b @ a).T).max() < 1e-2 * np.abs(x @ error.T).max()
    b2, a2 = _reduced_rank(error, moment, 2)
    left = np.linalg.norm(x @ (error + b2 @ a2).T)
    for _ in range(20):  # no random rank-2 correction does better
        m = rng.standard_normal((6, 2)) @ rng.standard_normal((2, 5)) * 0.3
        assert np.linalg.norm(x @ (error + b2 @ a2 + m).T) >= left * (1 - 1e-9)


def test_a_run_is_reproducible_and_compensation_recovers_a_noisy_chip(setup):
    spec = RunSpec("plain", parse_levels("noise", "8")[0], 0)
    first, again = run_one(setup, spec), run_one(setup, spec)
    assert first == again
    assert first["seed"] == run_seed(0, 0)
    assert first["output_error_left"] < 0.5
    assert first["compensated"]["pretrained_acc"] > first["deployed"]["pretrained_acc"]
    assert first["compensation_bytes"] > 0
    assert set(first["adapters_compensated"]) == {"pretrained_acc", "old_acc", "forget_acc",
                                                  "new_acc"}


def test_compensation_keeps_the_crossbars_and_the_scales(setup):
    dep = setup.deployments["plain"]
    rng = np.random.default_rng(0)
    measured = {layer.name: layer.w_q + rng.normal(0, 10, layer.w_q.shape)
                for layer in dep.compiled.layers}
    fitted, stats = fit_compensation(dep.model, dep.compiled, measured, dep.moments)
    assert all(s["output_error_left"] < 1.0 for s in stats.values())
    compiled = compile_compensated(fitted, setup.calib, dep.compiled)

    def nominal(c):
        return [{k: layer.scales[k] for k in ("x", "w", "y", "out")} for layer in c.layers]
    assert nominal(compiled) == nominal(dep.compiled)
    assert compiled.adapter_slots == dep.compiled.adapter_slots
    assert compiled.image != dep.compiled.image  # the slot now holds the adapter
    changed = dataclasses.replace(dep.compiled, plan=[(d, t + 1) for d, t in dep.compiled.plan])
    with pytest.raises(ValueError, match="reprogramming"):
        compile_compensated(fitted, setup.calib, changed)


def test_stuck_cells_are_counted_per_layer(setup):
    result = run_one(setup, RunSpec("plain", parse_levels("stuck", "2")[0], 1))
    assert result["failed_cells"] > 0
    assert sum(result["failed_by_layer"].values()) == result["failed_cells"]


def test_every_executor_gives_the_same_summary(setup):
    specs = specs_for(setup, conditions("6", "", "1y"), runs=2)
    assert len(specs) == 6
    inline = execute(setup, specs)
    with ProcessPoolExecutor(2) as pool:
        assert execute(setup, specs, executor=pool) == inline
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert execute(setup, specs, executor=client.get_executor()) == inline

    summary = summarize(setup, inline)
    assert set(summary["by_noise"]) == {"6"} and set(summary["by_drift"]) == {"1y"}
    entry = summary["by_noise"]["6"]
    for key in ("deployed", "compensated", "forget_acc"):
        assert isinstance(entry[key], float)
        assert entry["stats"][key]["worst"] <= entry["stats"][key]["mean"] or key == "forget_acc"
    assert summary["noiseless_acc"] == np.mean([r["deployed"]["pretrained_acc"] for r in inline
                                                if r["kind"] == "nominal"])
    json.dumps(summary)


def test_report_and_targets_come_from_the_summary(setup, tmp_path):
    specs = specs_for(setup, conditions("4", "1", ""), runs=1)
    summary = summarize(setup, execute(setup, specs)) | {"seconds": {"runs": 1.0}}
    targets = check_robustness(summary)
    assert [t["key"] for t in targets] == ["by_noise.4: noiseless_acc - compensated",
                                           "by_noise.4.forget_acc"]
    path = write_robustness_report(summary, targets, tmp_path)
    assert (tmp_path / "noise.png").exists() and (tmp_path / "stuck.png").exists()
    assert "compensated" in path.read_text()
    assert "nominal" in format_robustness_table(summary)


def test_bad_command_line_levels_exit_with_the_reason(capsys):
    for argv, why in ((["--noise", "1,two"], "not a number"), (["--runs", "0"], "--runs")):
        with pytest.raises(SystemExit) as exit_:
            main(["robustness", *argv])
        assert exit_.value.code == 2 and why in capsys.readouterr().err.splitlines()[-1]


def test_the_hwa_network_is_fine_tuned_from_the_pretrained_one(monkeypatch):
    """Hardware-aware training starts from the plain pretrained network (from scratch,
    seed 0 was the worst of 8 seeds: 88.9 % noise-free on the chip; fine-tuned, 96.9 %)
    and never trains the plain network's own modules."""
    import torch

    from rmlora.sw.learn import hwa

    seen = {}

    def start_only(model, data, config, hwa_config, seed, progress=False):
        seen["model"], seen["start"] = model, copy.deepcopy(model.state_dict())
        return model, None
    monkeypatch.setattr(hwa, "hwa_pretrain", start_only)
    setup = prepare("speaker", seed=0, hwa_noise_us=2.0, rank=4, source=synthetic_features())
    plain = setup.deployments["plain"].base
    assert seen["start"].keys() == plain.state_dict().keys()
    assert all(torch.equal(seen["start"][k], v) for k, v in plain.state_dict().items())
    assert seen["model"] is not plain


@needs_faces
def test_face_compensation_meets_the_targets_at_4_us():
    """The issue's targets on the real faces, 3 runs (the full 20-run sweep is `rmlora
    robustness`, reported in the README)."""
    face = prepare("face", seed=0, hwa_noise_us=None)
    specs = specs_for(face, conditions("4", "", ""), runs=3)
    summary = summarize(face, execute(face, specs, workers=2))
    assert all(t["met"] for t in check_robustness(summary)), check_robustness(summary)
