"""The speaker flow on the chip: synthetic features through the whole flow (fast),
and the issue's targets on the real recordings (skipped without them)."""

import pytest

from rmlora.sw.tasks.speaker import SPEAKER_TARGETS, prepare_speaker, run_speaker

from .flow_targets import assert_targets_met
from .test_fsdd import needs_fsdd, synthetic_features


def test_speaker_flow_runs_on_synthetic_features():
    summary = run_speaker(["george", "jackson", "lucas"], "jackson", "theo",
                          check_backend=None, features=synthetic_features())
    assert summary["task"] == "speaker"
    assert summary["config"]["class_of"] == {"george": 0, "jackson": 1, "lucas": 2, "theo": 3}
    for key in ("forget_acc", "retain_acc"):
        assert 0.0 <= summary["unlearned"]["lora"][key] <= 1.0
    assert summary["unlearned"]["lora"]["forget_acc"] <= 0.05  # relabelled away
    assert summary["adapters"]["forget"]["rank"] == 8
    assert {row["key"] for row in summary["targets"]} == {k for k, _, _ in SPEAKER_TARGETS}


def test_bad_speaker_roles():
    feats = synthetic_features()
    for args, match in [((["george", "lucas"], "theo", "jackson"), "must be one of"),
                        ((["george", "lucas"], "lucas", "george"), "must not be one of"),
                        ((["george", "bob"], "george", "theo"), "choose from"),
                        ((["george"], "george", "theo"), "at least 2")]:
        with pytest.raises(ValueError, match=match):
            prepare_speaker(*args, features=feats)


@needs_fsdd
def test_default_speaker_flow_meets_the_targets_on_the_chip():
    summary = run_speaker(check_backend=None)
    assert_targets_met(summary)


SWEEP = [
    (["george", "jackson", "lucas", "nicolas", "theo"], "jackson", "yweweler", 1),
    (["george", "jackson", "lucas", "nicolas", "theo"], "theo", "yweweler", 0),
    (["jackson", "lucas", "nicolas", "theo", "yweweler"], "lucas", "george", 0),
    (["george", "lucas", "nicolas", "theo", "yweweler"], "george", "jackson", 2),
]


@pytest.mark.slow
@needs_fsdd
@pytest.mark.parametrize(("speakers", "forget", "learn", "seed"), SWEEP)
def test_speaker_flow_meets_the_targets_for_other_choices(speakers, forget, learn, seed):
    summary = run_speaker(speakers, forget, learn, seed, check_backend=None)
    assert_targets_met(summary)
