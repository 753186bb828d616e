"""The face flow's targets on the chip over more people and seeds (slow: RMLORA_SLOW=1).

Targets (issue 7): pretrained chip test accuracy >= 0.95; after unlearning forget
<= 0.05 and retain within 2 points; after continual learning new >= 0.9, old >= 0.93,
forget <= 0.05; membership-attack member rate within 0.05 of the retrained model.
Measured on the golden chip; chip_check (cosimulation) is left to make sim.
"""

import pytest

from rmlora.sw.tasks.face import run_face

from .flow_targets import assert_targets_met
from .test_olivetti import needs_faces

# One kept test face (of 12) or pretrained test face (of 15) is worth 8.3 resp. 6.7
# points, so one miss fails a target. Every case meets every target (2026-12-01, 2-core
# AMD EPYC, with face recipe round 9 and the face flow's 4 reads per plane on the patch
# embedding and token MLPs). Before the reads, people 0-4 at seed 1 missed one
# pretrained test face on the chip to read noise; before round 9, people 20-24 and
# 10-14 at seed 0 missed one in float.
CASES = [
    ([0, 1, 2, 3, 4], 1, 5, 0),
    ([0, 1, 2, 3, 4], 1, 5, 1),
    ([20, 21, 22, 23, 24], 22, 25, 0),
    ([20, 21, 22, 23, 24], 22, 25, 1),
    ([10, 11, 12, 13, 14], 12, 30, 0),
    ([30, 31, 32, 33, 34], 34, 39, 2),
]


@pytest.mark.slow
@needs_faces
@pytest.mark.parametrize(("people", "forget", "learn", "seed"), CASES)
def test_face_flow_meets_the_targets_on_the_chip(people, forget, learn, seed):
    summary = run_face(people=people, forget=forget, learn=learn, seed=seed,
                       check_backend=None)
    assert_targets_met(summary)
