"""The flow tests' one check of a summary's targets."""


def assert_targets_met(summary: dict) -> None:
    """Every target of ``summary`` met, the chip check's aside (these flows run without
    one: their chip checks are the cosimulation tests')."""
    failed = [row for row in summary["targets"] if not row["met"]
              and not row["key"].startswith("chip_check.")]
    assert not failed, failed
