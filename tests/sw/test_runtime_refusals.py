"""Every call the runtime must not pass to the chip is refused up front, with a
ChipError saying what to do, and a refused call changes nothing: running before
deploy() or load(), a segment of another image, enabling an empty slot, NaN or
wrongly shaped inputs, a bad deploy plan, and each way load() refuses an image."""

import dataclasses
import warnings

import numpy as np
import pytest

from rmlora.contract import ChipParams
from rmlora.contract.image import NO_SLOT, SectionKind
from rmlora.contract.xbar import XbarOp
from rmlora.sw.compiler import compile_model
from rmlora.sw.formats.image import ImageError, parse_image
from rmlora.sw.runtime import Chip, ChipError, ChipRefused, ideal_segment_runner, run_network
from rmlora.sw.runtime.infer import infer
from tests.sw.test_compiler import adapted_mlp, data
from tests.sw.test_image import reseal, set_header_field, set_section_field
from tests.sw.test_runtime import segment_inputs

P = ChipParams()


@pytest.fixture(scope="module")
def compiled():
    c = compile_model(adapted_mlp(0), data(0, 256))
    assert c.params == P and c.adapter_slots == {"a": 0, "b": 1}  # the messages assume it
    return c


def fresh_chip(compiled, deploy=True, load=True) -> Chip:
    chip = Chip(macro_config=compiled.macro_config, seed=0)
    if deploy:
        chip.deploy(compiled.plan)
    if load:
        chip.load(compiled.image, names=compiled.adapter_slots)
    return chip


def chip_state(chip: Chip):
    """Everything a refused call must leave as it was."""
    return (chip.backend.read_sram(0, chip.params.sram_bytes), list(chip.sections),
            dict(chip.names), chip.enabled, chip.deployed, chip.mvm_ops(),
            chip.activity()["pulses"])


# ---- running ----

def test_run_before_deploy_is_refused(compiled):
    """Before: a chip that never programmed its crossbars ran and returned all zeros."""
    chip = fresh_chip(compiled, deploy=False)
    before = chip_state(chip)
    with pytest.raises(ChipRefused, match=r"before deploy\(\).*call deploy\(compiled.plan\)"):
        chip.run(compiled.segments[0], segment_inputs(compiled, 0, 2))
    assert chip_state(chip) == before
    chip.deploy(compiled.plan)
    chip.run(compiled.segments[0], segment_inputs(compiled, 0, 2))


def test_run_before_load_is_refused(compiled):
    """Before: the empty SRAM ran as a program of zeros (a ChipError XBAR_EMPTY)."""
    chip = fresh_chip(compiled, load=False)
    with pytest.raises(ChipRefused, match=r"before load\(\).*call load\(compiled.image\)"):
        chip.run(compiled.segments[0], segment_inputs(compiled, 0, 2))
    assert chip.mvm_ops() == [0, 0, 0, 0]


def test_a_segment_of_another_image_is_refused(compiled):
    chip = fresh_chip(compiled)
    program = next(s for s in chip.sections if s.kind is SectionKind.LAYER_PROGRAM)
    stranger = dataclasses.replace(compiled.segments[0], program=compiled.scratch[0])
    assert not program.sram_word <= stranger.program < program.sram_word + len(program.payload)
    with pytest.raises(ChipRefused, match="not in the loaded image; load the image it was"):
        chip.run(stranger, segment_inputs(compiled, 0, 2))
    assert chip.mvm_ops() == [0, 0, 0, 0]


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 24), np.int8), r"expected \(batch, 1, 24\)"),
    (np.zeros((0, 1, 24), np.int8), "batch >= 1"),
    (np.zeros((2, 1, 24), np.float32), "must be int8, got float32: quantize them first"),
    (np.full((2, 1, 24), np.nan), "must be int8"),
])
def test_run_refusals_are_chip_errors_that_change_nothing(compiled, x, message):
    chip = fresh_chip(compiled)
    chip.enable(["a"])
    before = chip_state(chip)
    with pytest.raises(ChipRefused, match=message) as info:
        chip.run(compiled.segments[0], x)
    assert isinstance(info.value, ChipError) and isinstance(info.value, ValueError)
    assert info.value.code is None  # the chip never saw it
    assert chip_state(chip) == before


# ---- host inference ----

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_host_inference_refuses_non_finite_inputs(compiled, bad):
    """Before: a NaN quantized to an arbitrary int8 code with only a RuntimeWarning
    ('invalid value encountered in cast'), and the chip ran on it."""
    chip = fresh_chip(compiled)
    x = data(1, 4)
    x[2, 5] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ChipRefused, match=r"1 NaN or infinite values \(the first at "
                                              r"index \(2, 5\), in input 2\)"):
            infer(chip, compiled, x)
        with pytest.raises(ChipRefused, match="NaN or infinite"):
            run_network(compiled, x, ideal_segment_runner(compiled))
    assert chip.mvm_ops() == [0, 0, 0, 0]


@pytest.mark.parametrize("x, message", [
    (np.zeros((4, 23)), r"takes \(B, 1, 24\), got \(4, 1, 23\): give inputs of the shape"),
    (np.zeros((0, 24)), r"inputs shape \(0, 24\): expected a batch"),
    (np.zeros(24), r"inputs shape \(24,\): expected a batch"),
    ([["a"] * 24], "inputs must be an array of numbers"),
])
def test_host_inference_refuses_wrongly_shaped_inputs(compiled, x, message):
    chip = fresh_chip(compiled)
    with pytest.raises(ChipRefused, match=message):
        infer(chip, compiled, x)
    assert chip.mvm_ops() == [0, 0, 0, 0]


# ---- adapters ----

def test_enabling_an_empty_slot_is_refused(compiled):
    """Before: enable([2, 3]) set LORA_ENABLE bits for slots no adapter was loaded into."""
    chip = fresh_chip(compiled)
    chip.enable(["a"])
    empty = sorted(set(range(4)) - set(compiled.adapter_slots.values()))
    for slot in empty:
        with pytest.raises(ChipRefused, match=f"no adapter in slot {slot} .*load an image"):
            chip.enable([slot])
    with pytest.raises(KeyError, match=r"no adapter named 'forget'.*names=\.\.\."):
        chip.enable(["b", "forget"])
    assert chip.enabled == 1 << compiled.adapter_slots["a"]
    unloaded = fresh_chip(compiled, load=False)
    with pytest.raises(ChipRefused, match="adapters in slots: none"):
        unloaded.enable([0])
    unloaded.enable([])  # nothing on is always allowed


# ---- deploying ----

BAD_BLOCKS = {
    "not a PROGRAM": (lambda d, t: (dataclasses.replace(d, op=XbarOp.MVM), t),
                      "is not a PROGRAM descriptor"),
    "refused by the chip": (lambda d, t: (dataclasses.replace(d, macro=9), t),
                            "XBAR_MACRO_RANGE"),
    "targets shape": (lambda d, t: (d, t[:-1]), "targets must be integers of shape"),
    "targets float": (lambda d, t: (d, t.astype(float)), "targets must be integers"),
    "targets range": (lambda d, t: (d, t.astype(np.int64) + 256), r"in \[0, 255\]"),
    "not a pair": (lambda d, t: d, "must be \\(PROGRAM descriptor, target codes\\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_BLOCKS))
def test_a_bad_plan_is_refused_before_any_cell_is_pulsed(compiled, case):
    """The bad block is the last: every block is checked before the first is written."""
    spoil, message = BAD_BLOCKS[case]
    plan = list(compiled.plan)
    plan[-1] = spoil(*plan[-1])
    chip = fresh_chip(compiled, deploy=False)
    before = chip_state(chip)
    with pytest.raises(ChipRefused, match=message):
        chip.deploy(plan)
    assert chip_state(chip) == before and not chip.deployed


def test_on_chip_deploy_needs_a_scratch_area_that_fits(compiled):
    chip = fresh_chip(compiled, deploy=False, load=False)
    with pytest.raises(ChipRefused, match="needs a scratch_word"):
        chip.deploy(compiled.plan, on_chip=True)
    with pytest.raises(ChipRefused, match="do not fit the SRAM at scratch_word"):
        chip.deploy(compiled.plan, on_chip=True, scratch_word=compiled.params.sram_depth - 1)
    assert chip.activity()["pulses"] == 0


# ---- loading: each refusal leaves the chip as it was ----

def _forge(edit):
    """A forged image: edit(blob, its sections) on the table, then the CRC recomputed."""
    def spoil(image):
        blob = bytearray(image)
        edit(blob, parse_image(image, P))
        return reseal(blob)
    return spoil


def _index(sections, kind):
    return next(i for i, s in enumerate(sections) if s.kind is kind)


def _flip(image):
    blob = bytearray(image)
    blob[-1] ^= 0x5A
    return bytes(blob)


def _magic(image):
    blob = bytearray(image)
    blob[0] ^= 0xFF
    return bytes(blob)


BAD_IMAGES = {  # every check of parse_image, each after the CRC where it can be
    "header truncated": (lambda image: image[:10], "image truncated: 10 bytes"),
    "truncated": (lambda image: image[:-1], "truncated or padded"),
    "padded": (lambda image: image + b"\0", "truncated or padded"),
    "magic": (_magic, "not an rmlora image"),
    "newer format": (_forge(lambda b, s: set_header_field(b, "version_major", 3)),
                     "newer than this loader"),
    "corrupted": (_flip, "CRC32"),
    "unknown kind": (_forge(lambda b, s: set_section_field(b, 0, "kind", 99)),
                     "unknown kind 99"),
    "adapter slot": (_forge(lambda b, s: set_section_field(
        b, _index(s, SectionKind.ADAPTER), "slot", 9)), "slot=9"),
    "slot on a layer program": (_forge(lambda b, s: set_section_field(
        b, _index(s, SectionKind.LAYER_PROGRAM), "slot", 0)), "slot=0"),
    "past the payload": (_forge(lambda b, s: set_section_field(
        b, len(s) - 1, "length", len(s[-1].payload) + 1)), "runs past the end"),
    "unclaimed bytes": (_forge(lambda b, s: set_section_field(
        b, len(s) - 1, "length", len(s[-1].payload) - 1)), "1 bytes no section claims"),
    "outside the SRAM": (_forge(lambda b, s: set_section_field(
        b, 0, "sram_word", P.sram_depth - 1)), "does not fit"),
    "overlap": (_forge(lambda b, s: set_section_field(b, 1, "sram_word", s[0].sram_word)),
                "overlap in SRAM"),
    "not bytes": (lambda image: list(image), "an image is bytes"),
}
BAD_NAMES = {
    "empty slot": ({"ghost": 3}, r"'ghost'.*no adapter in slot 3 \(it has slots 0, 1\)"),
    "slot out of range": ({"a": NO_SLOT}, "no adapter in slot 15"),
    "bool slot": ({"a": True}, "no adapter in slot True"),
    "empty name": ({"": 0}, "must be a non-empty string"),
    "name not a string": ({0: 0}, "must be a non-empty string"),
    "not a mapping": ([("a", 0)], "must be a mapping"),
}


def _refuse_and_compare(chip, image, names, error, message):
    before = chip_state(chip)
    with pytest.raises(error, match=message):
        chip.load(image, names=names)
    assert chip_state(chip) == before


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_a_refused_image_changes_nothing(compiled, case):
    """On a fresh chip and on a loaded one with an adapter on: SRAM, sections, names,
    enabled slots and the macros exactly as they were."""
    spoil, message = BAD_IMAGES[case]
    bad = spoil(compiled.image)
    _refuse_and_compare(fresh_chip(compiled, load=False), bad, compiled.adapter_slots,
                        ImageError, message)
    chip = fresh_chip(compiled)
    chip.enable(["b"])
    _refuse_and_compare(chip, bad, compiled.adapter_slots, ImageError, message)


@pytest.mark.parametrize("case", sorted(BAD_NAMES))
def test_refused_adapter_names_change_nothing(compiled, case):
    names, message = BAD_NAMES[case]
    chip = fresh_chip(compiled)
    chip.enable(["a", "b"])
    _refuse_and_compare(chip, compiled.image, names, ChipRefused, message)
