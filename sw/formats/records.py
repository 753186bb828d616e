"""The sequencer's layer-program records and the per-record statistics it writes back
(rmlora.contract.sequencer's layouts): packed by the compiler, read by the golden
model and the runtime."""

from dataclasses import dataclass

from rmlora.contract import ChipParams
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.sequencer import SEQ_RECORD_BITS, SEQ_STATS_BITS, SeqLayer, SeqStats

__all__ = ["Record", "LayerStats", "pack_record", "read_packed", "read_stats", "strided"]


def strided(first: int, stride: int, count: int) -> list[int]:
    """The SRAM words a layer pass reads its inputs from, or writes its outputs to."""
    return [first + v * stride for v in range(count)]


@dataclass(frozen=True)
class Record:
    addr: int  # SRAM word of the record itself
    xbar: int
    lora: int
    dst: int
    stats: int
    last: bool
    vectors: int = 1  # a layer pass over this many vectors
    src_stride: int = 0  # words from one vector's input to the next's
    dst_stride: int = 0  # words from one vector's output to the next's

    def dsts(self) -> list[int]:
        """The SRAM word of each vector's output."""
        return strided(self.dst, self.dst_stride, self.vectors)


@dataclass(frozen=True)
class LayerStats:
    """One record's SeqStats, its whole layer pass (the same for every run: the chip's
    timing is data-independent)."""

    cycles: int
    adc: int
    mvm: int
    macs: int
    sram: int = 0  # SRAM core-port words read or written by the record (all blocks)
    cache: int = 0  # adapter words the LoRA unit read from its cache


def pack_record(xbar: int, lora: int, dst: int, stats: int = 0, last: bool = False,
                vectors: int = 1, src_stride: int = 0, dst_stride: int = 0) -> bytes:
    """A SeqLayer record: the layer (its descriptors) over `vectors` input vectors."""
    value = pack_fields(SeqLayer, {"xbar": xbar, "lora": lora, "dst": dst, "stats": stats,
                                   "last": int(last), "vectors": vectors,
                                   "src_stride": src_stride, "dst_stride": dst_stride},
                        "layer record field")
    return value.to_bytes(SEQ_RECORD_BITS // 8, "little")


def read_packed(mem: bytes, word: int, bits: int, params: ChipParams) -> int:
    """The `bits`-bit little-endian value stored from SRAM word `word` of `mem`."""
    wb = params.sram_word_bytes
    n = params.words_for(bits)
    return int.from_bytes(mem[word * wb:(word + n) * wb], "little")


def read_stats(mem: bytes, word: int, params: ChipParams) -> LayerStats:
    return LayerStats(**unpack_fields(SeqStats,
                                      read_packed(mem, word, SEQ_STATS_BITS, params)))
