"""The digital LoRA unit: layer descriptor, adapter entries, number formats.

For one layer with int8 input x (n), analogue partial sums p (int32, m) and the
adapters of the enabled slots, the unit computes

    h_i = A_i x                               (LORA_H_BITS, r_i)   A_i: r_i x n int8
    q_i = requant(h_i, q_mult_i, q_shift_i)   (int8,  r_i)
    d_i = B_i q_i                             (LORA_D_BITS, m)     B_i: m x r_i int8
    acc = p * out_mult + sum_i d_i * scale_mult_i                  (LORA_ACC_BITS)
    y   = act(requant(acc, 1, out_shift))     (int8,  m)

requant(v, mult, shift) = clamp(round_half_up(v * mult / 2**shift), -128, 127),
round half up meaning floor(t + 1/2): a right shift after adding 2**(shift-1), the
cheapest rounding in hardware, biased by half an LSB only on exact ties. The LoRA
factor alpha/r and all quantisation scales are folded into the multipliers.

SRAM layout (word = sram_width bits, P = bytes per word): A_i row k at
a_addr + k * ceil(n/P) words, B_i row j at b_addr + j * ceil(r_i/P) words (rows
start on word boundaries, bytes little-endian), the LUT is LUT_ENTRIES = 256 bytes
at lut (entry t for y = t - 128). The layer descriptor names one adapter entry per slot
(address 0: none for this layer); a slot is used only when its LORA_ENABLE bit is
set, so an unlearning and a continual adapter can be on together or apart.
"""

from amaranth import signed, unsigned
from amaranth.lib import data, enum

from .xbar import ACC_BITS

__all__ = [
    "Activation", "LORA_SLOTS", "LORA_MAX_RANK", "LORA_MAX_FEATURES", "LORA_ACC_BITS",
    "LORA_H_BITS", "LORA_D_BITS", "MULT_BITS", "signed_bits",
    "LoraLayer", "AdapterEntry", "LORA_DESC_BITS", "round_half_up_shift", "LUT_ENTRIES",
    "ACTIVATION_CODES",
]

LORA_SLOTS = 4  # adapter slots, each enabled by a LORA_ENABLE bit
LORA_MAX_RANK = 16  # ranks 1..16 (the paper's adapters use 4-16)
LORA_MAX_FEATURES = 512  # n and m: four 128-row macros
MULT_BITS = 16  # out_mult, q_mult, scale_mult: signed(16) fields below


def signed_bits(bound: int) -> int:
    """Bits of a signed value that holds every integer in [-bound, bound]."""
    return bound.bit_length() + 1


# The datapath's widths, from the bounds the fields and the unit's checks allow (a layer
# with more than LORA_MAX_FEATURES inputs or an adapter of rank above LORA_MAX_RANK is
# refused before any product), so no sum can wrap:
INT8_PRODUCT = 128 * 128  # the largest |int8 x int8|
MULT_MAX = 1 << (MULT_BITS - 1)  # the largest |signed(16)|
LORA_H_BITS = signed_bits(LORA_MAX_FEATURES * INT8_PRODUCT)  # h = A x: 25
LORA_D_BITS = signed_bits(LORA_MAX_RANK * INT8_PRODUCT)  # d = B q: 20
LORA_ACC_BITS = signed_bits((1 << (ACC_BITS - 1)) * MULT_MAX  # p * out_mult
                            + LORA_SLOTS * LORA_MAX_RANK * INT8_PRODUCT * MULT_MAX)  # 48


class Activation(enum.Enum, shape=2):
    IDENTITY = 0
    RELU = 1
    LUT = 2  # y = lut[y + 128]: GELU and any other int8 -> int8 function
    # y as IDENTITY, the input current of a layer of leaky integrate-and-fire neurons that
    # the sequencer updates instead of writing y (issue 21; contract/neuron.py); `lut`
    # holds the SRAM word of its NeuronLayer descriptor
    LIF = 3


# The act field's codes that name an Activation; the LoRA unit refuses any other as
# LORA_SHAPE (since LIF the 2-bit field has none left).
ACTIVATION_CODES = tuple(a.value for a in Activation)
LUT_ENTRIES = 256  # an int8 -> int8 table: one int8 entry per int8 value


class LoraLayer(data.Struct):
    n_in: unsigned(10)  # 1..LORA_MAX_FEATURES
    n_out: unsigned(10)
    out_mult: signed(MULT_BITS)  # multiplier of the analogue partial sums p
    out_shift: unsigned(6)
    act: Activation
    lut: unsigned(16)  # SRAM word address of the LUT (act = LUT) or NeuronLayer (act = LIF)
    entry0: unsigned(16)  # SRAM word address of slot 0's adapter entry, 0 = none
    entry1: unsigned(16)
    entry2: unsigned(16)
    entry3: unsigned(16)


class AdapterEntry(data.Struct):
    rank: unsigned(5)  # 1..LORA_MAX_RANK
    a_addr: unsigned(16)  # SRAM word address of A (r x n, rows word-aligned)
    b_addr: unsigned(16)  # SRAM word address of B (m x r, rows word-aligned)
    q_mult: signed(MULT_BITS)  # requantisation of h = A x to int8
    q_shift: unsigned(6)
    scale_mult: signed(MULT_BITS)  # multiplier of d = B q (alpha/r and the scales folded in)


LORA_DESC_BITS = 128  # a layer descriptor and an adapter entry each take 128 bits


def round_half_up_shift(value: int, shift: int) -> int:
    """floor(value / 2**shift + 1/2) for Python ints (the golden model's rounding)."""
    return (value + (1 << (shift - 1))) >> shift if shift else value
