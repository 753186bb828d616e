"""A layer of LIF neurons as the host sees it (rmlora.contract.neuron): its NeuronLayer
descriptor, packed with the contract's layout, and the SRAM words of its state."""

from dataclasses import dataclass

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.neuron import MEM_BITS, NEURON_DESC_BITS, NeuronLayer, state_words
from rmlora.contract.packing import pack_fields, unpack_fields

__all__ = ["Neurons", "read_neurons", "read_state"]


@dataclass(frozen=True)
class Neurons:
    """A NeuronLayer descriptor: where the membranes and counts are, and the update's
    threshold and leak."""

    mem: int  # SRAM word of the membranes (n_out int16)
    count: int  # SRAM word of the spike counts (n_out int8)
    v_th: int
    decay_mult: int
    decay_shift: int

    def pack(self) -> bytes:
        """The descriptor's SRAM bytes; a field that does not fit its bits is refused."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return pack_fields(NeuronLayer, fields, "neuron layer field").to_bytes(
            NEURON_DESC_BITS // 8, "little")

    def regions(self, n_out: int, params: ChipParams) -> list[tuple[int, int]]:
        """(first word, words) of the membranes and of the counts."""
        mem_w, count_w = state_words(n_out, params.sram_word_bytes)
        return [(self.mem, mem_w), (self.count, count_w)]


def read_neurons(mem: bytes, word: int, params: ChipParams) -> Neurons:
    """The NeuronLayer descriptor at SRAM word `word` of the memory image `mem`."""
    wb = params.sram_word_bytes
    raw = mem[word * wb:(word + params.words_for(NEURON_DESC_BITS)) * wb]
    return Neurons(**unpack_fields(NeuronLayer, int.from_bytes(raw, "little")))


def read_state(mem: bytes, neurons: Neurons, n_out: int, params: ChipParams
               ) -> tuple[np.ndarray, np.ndarray]:
    """The membranes (int16) and spike counts (int8) of n_out neurons in `mem`."""
    wb = params.sram_word_bytes
    m = np.frombuffer(mem[neurons.mem * wb:neurons.mem * wb + MEM_BITS // 8 * n_out], "<i2")
    k = np.frombuffer(mem[neurons.count * wb:neurons.count * wb + n_out], np.int8)
    return m.astype(np.int16), k.copy()
