"""The sequencer's layer-program records and the per-record statistics it writes back
(rmlora.contract.sequencer's layouts): packed by the compiler, read by the golden
model and the runtime."""

from dataclasses import dataclass

from rmlora.contract import ChipParams
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.sequencer import SEQ_RECORD_BITS, SEQ_STATS_BITS, SeqLayer, SeqStats

__all__ = ["Record", "LayerStats", "pack_record", "read_packed", "read_stats"]


@dataclass(frozen=True)
class Record:
    addr: int  # SRAM word of the record itself
    xbar: int
    lora: int
    dst: int
    stats: int
    last: bool


@dataclass(frozen=True)
class LayerStats:
    """One record's SeqStats (the same for every run: the chip's timing is data-independent)."""

    cycles: int
    adc: int
    mvm: int
    macs: int
    sram: int = 0  # SRAM core-port words read or written by the record (all blocks)
    cache: int = 0  # adapter words the LoRA unit read from its cache


def pack_record(xbar: int, lora: int, dst: int, stats: int = 0, last: bool = False) -> bytes:
    value = pack_fields(SeqLayer, {"xbar": xbar, "lora": lora, "dst": dst, "stats": stats,
                                   "last": int(last)}, "layer record field")
    return value.to_bytes(SEQ_RECORD_BITS // 8, "little")


def read_packed(mem: bytes, word: int, bits: int, params: ChipParams) -> int:
    """The `bits`-bit little-endian value stored from SRAM word `word` of `mem`."""
    wb = params.sram_word_bytes
    n = params.words_for(bits)
    return int.from_bytes(mem[word * wb:(word + n) * wb], "little")


def read_stats(mem: bytes, word: int, params: ChipParams) -> LayerStats:
    return LayerStats(**unpack_fields(SeqStats,
                                      read_packed(mem, word, SEQ_STATS_BITS, params)))
