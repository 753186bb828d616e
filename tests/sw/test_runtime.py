"""The host runtime (rmlora.sw.runtime) on the golden backend: batching, seeded
noise, adapters enabled and deleted, refused images, inputs and programs, and the
per-layer report.

The golden chip's crossbar is the ReRAM macro model, so its outputs differ from the
ideal integer network by the analogue error; everything else (LoRA unit, SRAM,
counters, cycles) is exact and compared with ==.
"""

import re

import numpy as np
import pytest

from rmlora.contract import ErrorCode
from rmlora.contract.image import SectionKind
from rmlora.contract.lora import LORA_DESC_BITS, Activation, AdapterEntry, LoraLayer
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.contract.xbar import XbarOp
from rmlora.sw.compiler import compile_model
from rmlora.sw.formats.image import ImageError, build_image, parse_image
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.chip import record_cycles
from rmlora.sw.runtime import Chip, ChipError, ideal_segment_runner, run_network
from rmlora.sw.runtime.golden_backend import BATCH_CHUNK
from rmlora.sw.runtime.infer import format_table, infer
from tests.sw.test_compiler import adapted_mlp, data

BOTH = ["a", "b"]


@pytest.fixture(scope="module")
def compiled():
    return compile_model(adapted_mlp(0), data(0, 256))


def make_chip(compiled, seed, enable=BOTH) -> Chip:
    chip = Chip(macro_config=compiled.macro_config, seed=seed)
    chip.deploy(compiled.plan)
    chip.load(compiled.image, names=compiled.adapter_slots)
    chip.enable(enable)
    return chip


def segment_inputs(compiled, seed, n) -> np.ndarray:
    """int8 inputs (n, 1, 24) of the MLP's one segment, as its QuantizeInput makes them."""
    segment = compiled.segments[0]
    x = np.random.default_rng(seed).integers(-128, 128, (n, len(segment.inputs), segment.n_in))
    return x.astype(np.int8)


def ranks_on(chip_layer, enabled: int) -> list[int]:
    return [ad.rank for s, ad in sorted(chip_layer.adapters.items()) if enabled >> s & 1]


def mvm_descriptor(chip_layer) -> gxbar.Descriptor:
    macro, row0, col0 = chip_layer.placement
    return gxbar.Descriptor(XbarOp.MVM, chip_layer.n_in, chip_layer.n_out, 0, 0, macro, row0,
                            col0, chip_layer.gain_shift)


# ---- batching and seeds ----

def test_a_batch_is_back_to_back_runs(compiled):
    """B inputs in one run() equal the same inputs one run() each, in order, on a chip with
    the same seed: outputs, every record's output and the macros' conversion counters
    (the first batch crosses the golden backend's chunk; the second continues the count)."""
    segment = compiled.segments[0]
    batched, single = make_chip(compiled, 3), make_chip(compiled, 3)
    sizes = (BATCH_CHUNK + 4, 5)
    for n, seed in zip(sizes, (1, 2), strict=True):
        x = segment_inputs(compiled, seed, n)
        y, run = batched.run(segment, x)
        singles = [single.run(segment, x[i:i + 1]) for i in range(n)]
        assert np.array_equal(y, np.concatenate([y1 for y1, _ in singles]))
        for key, out in run.outputs.items():
            assert np.array_equal(out, np.concatenate([r.outputs[key] for _, r in singles]))
        assert run.stats == singles[-1][1].stats
        assert batched.mvm_ops() == single.mvm_ops()
    # all three layers sit on macro 0: 8 bit planes each per input
    assert batched.mvm_ops() == [sum(sizes) * 3 * 8, 0, 0, 0]


def test_the_analogue_noise_is_seeded(compiled):
    """Two chips with the same seed give identical logits; another seed differs somewhere."""
    x = data(3, 32)
    first, _ = infer(make_chip(compiled, 7), compiled, x)
    again, _ = infer(make_chip(compiled, 7), compiled, x)
    other, _ = infer(make_chip(compiled, 8), compiled, x)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


# ---- against the ideal integer network ----

def test_logits_follow_the_ideal_integer_network(compiled):
    """A tolerance between analogue and ideal arithmetic, not an exactness check. Measured
    on 64 inputs (8 chip seeds x 3 input sets x masks {}, {a, b}): argmax agreement with
    ideal_segment_runner 0.67-0.88 (mean 0.79), mean |error| / mean |logit| 0.18-0.28,
    correlation 0.968-0.986. The error is the ReRAM macro model's: 1 % read noise per
    cell and conversion (about half of it: 0.11 without), write-verify leaving each
    weight within +-1 uS = +-4 weight units, and an 8-bit ADC with an LSB of 2**gain_shift
    (8-16) weight units per bit plane, through three layers. Bounds: 0.6, 0.35, 0.95;
    random logits would agree on 0.1."""
    x = data(4, 64)
    chip = make_chip(compiled, 0)
    y, _ = infer(chip, compiled, x)
    ideal = run_network(compiled, x, ideal_segment_runner(compiled, compiled.all_slots))
    y, ideal = y.astype(np.int64), ideal.astype(np.int64)
    assert not np.array_equal(y, ideal)  # the analogue error is there
    assert np.mean(y.argmax(1) == ideal.argmax(1)) >= 0.6
    assert np.abs(y - ideal).mean() / np.abs(ideal).mean() < 0.35
    assert np.corrcoef(y.ravel(), ideal.ravel())[0, 1] > 0.95


# ---- adapters ----

def test_enabling_adapters(compiled):
    """No adapter differs from both; by name equals by slot; enable replaces the set;
    an unknown name is a KeyError naming it; a slot outside 0..3 is a ValueError."""
    x = data(5, 32)
    by_name = make_chip(compiled, 2, BOTH)
    by_slot = make_chip(compiled, 2, [compiled.adapter_slots[n] for n in BOTH])
    none = make_chip(compiled, 2, [])
    assert by_name.enabled == by_slot.enabled == compiled.all_slots == 0b11
    y_name, _ = infer(by_name, compiled, x)
    y_slot, _ = infer(by_slot, compiled, x)
    y_none, _ = infer(none, compiled, x)
    assert np.array_equal(y_name, y_slot)
    assert not np.array_equal(y_name, y_none)
    by_name.enable(["a"])
    by_name.enable(["b"])
    assert by_name.enabled == 0b10
    with pytest.raises(KeyError, match="'forget'"):
        by_name.enable(["forget"])
    for slot in (7, -1):
        with pytest.raises(ValueError, match=f"slot {slot}"):
            by_name.enable([slot])


def test_delete_adapter_forgets_it(compiled):
    """delete_adapter('a') zeroes exactly its region and the layers' pointers to it, and
    the chip then computes what a chip that never used 'a' computes."""
    wb = compiled.params.sram_word_bytes
    dw_bytes = compiled.params.words_for(LORA_DESC_BITS) * wb
    slot = compiled.adapter_slots["a"]
    start, words = compiled.slot_regions[slot]
    deleted, never = make_chip(compiled, 5, BOTH), make_chip(compiled, 5, ["b"])
    x0, x1 = data(6, 16), data(7, 16)
    # the same runs on both chips, so their macros' operation counters (noise keys) agree
    y_both, _ = infer(deleted, compiled, x0)
    y_b, _ = infer(never, compiled, x0)
    assert not np.array_equal(y_both, y_b)  # 'a' matters before it is deleted

    before = deleted.backend.sram.copy()
    assert deleted.delete_adapter("a") == words
    assert deleted.enabled == 0b10
    assert not any(deleted.backend.read_sram(start * wb, words * wb))
    changed = np.zeros(len(before), dtype=bool)
    changed[start * wb:(start + words) * wb] = True
    for name, addr in compiled.lora_layer_addrs.items():
        raw = deleted.backend.read_sram(addr * wb, dw_bytes)
        fields = unpack_fields(LoraLayer, int.from_bytes(raw, "little"))
        assert fields[f"entry{slot}"] == 0
        assert fields["entry1"] == compiled.entry_addrs.get((name, 1), 0)  # 'b' kept
        changed[addr * wb:addr * wb + dw_bytes] = True
    assert np.array_equal(deleted.backend.sram[~changed], before[~changed])

    deleted.enable(["b"])
    y_deleted, _ = infer(deleted, compiled, x1)
    y_never, _ = infer(never, compiled, x1)
    assert np.array_equal(y_deleted, y_never)
    with pytest.raises(ChipError, match="no adapter in slot 0"):  # its slot is empty now
        deleted.enable([0, 1])
    assert deleted.enabled == 0b10
    with pytest.raises(KeyError, match="'a'"):
        deleted.enable(["a", "b"])
    with pytest.raises(KeyError, match="'a'"):
        deleted.delete_adapter("a")


# ---- refusals ----

def _flip_payload_byte(image: bytes) -> bytes:
    blob = bytearray(image)
    blob[-1] ^= 0x5A
    return bytes(blob)


def _wrong_magic(image: bytes) -> bytes:
    blob = bytearray(image)
    blob[0] ^= 0xFF
    return bytes(blob)


BAD_IMAGES = {
    "corrupted": (_flip_payload_byte, "CRC"),
    "truncated": (lambda image: image[:-1], "truncated"),
    "magic": (_wrong_magic, "magic"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_load_refuses_a_bad_image_and_writes_nothing(compiled, case):
    """A corrupted, truncated or foreign image raises ImageError naming why, and the SRAM
    and the chip's adapter names stay as they were, on a fresh and on a loaded chip."""
    spoil, message = BAD_IMAGES[case]
    bad = spoil(compiled.image)
    chip = Chip(macro_config=compiled.macro_config, seed=0)
    with pytest.raises(ImageError, match=message):
        chip.load(bad, names={"x": 0})
    assert not chip.backend.sram.any()
    assert (chip.sections, chip.names) == ([], {})
    chip.load(compiled.image, names=compiled.adapter_slots)
    before = chip.backend.sram.copy()
    with pytest.raises(ImageError, match=message):
        chip.load(bad, names={"x": 0})
    assert np.array_equal(chip.backend.sram, before)
    assert chip.names == compiled.adapter_slots


BAD_SHAPES = [(4, 24), (4, 1, 23), (4, 2, 24), (0, 1, 24), (4, 1, 24, 1)]


@pytest.mark.parametrize("shape", BAD_SHAPES)
def test_run_refuses_a_wrong_shape(compiled, shape):
    """run() refuses inputs of another shape, naming the shape it expects, before the
    chip converts anything."""
    chip = make_chip(compiled, 0)
    with pytest.raises(ValueError, match=re.escape("expected (batch, 1, 24)")):
        chip.run(compiled.segments[0], np.zeros(shape, dtype=np.int8))
    assert chip.mvm_ops() == [0, 0, 0, 0]


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32])
def test_run_refuses_a_dtype_other_than_int8(compiled, dtype):
    """run() takes int8 vectors only; nothing is converted otherwise."""
    chip = make_chip(compiled, 0)
    with pytest.raises(ValueError, match="int8"):
        chip.run(compiled.segments[0], np.zeros((4, 1, 24), dtype=dtype))
    assert chip.mvm_ops() == [0, 0, 0, 0]


def _zero_rank(chip, compiled, layer, slot):
    """The adapter entry of (layer, slot) rewritten with rank 0."""
    wb = compiled.params.sram_word_bytes
    n = compiled.params.words_for(LORA_DESC_BITS) * wb
    addr = compiled.entry_addrs[layer, slot] * wb
    fields = unpack_fields(AdapterEntry, int.from_bytes(chip.backend.read_sram(addr, n), "little"))
    assert fields["rank"] > 0
    fields["rank"] = 0
    chip.backend.write_sram(addr, pack_fields(AdapterEntry, fields).to_bytes(n, "little"))


def _entry_to_zeros(chip, compiled, layer, slot):
    """The layer descriptor's entry pointer for slot redirected to zeroed scratch words."""
    wb = compiled.params.sram_word_bytes
    n = compiled.params.words_for(LORA_DESC_BITS) * wb
    addr = compiled.lora_layer_addrs[layer] * wb
    fields = unpack_fields(LoraLayer, int.from_bytes(chip.backend.read_sram(addr, n), "little"))
    assert not any(chip.backend.read_sram(compiled.scratch[0] * wb, n))
    fields[f"entry{slot}"] = compiled.scratch[0]
    fields["act"] = Activation(fields["act"])
    chip.backend.write_sram(addr, pack_fields(LoraLayer, fields).to_bytes(n, "little"))


@pytest.mark.parametrize("corrupt", [_zero_rank, _entry_to_zeros])
@pytest.mark.parametrize("layer, slot", [("0", 0), ("2", 0), ("4", 0), ("4", 1)])
def test_a_refused_program_raises_chip_error(compiled, corrupt, layer, slot):
    """An enabled adapter entry of rank 0 stops the program with LORA_RANK_ZERO at that
    layer's record; with its slot disabled the entry is never read and the program runs."""
    segment = compiled.segments[0]
    index = [r.layer for r in segment.records].index(layer)
    chip = make_chip(compiled, 0)
    corrupt(chip, compiled, layer, slot)
    x = segment_inputs(compiled, 0, 3)
    with pytest.raises(ChipError, match=f"record {index}: LORA_RANK_ZERO") as info:
        chip.run(segment, x)
    assert (info.value.code, info.value.layer) == (ErrorCode.LORA_RANK_ZERO, index)
    chip.enable([1 - slot])
    chip.run(segment, x)


# ---- the report ----

def test_infer_report_matches_a_reference_and_counts_cycles(compiled):
    """With a reference chip (same seed, deployment, load and enables) every layer is
    bit-exact; with another seed some layer is not. The table names every layer and a
    total; each layer's cycles and MACs equal the golden per-record formulas rebuilt from
    the compiled layers and the enabled ranks, and the run's PERF_SEQ_CYCLES their sum
    plus the sequencer's per-record overhead."""
    p = compiled.params
    x = data(8, 16)
    for names in (BOTH, ["b"], []):
        enabled = sum(1 << compiled.adapter_slots[n] for n in names)
        chip = make_chip(compiled, 4, names)
        _, rows = infer(chip, compiled, x, reference=make_chip(compiled, 4, names))
        assert [r.layer for r in rows] == [layer.name for layer in compiled.layers]
        assert all(r.matched is True for r in rows)
        for row, cl in zip(rows, compiled.layers, strict=True):
            ranks = ranks_on(cl, enabled)
            assert row.vectors == 1
            assert row.cycles == record_cycles(mvm_descriptor(cl), cl.layer, ranks, p)
            assert row.lora_macs == glora.macs(cl.layer, ranks)
            assert row.analogue_macs == cl.n_in * cl.n_out
            assert row.mvm == 8  # one conversion per input bit plane, one tile per layer
        if names == BOTH:
            table = format_table(rows)
            lines = table.splitlines()
            for cl in compiled.layers:
                assert any(line.split()[0] == cl.name for line in lines)
            total = [line for line in lines if line.startswith("total")]
            assert len(total) == 1
            assert f"{sum(r.cycles for r in rows):,}" in total[0]
            cycles_both = sum(r.cycles for r in rows)
        if not names:
            assert sum(r.cycles for r in rows) < cycles_both  # the adapters' work is counted

        _, run = chip.run(compiled.segments[0], segment_inputs(compiled, 1, 4))
        stats_words = p.words_for(SEQ_STATS_BITS)
        expected = sum(row.cycles + 2 + stats_words for row in rows)  # every record has stats
        assert run.result.perf["PERF_SEQ_CYCLES"] == expected
        assert [run.stats[r.layer].cycles for r in rows] == [r.cycles for r in rows]

    _, rows = infer(make_chip(compiled, 4), compiled, x, reference=make_chip(compiled, 5))
    assert any(r.matched is False for r in rows)


def test_enable_and_load_refuse_bad_names_and_change_nothing(compiled):
    """enable() sets all or nothing and takes only a list; load() refuses a name for an
    empty slot; deleting a slot twice is refused."""
    chip = make_chip(compiled, 2, BOTH)
    with pytest.raises(KeyError, match="'nope'"):
        chip.enable(["b", "nope"])
    assert chip.enabled == 0b11
    for bad in ("ab", 1, [True]):
        with pytest.raises(TypeError):
            chip.enable(bad)
    assert chip.enabled == 0b11
    with pytest.raises(ValueError, match="'ghost'.*slot 3"):
        chip.load(compiled.image, names={"ghost": 3})
    chip.delete_adapter(0)
    with pytest.raises(KeyError, match="slot 0"):
        chip.delete_adapter(0)


def test_loading_an_image_zeroes_the_adapters_of_the_one_before(compiled):
    """An adapter of a replaced image does not linger in the buffer."""
    chip = make_chip(compiled, 2, BOTH)
    wb = compiled.params.sram_word_bytes
    start, words = compiled.slot_regions[compiled.adapter_slots["a"]]
    sections = [s for s in parse_image(compiled.image, compiled.params)
                if s.kind is not SectionKind.ADAPTER]
    chip.load(build_image(sections, compiled.params))
    assert chip.backend.read_sram(start * wb, words * wb) == bytes(words * wb)
