"""The face flow's chip check on Verilator: the face-sized Mixer (both adapters on)
run on the cosimulated chip and on the golden chip, every vector output and every
record's stats compared, and the macros' operation counts that the cost model prices."""

import pytest

from rmlora.sw.compiler import compile_model
from rmlora.sw.learn.on_chip import chip_check
from rmlora.sw.models.demo import demo_inputs, demo_model


@pytest.mark.cosim
def test_face_chip_check_on_verilator_is_bit_exact():
    compiled = compile_model(demo_model("face", 0), demo_inputs("face", 64, 1))
    result = chip_check(compiled, demo_inputs("face", 2, 2), ["forget", "learn"], seed=5,
                        backend="verilator")
    assert result["outputs_compared"] == sum(r.vectors for s in compiled.segments
                                             for r in s.records)
    assert result["records_compared"] == sum(len(s.records) for s in compiled.segments)
    assert result["outputs_differing"] == 0 and result["logits_equal"]
    assert result["stats_differing"] == 0  # cycles, SRAM words, cache reads... per record
    assert result["bit_exact"]
    # the cost model's counts: equal, and really counted
    assert result["activity_equal"] and result["activity"]["adc_conversions"] > 0
