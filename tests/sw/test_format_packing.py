"""The packing functions of rmlora.sw.formats refuse what does not fit the contract,
naming the field, the value and the range, instead of wrapping it into the SRAM."""

import numpy as np
import pytest

from rmlora.contract import ChipParams
from rmlora.contract.lora import LUT_ENTRIES, Activation
from rmlora.contract.xbar import XbarOp
from rmlora.sw.formats.lora import Adapter, Layer, pack_layer, pack_rows, place_layer
from rmlora.sw.formats.records import pack_record
from rmlora.sw.formats.xbar import Descriptor

P = ChipParams()


def adapter(a_value=1, b_value=1, **fields):
    a = np.full((2, 8), a_value)
    b = np.full((4, 2), b_value)
    return Adapter(a, b, **({"q_mult": 1, "q_shift": 0, "scale_mult": 1} | fields))


def test_a_layer_in_range_packs():
    image, base = place_layer(Layer(8, 4, 1, 0), {0: adapter(), 3: adapter(-128, 127)}, P, 16)
    assert base == 16 and len(image) % P.sram_word_bytes == 0


@pytest.mark.parametrize("matrix, message", [
    ("a", r"slot 0 A: values must be in \[-128, 127\], got \[200, 200\]"),
    ("b", r"slot 0 B: values must be in \[-128, 127\], got \[-129, -129\]"),
])
def test_adapter_matrices_outside_int8_are_refused(matrix, message):
    """Before: np.asarray(..., dtype=int8) of an int64 matrix wrapped 200 to -56."""
    ad = adapter(200, 1) if matrix == "a" else adapter(1, -129)
    with pytest.raises(ValueError, match=message):
        place_layer(Layer(8, 4, 1, 0), {0: ad}, P, 0)


def test_pack_rows_takes_integer_matrices_only():
    with pytest.raises(ValueError, match="must be integers"):
        pack_rows(np.ones((2, 3)), 8)
    with pytest.raises(ValueError, match="must be a matrix"):
        pack_rows(np.ones(3, dtype=np.int8), 8)


@pytest.mark.parametrize("lut, message", [
    (None, "a LUT activation needs a table of 256"),
    (np.zeros(255, dtype=np.int8), r"must have 256 entries, got shape \(255,\)"),
    (np.full(LUT_ENTRIES, 128), r"lut: values must be in \[-128, 127\]"),
    (np.zeros(LUT_ENTRIES), "lut: must be integers"),
])
def test_a_lut_that_is_not_256_int8_entries_is_refused(lut, message):
    """Before: a short LUT left the adapters after it misplaced; 128 wrapped to -128."""
    with pytest.raises(ValueError, match=message):
        place_layer(Layer(8, 4, 1, 0, Activation.LUT, lut), {}, P, 0)


@pytest.mark.parametrize("fields, message", [
    (dict(n_in=1024), r"n_in=1024 \(needs 0..1023\)"),
    (dict(out_mult=1 << 15), r"out_mult=32768 \(needs -32768..32767\)"),
    (dict(out_shift=64), r"out_shift=64 \(needs 0..63\)"),
])
def test_layer_fields_out_of_range_are_refused(fields, message):
    layer = Layer(**({"n_in": 8, "n_out": 4, "out_mult": 1, "out_shift": 0} | fields))
    with pytest.raises(ValueError, match=message):
        pack_layer(layer, 0, {})


def test_an_entry_for_a_slot_the_descriptor_has_no_field_for_is_refused():
    """Before: pack_layer dropped entry 4 silently (the descriptor has entry0..entry3)."""
    with pytest.raises(ValueError, match=r"adapter slot 4 \(needs 0..3\)"):
        pack_layer(Layer(8, 4, 1, 0), 0, {4: 100})
    with pytest.raises(ValueError, match="entry0=65536"):
        pack_layer(Layer(8, 4, 1, 0), 0, {0: 1 << 16})


@pytest.mark.parametrize("fields, message", [
    (dict(q_shift=64), r"q_shift=64 \(needs 0..63\)"),
    (dict(scale_mult=-(1 << 15) - 1), r"scale_mult=-32769 \(needs -32768..32767\)"),
])
def test_adapter_entry_fields_out_of_range_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        place_layer(Layer(8, 4, 1, 0), {0: adapter(**fields)}, P, 0)


def test_records_and_descriptors_refuse_fields_that_do_not_fit():
    with pytest.raises(ValueError, match=r"dst=65536 \(needs 0..65535\)"):
        pack_record(0, 0, 1 << 16)
    with pytest.raises(ValueError, match=r"last=2 \(needs 0..1\)"):
        pack_record(0, 0, 0, last=2)
    with pytest.raises(ValueError, match=r"macro=16 \(needs 0..15\)"):
        Descriptor(XbarOp.MVM, 8, 8, 0, 0, macro=16).pack()


def test_xbar_descriptor_reads_round_trip_after_the_old_fields():
    """reads_log2 packs into the two bits after the old 109 (so reads_log2 = 0 leaves
    every descriptor's bytes as they were) and unpacks back, as the golden chip reads
    descriptors from the SRAM; 4 does not fit its two bits."""
    from rmlora.contract.packing import unpack_fields
    from rmlora.contract.xbar import XBAR_DESC_BITS, XbarDescriptor
    from rmlora.sw.golden.chip import _descriptor

    base = Descriptor(XbarOp.MVM, 200, 30, 7, 99, macro=2, gain_shift=5)
    for reads_log2 in range(4):
        desc = Descriptor(XbarOp.MVM, 200, 30, 7, 99, macro=2, gain_shift=5,
                          reads_log2=reads_log2)
        raw = int.from_bytes(desc.pack(), "little")
        assert raw == int.from_bytes(base.pack(), "little") | reads_log2 << 109
        assert raw < 1 << 111 and 111 <= XBAR_DESC_BITS
        assert unpack_fields(XbarDescriptor, raw)["reads_log2"] == reads_log2
        assert _descriptor(desc.pack(), 0, P) == (0, desc)
        assert desc.reads == 1 << reads_log2
    with pytest.raises(ValueError, match=r"reads_log2=4 \(needs 0..3\)"):
        Descriptor(XbarOp.MVM, 8, 8, 0, 0, reads_log2=4).pack()
