"""The sequencer's layer program and its per-layer statistics record.

A layer program is a list of SeqLayer records in the SRAM buffer, from SEQ_PROG
on, one after another (each LORA_DESC_BITS = 128 bits, i.e. words_for(128) SRAM
words), ending with the first record whose `last` bit is set. For each record the
sequencer

  1. fetches the record, the layer's crossbar descriptor (an MVM) and the first
     word of its LoRA layer descriptor, and checks that they agree (SEQ_SHAPE)
     and that dst and stats fit the buffer (SEQ_SRAM_RANGE);
  2. runs the crossbar MVM on the int8 input at the descriptor's `src`; the int32
     partial sums p go into a FIFO (MAX_FEATURES deep) instead of the SRAM
     (the descriptor's `dst` is not used in a program);
  3. runs the LoRA unit on the same layer: x (kept in an x buffer as the MVM read
     it from `src`) is streamed to the unit, p comes from the FIFO, y (int8) goes
     into a second FIFO;
  4. writes y to `dst` (n_out bytes from byte 0 of word dst; the bytes after the
     last output in its word are not touched);
  5. writes the layer's statistics record to `stats` (0: no record).

The one SRAM core port is shared in time: the crossbar controller owns it during
step 2, the LoRA unit during 3, the sequencer during 1, 4 and 5. Several records
may name the same descriptors (a layer applied to many vectors gets one record and
one crossbar descriptor per vector, with its own src; the LoRA descriptor and the
adapters are shared, and consecutive records of one layer find them in the LoRA
unit's adapter cache: ChipParams.lora_cache_words). A program START and any host
write to the SRAM flush that cache.
"""

from amaranth import unsigned
from amaranth.lib import data

__all__ = ["SeqLayer", "SeqStats", "SEQ_RECORD_BITS", "SEQ_STATS_BITS", "SEQ_MAX_LAYERS"]

SEQ_MAX_LAYERS = (1 << 16) - 1  # SEQ_STATUS.LAYER counts up to this many records


class SeqLayer(data.Struct):
    xbar: unsigned(16)  # SRAM word address of the layer's crossbar descriptor (op MVM)
    lora: unsigned(16)  # SRAM word address of the LoRA layer descriptor
    dst: unsigned(16)  # SRAM word address of the int8 outputs
    stats: unsigned(16)  # SRAM word address of this layer's SeqStats record, 0 = none
    last: unsigned(1)  # the program ends after this record


class SeqStats(data.Struct):
    """Counts of one layer record, written by the sequencer when it finishes it."""

    cycles: unsigned(32)  # from the record's fetch to the end of y's write-back
    adc: unsigned(32)  # column ADC conversions
    mvm: unsigned(32)  # macro MVM operations (input bit planes)
    macs: unsigned(32)  # multiply-accumulates of the LoRA unit
    # SRAM core-port words read or written (every block; the stats write is after it)
    sram: unsigned(32)
    cache: unsigned(32)  # adapter words the LoRA unit read from its cache instead


SEQ_RECORD_BITS = 128  # a SeqLayer record takes 128 bits of SRAM (the layout is 65)
SEQ_STATS_BITS = 192
