"""The spiking speaker flow on the chip (issue 21): the LSM through compile_model, its
restore stage (a compensation trained on the chip's twin), the probe in several runs,
`rmlora speaker --model lsm`, the flow end to end on synthetic utterances (fast) and
its targets on the recordings."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from rmlora.cli import main
from rmlora.sw.compiler import compile_lsm, compile_model
from rmlora.sw.compiler.lsm import quantize_lsm
from rmlora.sw.compiler.lsm_chip import LSM_CHIP, RESERVOIR, lsm_calibration
from rmlora.sw.compiler.probe import probe_inputs, probe_outputs, probe_program, probe_runs
from rmlora.sw.learn.compensate import COMPENSATION
from rmlora.sw.learn.config import StageConfig
from rmlora.sw.learn.lsm_restore import LsmRestore
from rmlora.sw.learn.restore import UNRESTORED
from rmlora.sw.learn.stages import FlowData
from rmlora.sw.lora import inject_adapter, lora_layers
from rmlora.sw.models.lsm import LSM_LAYERS, LiquidStateMachine
from rmlora.sw.report.flow import write_flow_report
from rmlora.sw.tasks import TASKS, run_task
from rmlora.sw.tasks.classifier import Roles
from rmlora.sw.tasks.speaker_lsm import lsm_config
from rmlora.sw.tasks.speaker_lsm_chip import SPEAKER_LSM

from .flow_targets import assert_targets_met
from .test_fsdd import needs_fsdd
from .test_lsm import synthetic_windows


def small_lsm(seed=0, adapters=False):
    torch.manual_seed(seed)
    model = LiquidStateMachine(16, 3, neurons=24, steps=4)
    with torch.no_grad():  # strong enough to spike
        model.w_in.weight.mul_(4.0)
    if adapters:
        for name in ("forget", "continual"):
            inject_adapter(model, name, 4, 8.0, list(LSM_LAYERS))
            for layer in lora_layers(model).values():
                torch.nn.init.normal_(layer.lora_B[name].weight, std=0.05)
    return model


def spike_rows(n=48, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 4 * 16, generator=gen) < 0.3).float()


def test_probe_runs_cut_and_rejoin_the_unit_vectors_exactly():
    x = probe_inputs(13, 3)
    runs = probe_runs(x, 5)
    assert runs.shape == (9, 5, 13)  # 3 repeats x 3 runs of 5 vectors (2 padding)
    assert not runs.reshape(3, 15, 13)[:, 13:].any()
    assert np.array_equal(probe_outputs(runs, 3, 13), x)


def test_compile_model_takes_an_lsm_as_compile_lsm_does():
    model, calib = small_lsm(adapters=True), spike_rows()
    compiled = compile_model(model, calib.numpy())
    net = quantize_lsm(model, calib, ["continual", "forget"])  # slots in name order
    want = compile_lsm(net, LSM_CHIP, calib=lsm_calibration(model, calib))
    assert compiled.image == want.image and compiled.params == LSM_CHIP
    assert compiled.adapter_slots == {"continual": 0, "forget": 1}
    assert compile_model(model, calib.numpy(), adapters=["forget"]).adapter_slots == {
        "forget": 0}
    with pytest.raises(ValueError, match="one read per plane"):
        compile_model(model, calib.numpy(), reads=2)
    with pytest.raises(ValueError, match=r"adapters \['other'\] are not on the LSM"):
        compile_model(model, calib.numpy(), adapters=["other"])


def small_data(n=96):
    """Spike rows of 3 classes (0, 1: pretrained, 2: learned later) with labels."""
    x = spike_rows(n)
    y = torch.arange(n) % 3
    return FlowData(x, y, x[:24], y[:24], x[:24], y[:24], forget_class=1, new_class=2)


@pytest.fixture(scope="module")
def twin_stage():
    model, calib = small_lsm(), spike_rows()
    stage = LsmRestore(calib, 3, small_data())
    twin = stage(model)
    yield model, calib, stage, twin
    stage.close()


def test_the_twin_holds_the_weights_read_off_the_chip_and_a_trained_compensation(
        twin_stage):
    model, _, stage, twin = twin_stage
    assert twin.measured and not model.measured
    layer = {x.name: x for x in stage.compiled.layers}[RESERVOIR]
    s_w = layer.scales["w"]
    read = np.concatenate([twin.w_in.base_layer.weight.detach().numpy(),
                           twin.w_rec.base_layer.weight.detach().numpy()], axis=1) / s_w
    error = read - layer.w_q  # 16 inputs: no padding between x and the neurons
    rms = stage.report["layers"][RESERVOIR]["weight_error_rms"]
    assert 0.5 < rms < 10  # write-verify's error, in weight units, is there
    assert np.sqrt(np.mean(error ** 2)) == pytest.approx(rms, rel=1e-5)
    # the compensation is on, trained (B moved from zero), the rest frozen
    assert twin.w_in.active_adapters == [COMPENSATION]
    assert twin.w_rec.lora_B[COMPENSATION].weight.abs().sum() > 0
    assert not any(p.requires_grad for n, p in twin.named_parameters() if "lora" not in n)
    assert stage.kept == (COMPENSATION,)
    assert stage.stages([("a", []), ("b", ["f"])]) == [
        ("a" + UNRESTORED, []), ("b" + UNRESTORED, ["f"]), ("a", [COMPENSATION]),
        ("b", [COMPENSATION, "f"])]


def test_deployable_puts_the_nominal_weights_back_and_compiles_to_the_same_plan(twin_stage):
    model, _, stage, twin = twin_stage
    trained = copy.deepcopy(twin)
    for name in ("forget", "continual"):
        inject_adapter(trained, name, 4, 8.0, list(LSM_LAYERS))
    deployable = stage.deployable(trained)
    assert not deployable.measured and trained.measured
    for name in ("w_in", "w_rec", "readout"):
        got = getattr(deployable, name)
        got = getattr(got, "base_layer", got).weight
        assert torch.equal(got, getattr(model, name).weight)
    compiled = stage.compile(trained)
    assert [w.tobytes() for _, w in compiled.plan] == [w.tobytes() for _, w in
                                                        stage.compiled.plan]
    assert set(compiled.adapter_slots) == {COMPENSATION, "forget", "continual"}
    assert stage.summary(compiled)["rank"] == 4
    # the guard behind it: a network whose crossbar weights are not the programmed ones
    # (deployable always puts them back, so it is bypassed here) is refused
    other = stage.deployable(trained)
    with torch.no_grad():
        other.w_rec.base_layer.weight[0, 0] += 0.5
    stage.deployable = lambda m: m
    try:
        with pytest.raises(ValueError, match="differ from the programmed ones"):
            stage.compile(other)
    finally:
        del stage.deployable
    with pytest.raises(RuntimeError, match="deployed a network already"):
        stage(model)


def test_a_reservoir_too_big_for_one_probe_image_is_probed_in_runs():
    torch.manual_seed(0)
    model = LiquidStateMachine(160, 6, neurons=256, steps=10)
    compiled = compile_model(model, (torch.rand(16, 1600) < 0.2).float().numpy())
    probe = probe_program(compiled)
    vectors = len(probe.segments[RESERVOIR].inputs)
    assert vectors < 416 == compiled.layers[0].n_in


def test_speaker_model_lsm_runs_the_spiking_task(monkeypatch):
    import rmlora.cli_tasks as cli_tasks
    ran = []
    monkeypatch.setattr(cli_tasks, "checked_flow", lambda task, *a: (task.default_options,
                                                                     None))
    monkeypatch.setattr(cli_tasks, "_run_task", lambda task, *a: ran.append(task.name))
    main(["speaker", "--model", "lsm", "--check-backend", "none"])
    main(["speaker", "--check-backend", "none"])
    assert ran == ["speaker_lsm", "speaker"]
    with pytest.raises(SystemExit):
        main(["speaker", "--model", "snn"])
    assert TASKS["speaker_lsm"].command == "speaker"


def few_digits(source, digits=2):
    """The utterances of the first ``digits`` digits only (a fifth of them): a
    faster flow, every stage still run."""
    windows, speaker, digit, take = source
    keep = digit < digits
    return windows[keep], speaker[keep], digit[keep], take[keep]


def test_spiking_flow_on_synthetic_utterances(tmp_path):
    small = StageConfig(epochs=2, lr=0.01)
    relabel = dataclasses.replace(small, forget_method="relabel")
    config = dataclasses.replace(lsm_config(0), pretrain=small, unlearn=relabel,
                                 continual=small, full_finetune=relabel)
    summary = run_task(SPEAKER_LSM, Roles(("george", "jackson", "lucas"), "jackson", "theo"),
                       0, "golden", 2, config=config, source=few_digits(synthetic_windows()))
    assert summary["task"] == "speaker_lsm" and summary["restore"]["rank"] == 4
    spiking = summary["spiking"]
    assert spiking["neurons"] == 256 and spiking["channels"] == 160
    assert set(spiking["reservoir_rate"]) == {"pretrained", "unlearned_lora", "continual_lora"}
    assert all(len(r) == 10 and all(0 <= v <= 1 for v in r)
               for r in spiking["reservoir_rate"].values())
    assert spiking["input_rate"] == [0.2] * 10  # one-hot: 32 of 160 channels a step
    check = summary["chip_check"]
    assert check["bit_exact"] and check["activity_equal"]
    assert check["outputs_compared"] == 10 + 1  # every step's spikes (a batch each), logits
    assert summary["deploy"]["lora"]["cells"] == (160 + 256) * 256 + 256 * 4
    report = write_flow_report(summary, tmp_path)
    assert (tmp_path / "spikes.png").exists() and "## Spike rates" in report.read_text()
    e = spiking["event_driven_digital"]
    assert e["stage"] == "continual_lora" and 0 < e["active_rows_per_input"] <= 10 * 416
    assert e["fold"] < e["dense_fold"]  # reading only the spiking rows costs less


@needs_fsdd
def test_default_spiking_flow_meets_the_targets_on_the_chip():
    summary = run_task(SPEAKER_LSM, None, 0, None)
    assert_targets_met(summary)


SWEEP = [
    (("george", "jackson", "nicolas", "theo", "yweweler"), "george", "lucas", 2),
    (("george", "jackson", "lucas", "nicolas", "theo"), "theo", "yweweler", 1),
    (("jackson", "lucas", "nicolas", "theo", "yweweler"), "lucas", "george", 0),
    (("george", "lucas", "nicolas", "theo", "yweweler"), "nicolas", "jackson", 3),
]


@pytest.mark.slow
@needs_fsdd
@pytest.mark.parametrize(("speakers", "forget", "learn", "seed"), SWEEP)
def test_spiking_flow_meets_the_targets_for_other_choices(speakers, forget, learn, seed):
    summary = run_task(SPEAKER_LSM, Roles(speakers, forget, learn), seed, None)
    assert_targets_met(summary)
