"""The LoRA unit's host-side formats: a layer and its adapters as integers, and how
they are packed into the SRAM (rmlora.contract.lora's layouts). The compiler writes
them, the golden model and the RTL read them back."""

from dataclasses import dataclass

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.checks import as_int_array
from rmlora.contract.lora import (
    LORA_DESC_BITS,
    LORA_SLOTS,
    LUT_ENTRIES,
    Activation,
    AdapterEntry,
    LoraLayer,
)
from rmlora.contract.packing import pack_fields

__all__ = ["Adapter", "Layer", "adapter_words", "pack_layer", "pack_entry", "pack_lut",
           "pack_rows", "place_layer"]

INT8_RANGE = (-128, 127)


@dataclass(frozen=True)
class Adapter:
    """One adapter of one layer, as the unit sees it (all integers)."""

    a: np.ndarray  # (r, n) int8
    b: np.ndarray  # (m, r) int8
    q_mult: int
    q_shift: int
    scale_mult: int

    @property
    def rank(self) -> int:
        return self.a.shape[0]


@dataclass(frozen=True)
class Layer:
    n_in: int
    n_out: int
    out_mult: int
    out_shift: int
    act: Activation = Activation.IDENTITY
    lut: np.ndarray | None = None  # LUT_ENTRIES int8 entries, for act = LUT
    neuron: int = 0  # SRAM word of the NeuronLayer descriptor, for act = LIF (formats.neuron)


def pack_layer(layer: Layer, lut_addr: int, entry_addrs: dict[int, int]) -> bytes:
    unknown = sorted(set(entry_addrs) - set(range(LORA_SLOTS)))
    if unknown:  # would be dropped: the descriptor has one entry field per slot
        raise ValueError(f"layer field out of range: adapter slot {unknown[0]} "
                         f"(needs 0..{LORA_SLOTS - 1})")
    fields = {"n_in": layer.n_in, "n_out": layer.n_out, "out_mult": layer.out_mult,
              "out_shift": layer.out_shift, "act": layer.act, "lut": lut_addr}
    for slot in range(LORA_SLOTS):
        fields[f"entry{slot}"] = entry_addrs.get(slot, 0)
    return pack_fields(LoraLayer, fields, "layer field").to_bytes(LORA_DESC_BITS // 8, "little")


def pack_entry(ad: Adapter, a_addr: int, b_addr: int) -> bytes:
    fields = {"rank": ad.rank, "a_addr": a_addr, "b_addr": b_addr, "q_mult": ad.q_mult,
              "q_shift": ad.q_shift, "scale_mult": ad.scale_mult}
    value = pack_fields(AdapterEntry, fields, "adapter entry field")
    return value.to_bytes(LORA_DESC_BITS // 8, "little")


def pack_rows(matrix: np.ndarray, word_bytes: int, what: str = "matrix") -> bytes:
    """int8 rows, each padded with zeros to whole SRAM words; a value outside int8 is a
    ValueError naming `what` (a cast would wrap 200 to -56)."""
    matrix = as_int_array(what, matrix, *INT8_RANGE)
    if matrix.ndim != 2:
        raise ValueError(f"{what}: must be a matrix (rows, columns), got shape {matrix.shape}")
    matrix = matrix.astype(np.int8)
    words = -(-matrix.shape[1] // word_bytes)
    padded = np.zeros((matrix.shape[0], words * word_bytes), dtype=np.int8)
    padded[:, :matrix.shape[1]] = matrix
    return padded.tobytes()


def pack_lut(lut) -> bytes:
    """A LUT activation's table: LUT_ENTRIES int8 entries (entry t for y = t - 128)."""
    if lut is None:
        raise ValueError(f"lut: a LUT activation needs a table of {LUT_ENTRIES} int8 entries")
    table = as_int_array("lut", lut, *INT8_RANGE)
    if table.shape != (LUT_ENTRIES,):
        raise ValueError(f"lut: must have {LUT_ENTRIES} entries, got shape {table.shape}")
    return table.astype(np.int8).tobytes()


def adapter_words(n_in: int, n_out: int, rank: int, word_bytes: int) -> tuple[int, int]:
    """SRAM words of an adapter's A (rank rows of n_in int8) and B (n_out rows of rank
    int8), every row starting on a word: the layout place_layer writes."""
    return rank * -(-n_in // word_bytes), n_out * -(-rank // word_bytes)


def place_layer(layer: Layer, adapters: dict[int, Adapter], params: ChipParams,
                base: int) -> tuple[bytes, int]:
    """SRAM image of one layer from SRAM word `base` on: the layer descriptor, one
    entry per adapter, the LUT (LUT activation), then each adapter's A and B. A LIF
    layer's descriptor names its neuron descriptor (layer.neuron), placed by the caller.
    Returns (image bytes, the descriptor's word address = base)."""
    wb = params.sram_word_bytes
    dw = params.words_for(LORA_DESC_BITS)
    cursor = base + dw * (1 + len(adapters))
    lut_addr = layer.neuron if layer.act is Activation.LIF else 0
    if layer.act is Activation.LUT:
        lut_addr, cursor = cursor, cursor + LUT_ENTRIES // wb
    entries, blobs = {}, []
    for k, (slot, ad) in enumerate(sorted(adapters.items())):
        if ad.a.shape != (ad.rank, layer.n_in) or ad.b.shape != (layer.n_out, ad.rank):
            raise ValueError(f"slot {slot}: A {ad.a.shape} and B {ad.b.shape} do not match a "
                             f"{layer.n_in}-in {layer.n_out}-out layer of rank {ad.rank}")
        a_words, b_words = adapter_words(layer.n_in, layer.n_out, ad.rank, wb)
        a_addr = cursor
        b_addr = a_addr + a_words
        cursor = b_addr + b_words
        entries[slot] = base + dw * (1 + k)
        blobs.append(pack_entry(ad, a_addr, b_addr))
    image = bytearray(pack_layer(layer, lut_addr, entries)[:dw * wb].ljust(dw * wb, b"\0"))
    for blob in blobs:
        image += blob[:dw * wb].ljust(dw * wb, b"\0")
    if layer.act is Activation.LUT:
        image += pack_lut(layer.lut)
    for slot, ad in sorted(adapters.items()):
        image += pack_rows(ad.a, wb, f"slot {slot} A") + pack_rows(ad.b, wb, f"slot {slot} B")
    if base + len(image) // wb > params.sram_depth:
        raise ValueError(f"layer image of {len(image)} bytes at word {base} does not fit the "
                         f"{params.sram_bytes}-byte SRAM buffer")
    return bytes(image), base
