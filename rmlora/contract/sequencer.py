"""The sequencer's layer program and its per-layer statistics record.

A layer program is a list of SeqLayer records in the SRAM buffer, from SEQ_PROG
on, one after another (each LORA_DESC_BITS = 128 bits, i.e. words_for(128) SRAM
words), ending with the first record whose `last` bit is set. For each record the
sequencer

  1. fetches the record, the layer's crossbar descriptor (an MVM) and the head of
     its LoRA layer descriptor (n_in, n_out, act, lut), and checks that they agree
     (SEQ_SHAPE), that the record has vectors (SEQ_VECTORS) and that every vector's
     input, output and the stats record fit the buffer (SEQ_SRAM_RANGE);
  then, for each of the record's `vectors` input vectors (a layer pass):
  2. runs the crossbar MVM on the int8 input at the descriptor's `src` plus the
     vector's offset (the controller fetches and checks the descriptor for the
     first vector only); the int32 partial sums p go into a FIFO (MAX_FEATURES
     deep) instead of the SRAM (the descriptor's `dst` is not used in a program);
  3. runs the LoRA unit on the same layer: x (kept in an x buffer as the MVM read
     it) is streamed to the unit, p comes from the FIFO, y (int8) goes into a
     second FIFO; from the second vector on, the unit reads its adapters from its
     adapter cache (ChipParams.lora_cache_words) when they fit;
  4. writes y to `dst` plus the vector's offset (n_out bytes from byte 0 of that
     word; the bytes after the last output in its word are not touched); for a layer
     of LIF neurons (act = LIF, contract/neuron.py) it updates the neurons instead and
     writes their spikes there, and their membranes and counts where the layer's
     NeuronLayer descriptor says (fetched after the LoRA descriptor, its regions
     checked with the record's: SEQ_SRAM_RANGE, SEQ_NEURON_OVERLAP);
  and after the last vector
  5. writes the record's statistics (the whole pass) to `stats` (0: no record).

The one SRAM core port is shared in time: the crossbar controller owns it during
step 2, the LoRA unit during 3, the sequencer during 1, 4 and 5. A record, its
descriptors and its stats are read and written once per layer pass, not once per
vector: that is what a pass saves. Records may also name the same descriptors
(several records of one layer; consecutive ones find the adapters in the LoRA
unit's cache). A program START and any host write to the SRAM flush that cache.
"""

from amaranth import unsigned
from amaranth.lib import data

__all__ = ["SeqLayer", "SeqStats", "SEQ_RECORD_BITS", "SEQ_STATS_BITS", "SEQ_MAX_LAYERS"]

SEQ_MAX_LAYERS = (1 << 16) - 1  # SEQ_STATUS.LAYER counts up to this many records


class SeqLayer(data.Struct):
    xbar: unsigned(16)  # SRAM word address of the layer's crossbar descriptor (op MVM)
    lora: unsigned(16)  # SRAM word address of the LoRA layer descriptor
    dst: unsigned(16)  # SRAM word address of the first vector's int8 outputs
    stats: unsigned(16)  # SRAM word address of this record's SeqStats record, 0 = none
    last: unsigned(1)  # the program ends after this record
    # a layer pass: the layer over `vectors` input vectors (>= 1), vector v read from
    # the descriptor's src + v * src_stride and written to dst + v * dst_stride (words)
    vectors: unsigned(16)
    src_stride: unsigned(16)
    dst_stride: unsigned(16)


class SeqStats(data.Struct):
    """Counts of one layer record, written by the sequencer when it finishes it."""

    cycles: unsigned(32)  # from the record's fetch to the end of y's write-back
    # column ADC conversions the crossbar controller asked for (planes x columns); the
    # macros skip the planes that drive no row, and count what they converted
    adc: unsigned(32)
    mvm: unsigned(32)  # macro MVM operations (input bit planes)
    macs: unsigned(32)  # multiply-accumulates of the LoRA unit
    # SRAM core-port words read or written (every block; the stats write is after it)
    sram: unsigned(32)
    cache: unsigned(32)  # adapter words the LoRA unit read from its cache instead


SEQ_RECORD_BITS = 128  # a SeqLayer record takes 128 bits of SRAM (the layout is 113)
SEQ_STATS_BITS = 192
