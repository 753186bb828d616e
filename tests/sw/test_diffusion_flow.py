"""The image-generation flow on the golden chip with few epochs: every key, the
report; and the issue's targets with the default settings (slow: RMLORA_SLOW=1)."""

import json

import pytest

from rmlora.sw.learn.diffusion import DiffusionConfig
from rmlora.sw.report.diffusion import write_diffusion_report
from rmlora.sw.tasks.diffusion import (
    DIFFUSION,
    DIFFUSION_DIT,
    DIFFUSION_TARGETS,
    DIT_TARGETS,
    Erasure,
    run_diffusion,
)
from rmlora.sw.tasks.pipeline import run_task
from rmlora.sw.tasks.sweep import figures_of, read_figure
from rmlora.sw.tasks.targets import lookup

from .flow_targets import assert_targets_met

REQUIRED = ["pretrained.prompt_rate", "pretrained.erased_digit_rate",
            "erased.erased_digit_rate", "erased.other_prompt_rate", "styled.style_rate",
            "styled.erased_digit_rate", "styled.other_prompt_rate", "fid.pretrained",
            "fid.erased"]


@pytest.fixture(scope="module")
def summary():
    config = DiffusionConfig(seed=1, erase=5, style="invert", hidden=32, pretrain_epochs=8,
                             erase_epochs=2, style_epochs=2, samples_per_digit=4)
    return run_diffusion(5, "invert", 1, check_backend="golden", check_inputs=8,
                         config=config)


def test_summary_keys_and_ranges(summary):
    for key in REQUIRED:
        value = lookup(summary, key)
        assert isinstance(value, float), key
        assert key.startswith("fid.") or 0.0 <= value <= 1.0, key
    assert summary["config"]["anchor"] == 6
    assert len(summary["pretrained"]["per_digit"]) == 10
    assert summary["erased"]["erased_digit_rate"] == summary["erased"]["per_digit"][5]
    assert summary["chip_check"]["images"] == 8 and summary["chip_check"]["bit_exact"]
    assert {row["key"] for row in summary["targets"]} == {k for k, _, _ in DIFFUSION_TARGETS}
    for fold in ("training_fold", "deployment_fold", "inference_energy_fold"):
        assert summary["cost"][fold] > 0
    json.dumps(summary)


def test_report_with_sample_grids(summary, tmp_path):
    report = write_diffusion_report(summary, tmp_path)
    text = report.read_text()
    assert "`erased.erased_digit_rate`" in text and "(samples.png)" in text
    for name in ("samples.png", "energy.png", "pulses.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    grid = summary["grids"]["styled"]
    assert len(grid) == 80 and len(grid[0]) == 4 * 8  # 10 digits x 4 samples


def test_bad_arguments():
    with pytest.raises(ValueError, match="style 'bold'"):
        run_diffusion(3, "bold", 0, check_backend=None)
    with pytest.raises(ValueError, match="erase must be a digit"):
        DiffusionConfig(erase=10)
    with pytest.raises(ValueError, match="weight_offset_noise must be in"):
        DiffusionConfig(weight_offset_noise=-0.01)


@pytest.mark.slow
def test_default_diffusion_flow_meets_the_targets_on_the_chip():
    summary = run_diffusion(check_backend=None)
    assert_targets_met(summary)


def test_every_sweep_figure_reads_from_the_summary(summary):
    values = {f.key: read_figure(summary, f) for f in figures_of(DIFFUSION)}
    assert values["pretrained.worst_digit_rate"] == min(summary["pretrained"]["per_digit"])
    assert values["erased.erased_digit_rate"] == summary["erased"]["erased_digit_rate"]


@pytest.fixture(scope="module")
def dit_summary():
    """The DiT's flow with few epochs, its chip check on the Verilator-simulated RTL."""
    config = DiffusionConfig(seed=2, erase=7, style="thick", model="dit", pretrain_epochs=3,
                             erase_epochs=1, style_epochs=1, samples_per_digit=2)
    return run_task(DIFFUSION_DIT, Erasure(7, "thick"), 2, check_backend="verilator",
                    check_inputs=4, config=config)


def test_dit_flow_runs_on_the_chip_and_on_the_rtl(dit_summary, tmp_path):
    assert dit_summary["config"]["model"] == "dit"
    assert dit_summary["chip_check"]["bit_exact"] and dit_summary["chip_check"]["activity_equal"]
    assert dit_summary["chip_check"]["images"] == 4
    assert {row["key"] for row in dit_summary["targets"]} == {k for k, _, _ in DIT_TARGETS}
    assert set(dit_summary["fid_ratio"]) == {"pretrained", "erased"}
    # the erase and style adapters sit on the fc layers of both blocks only
    layers = dit_summary["restore"]["layers"]
    assert len(layers) == 10
    report = write_diffusion_report(dit_summary, tmp_path).read_text()
    assert "diffusion transformer" in report
