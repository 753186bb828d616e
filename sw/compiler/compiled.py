"""What the compiler hands to the runtime: plain data, no behaviour.

A compiled network is the analogue half (int8 weights, their macro placement and
the write-verify plan that puts them there once), the digital half (the SRAM image
with layer programs, descriptors, LUTs and one region per adapter slot) and the
host steps that glue the chip's segments into one integer network.
"""

from dataclasses import dataclass, field

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig
from rmlora.sw.formats.lora import Adapter, Layer
from rmlora.sw.formats.records import strided
from rmlora.sw.formats.xbar import Descriptor

__all__ = ["ChipLayer", "RecordInfo", "Segment", "CompiledModel"]


@dataclass
class ChipLayer:
    """One weight matrix of the model as the chip runs it."""

    name: str
    n_in: int
    n_out: int
    w_q: np.ndarray  # (n_out, n_in) int8; the crossbar holds w_q.T (inputs on rows)
    placement: tuple[int, int, int]  # (macro, row0, col0); row0 = col0 = 0 if multi-tile
    gain_shift: int  # ADC LSB = 2**gain_shift weight units
    layer: Layer  # the LoRA unit's integer parameters (multipliers, activation, LUT)
    adapters: dict[int, Adapter]  # slot -> this layer's integer adapter
    scales: dict[str, float]  # real value of one integer step of x, w, y, ..., for reports
    # MVM conversions per input bit plane, averaged: 2**reads_log2 (the descriptor's
    # field). reads_asked is what compile_model was asked for; reads_log2 is at most
    # gain_shift (the mean must be a shift), so fewer reads than asked is a clamp.
    reads_log2: int = 0
    reads_asked: int = 1
    # 1: the inputs are spikes (0/1), one bit plane per MVM (XbarDescriptor.spikes)
    spikes: int = 0
    # act LIF: the neurons' v_th, decay_mult and decay_shift (contract.neuron.NeuronLayer)
    neuron: dict[str, int] | None = None

    @property
    def reads(self) -> int:
        return 1 << self.reads_log2

    @property
    def reads_clamped(self) -> bool:
        """Fewer reads per plane than asked: the layer's gain shift is below log2(asked)."""
        return self.reads < self.reads_asked


@dataclass(frozen=True)
class RecordInfo:
    """One SeqLayer record: a pass of `layer` over `vectors` input vectors, vector v read
    from src + v * src_stride and written to dst + v * dst_stride (SRAM words)."""

    layer: str
    record: int  # SRAM word of the SeqLayer record
    stats: int  # SRAM word of its SeqStats record (the whole pass)
    n_in: int
    n_out: int
    xbar: int  # SRAM word of its MVM crossbar descriptor (src: the first vector's)
    src: int  # SRAM word of the first int8 input vector
    dst: int  # SRAM word of the first int8 output vector
    vectors: int = 1
    src_stride: int = 0
    dst_stride: int = 0

    def srcs(self) -> list[int]:
        return strided(self.src, self.src_stride, self.vectors)

    def dsts(self) -> list[int]:
        return strided(self.dst, self.dst_stride, self.vectors)


@dataclass(frozen=True)
class Segment:
    """A layer program the sequencer runs in one go: no host step inside it."""

    name: str
    program: int  # SRAM word of the first SeqLayer record
    inputs: list[int]  # SRAM words of the input vectors, in order
    n_in: int
    outputs: list[int]  # SRAM words of the output vectors, in order
    n_out: int
    records: list[RecordInfo]
    layers: list[str] = field(default_factory=list)  # the chain, applied to every vector


@dataclass
class CompiledModel:
    params: ChipParams
    macro_config: MacroConfig
    layers: list[ChipLayer]
    plan: list[tuple[Descriptor, np.ndarray]]  # PROGRAM blocks and their target codes
    plan_layers: list[str]  # the layer each plan block belongs to
    plan_weights: list[np.ndarray]  # the int8 weights of each block (n_rows, n_cols)
    image: bytes
    segments: list[Segment]
    adapter_slots: dict[str, int]  # adapter name -> slot
    slot_regions: dict[int, tuple[int, int]]  # slot -> (first word, words) of its section
    lora_layer_addrs: dict[str, int]  # layer -> SRAM word of its LoraLayer descriptor
    entry_addrs: dict[tuple[str, int], int]  # (layer, slot) -> SRAM word of its entry
    lut_addrs: dict[str, int]  # layer -> SRAM word of its LUT (LUT activations only)
    scratch: tuple[int, int]  # (first word, words) no image, buffer or stats record uses
    steps: list  # ChipStep and host steps (rmlora.sw.compiler.steps), in order
    input_scale: float  # real value of one input step
    output_scale: float  # real value of one logit step
    # LIF layer -> its Neurons descriptor (SRAM words of the descriptor's mem and count)
    neurons: dict = field(default_factory=dict)
    neuron_addrs: dict[str, int] = field(default_factory=dict)  # layer -> its descriptor

    def layer(self, name: str) -> ChipLayer:
        for chip_layer in self.layers:
            if chip_layer.name == name:
                return chip_layer
        raise KeyError(f"no layer {name!r}; the model has {[x.name for x in self.layers]}")

    def adapter_bytes(self, name: str) -> int:
        """SRAM bytes of an adapter's section (what loading or deleting it writes)."""
        return self.slot_regions[self.adapter_slots[name]][1] * self.params.sram_word_bytes

    @property
    def all_slots(self) -> int:
        """LORA_ENABLE mask with every compiled adapter on."""
        return sum(1 << slot for slot in self.adapter_slots.values())
