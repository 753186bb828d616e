"""The LoRA unit's adapter cache seen from the host: on the face-shaped demo network a
layer pass reads its adapters from the SRAM once; the outputs are those of a chip
without the cache, and the per-record SRAM counts are the golden formulas'."""

import numpy as np
import pytest

from rmlora.contract import ChipParams
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.sw.compiler import compile_model
from rmlora.sw.cost.flow import digital_weight_traffic
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden.chip import record_cache_words, record_sram_words
from rmlora.sw.learn.on_chip import measure_inference
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.infer import run_recorded

from .test_runtime import mvm_descriptor, ranks_on

PLAIN = ChipParams(lora_cache_words=0)


@pytest.fixture(scope="module")
def twins():
    model, calib = demo_model("face"), demo_inputs("face", 64, 100)
    compiled = [compile_model(model, calib, params=p) for p in (ChipParams(), PLAIN)]
    chips = []
    for c in compiled:
        chip = Chip(c.params, seed=1)
        chip.deploy(c.plan)
        chip.load(c.image, names=c.adapter_slots)
        chip.enable(list(c.adapter_slots))
        chips.append(chip)
    return compiled, chips


def test_cache_changes_traffic_not_results(twins):
    (cached, plain), (chip, plain_chip) = twins
    x = demo_inputs("face", 3, 0)
    logits, runs = run_recorded(chip, cached, x)
    plain_logits, plain_runs = run_recorded(plain_chip, plain, x)
    assert np.array_equal(logits, plain_logits)
    enabled = cached.all_slots
    for run, plain_run, segment in zip(runs, plain_runs, cached.segments, strict=True):
        assert run.outputs.keys() == plain_run.outputs.keys()
        for key, out in run.outputs.items():  # every vector's output
            assert np.array_equal(out, plain_run.outputs[key])
        for info in segment.records:  # a layer pass: the cache serves its later vectors
            cl = cached.layer(info.layer)
            ranks = ranks_on(cl, enabled)
            hit = info.vectors > 1 and glora.caches(cl.layer, ranks, cached.params)
            st, pst = run.stats[info.layer], plain_run.stats[info.layer]
            assert st.sram == record_sram_words(mvm_descriptor(cl), cl.layer, ranks,
                                                cached.params, vectors=info.vectors)
            assert st.cache == record_cache_words(cl.layer, ranks, cached.params,
                                                  vectors=info.vectors)
            assert pst.cache == 0 and pst.sram == record_sram_words(
                mvm_descriptor(cl), cl.layer, ranks, plain.params, vectors=info.vectors)
            assert (st.sram < pst.sram) == hit and st.adc == pst.adc and st.macs == pst.macs


def test_measured_words_per_input(twins):
    (cached, plain), (chip, plain_chip) = twins
    x = demo_inputs("face", 2, 1)
    names = list(cached.adapter_slots)
    got = measure_inference(chip, cached, x, names)
    before = measure_inference(plain_chip, plain, x, names)
    records = sum(len(s.records) for s in cached.segments)
    stats = records * cached.params.words_for(SEQ_STATS_BITS)
    assert got["sram_words"] > stats and got["cache_words"] > 0 == before["cache_words"]
    # a hit reads its adapters from the cache, and skips the descriptor, entry and LUT
    # fetches too: fewer words in all
    assert before["sram_words"] > got["sram_words"] + got["cache_words"]
    assert got["cycles"] < before["cycles"] and got["lora_macs"] == before["lora_macs"]
    # the all-digital baseline: weights once per layer pass when they fit its buffer
    w_sram, w_buffer = digital_weight_traffic(cached)
    p_sram, p_buffer = digital_weight_traffic(plain)
    assert p_buffer == 0 and w_sram + w_buffer == p_sram > w_sram
