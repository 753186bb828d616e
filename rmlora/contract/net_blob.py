"""The network blob of the firmware example (firmware/examples/rmlora_net.c): a compiled
network's chip segments and host steps as 32-bit words, packed by the host
(rmlora.sw.runtime.firmware_net) and read by the C runner. Defined here once; the C
header carries it as RMLORA_NET_*.

    magic, version, n_tensors, n_steps, input tensor, output tensor, the input's vectors
    and features, then n_steps steps, each: op (NetOp), n_words, its n_words operand
    words (layouts at NetOp; 64-bit constants as two words, low first)
"""

from amaranth.lib import enum

from .lora import LORA_MAX_FEATURES

__all__ = ["NET_MAGIC", "NET_VERSION", "NET_MAX_TENSORS", "NET_MAX_FEATURES",
           "NET_RMSNORM_MAX_SHIFT", "NET_MAX_SHIFT", "NetOp"]

NET_MAGIC = 0x4E4C4D52  # ASCII "RMLN", little-endian
NET_VERSION = 1
NET_MAX_TENSORS = 8  # tensors a network names (the runner's arena has a slot each)
NET_MAX_FEATURES = LORA_MAX_FEATURES  # the widest vector a host step takes
NET_RMSNORM_MAX_SHIFT = 40  # rms << shift stays inside int64 (rms < 2**16)
NET_MAX_SHIFT = 62  # the add's and the mean's rounding constant 2**(shift-1) fits int64


class NetOp(enum.Enum, shape=32):
    # src, dst, program word, n_in, n_out, n_inputs, n_outputs, n_reads, then n_inputs
    # input words, n_outputs output words, and n_reads (word, bytes) pairs: every record
    # output the run reads back (the trace), the outputs among them
    CHIP = 1
    RMSNORM = 2  # src, dst, shift, eps_fixed (lo, hi), channels, gamma_mult (lo, hi) each
    TRANSPOSE = 3  # src, dst (vectors and features swap)
    ADD = 4  # a, b, dst, mult_a (lo, hi), mult_b (lo, hi), shift
    MEAN = 5  # src, dst, mult (lo, hi), shift (mean over the vectors, kept as one vector)
