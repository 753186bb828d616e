"""Golden model of the digital LoRA unit (rmlora.contract.lora), bit-exact with
hw/lora_unit.py: small batched numpy functions named after the hardware steps,
the checks the RTL makes, and the unit's exact cycle count. The host-side formats
(Adapter, Layer and their packing) are rmlora.sw.formats.lora.
"""


import numpy as np

from rmlora.contract import ChipParams, ErrorCode, timing
from rmlora.contract.lora import (
    ACTIVATION_CODES,
    LORA_DESC_BITS,
    LORA_MAX_FEATURES,
    LORA_MAX_RANK,
    LORA_SLOTS,
    LUT_ENTRIES,
    Activation,
    AdapterEntry,
    LoraLayer,
)
from rmlora.contract.packing import unpack_fields
from rmlora.sw.formats.lora import Adapter, Layer, adapter_words

__all__ = ["requantize", "activate", "lora_layer", "cycles", "tail_left", "macs", "read_layer",
           "pass_words", "caches", "sram_reads", "cache_reads"]


def requantize(acc: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """clamp(round_half_up(acc * mult / 2**shift), -128, 127) as int8 (exact int64)."""
    v = np.asarray(acc, dtype=np.int64) * np.int64(mult)
    if shift:
        v = (v + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)
    return np.clip(v, -128, 127).astype(np.int8)


def activate(y: np.ndarray, act: Activation, lut: np.ndarray | None = None) -> np.ndarray:
    """The activation of the unit's requantised output; a LIF layer's output is its
    neurons' input current, y as IDENTITY (the sequencer updates the neurons)."""
    if act in (Activation.IDENTITY, Activation.LIF):
        return y
    if act is Activation.RELU:
        return np.maximum(y, 0).astype(np.int8)
    return np.asarray(lut, dtype=np.int8)[y.astype(np.int64) + 128]


def lora_layer(x: np.ndarray, p: np.ndarray, layer: Layer, adapters: dict[int, Adapter],
               enabled: int) -> np.ndarray:
    """y (B, m) int8 for inputs x (B, n) int8 and partial sums p (B, m) int32; adapters
    maps slot -> Adapter for this layer, `enabled` is the LORA_ENABLE bit mask."""
    # int8 products summed over <= LORA_MAX_FEATURES terms stay below 2**53: float64
    # matrix products (BLAS) are exact here, and much faster than int64 ones
    xf = np.asarray(x, dtype=np.float64)
    acc = np.asarray(p, dtype=np.int64) * np.int64(layer.out_mult)
    for slot in sorted(adapters):
        if enabled >> slot & 1:
            ad = adapters[slot]
            h = (xf @ ad.a.T.astype(np.float64)).astype(np.int64)
            q = requantize(h, ad.q_mult, ad.q_shift)
            d = (q.astype(np.float64) @ ad.b.T.astype(np.float64)).astype(np.int64)
            acc += d * np.int64(ad.scale_mult)
    return activate(requantize(acc, 1, layer.out_shift), layer.act, layer.lut)


def macs(layer: Layer, ranks: list[int]) -> int:
    """Multiply-accumulates of the adapter branch (r n + m r per enabled adapter)."""
    return sum(r * layer.n_in + layer.n_out * r for r in ranks)


def pass_words(layer: Layer, ranks: list[int], params: ChipParams) -> int:
    """SRAM words of one pass over the enabled adapters' A and B (rows word-aligned)."""
    return sum(sum(adapter_words(layer.n_in, layer.n_out, r, params.sram_word_bytes))
               for r in ranks)


def caches(layer: Layer, ranks: list[int], params: ChipParams) -> bool:
    """A completed run of this layer leaves the adapter cache valid for the next run."""
    return bool(params.lora_cache_words) and pass_words(layer, ranks, params) <= \
        params.lora_cache_words


def _fetch_words(layer: Layer, ranks: list[int], params: ChipParams) -> int:
    """The descriptor, the enabled entries and the LUT (LUT activation)."""
    lut = LUT_ENTRIES // params.sram_word_bytes if layer.act is Activation.LUT else 0
    return params.words_for(LORA_DESC_BITS) * (1 + len(ranks)) + lut


def sram_reads(layer: Layer, ranks: list[int], params: ChipParams, hit: bool = False) -> int:
    """PERF_SRAM_READS of one run: none on a cache hit; else the fetches and one pass."""
    return 0 if hit else _fetch_words(layer, ranks, params) + pass_words(layer, ranks, params)


def cache_reads(layer: Layer, ranks: list[int], params: ChipParams, hit: bool = False) -> int:
    """PERF_CACHE_READS of one run: one pass over A and B on a hit."""
    return pass_words(layer, ranks, params) if hit else 0


def tail_left(gap: int) -> int:
    """Cycles the last run's words still spend in the unit's pipeline when the next START
    comes `gap` cycles after its busy fell (0: in the first cycle the unit takes one)."""
    return max(0, timing.LORA_TAIL_CYCLES - gap)


def cycles(layer: Layer, ranks: list[int], params: ChipParams, hit: bool = False,
           tail: int = 0) -> int:
    """Busy cycles of one layer on the RTL when x and p are always valid and y always
    ready: from its START to the cycle the unit takes the next START, the B phase's last
    issue (its last outputs leave after, overlapping the next run: done rises
    timing.LORA_DONE_LAG_CYCLES after busy falls). A miss first waits for the last run's
    words still in the pipeline (`tail`, tail_left: SETTLE); then the descriptor and
    entry fetches (words + 1 each), a cycle per entry to pick the next slot and one more
    to see none is left, the check (its products registered a cycle first), the LUT load
    (a cache hit skips all of these), x (one cycle per word: X_IN; under the A phase on a
    hit with adapters), the A phase (words + 1 and the pipeline's drain,
    LORA_A_DRAIN_CYCLES, with adapters: a cycle less than its LORA_PIPE_STAGES, for the B
    phase's first word is issued as the last q is written and reads it through the q
    memory's bypass; so the operand stage added for issue 25 costs a run no cycle) and
    the B phase (one cycle per word of every adapter's B row, at least one per output).
    The stage does lengthen what comes after busy falls by a cycle: the tail a miss waits
    for (tail_left, LORA_TAIL_CYCLES) and done's lag (LORA_DONE_LAG_CYCLES)."""
    wb = params.sram_word_bytes
    dw = params.words_for(LORA_DESC_BITS)
    n_w = -(-layer.n_in // wb)
    total = 0
    if not hit:
        total += (tail + timing.fetch_cycles(dw) * (1 + len(ranks))
                  + timing.LORA_NEXT_ENTRY_CYCLES * (len(ranks) + 1)
                  + timing.LORA_CHECK_PRODUCTS_CYCLES + timing.CHECK_CYCLES)
        if layer.act is Activation.LUT:
            total += timing.fetch_cycles(LUT_ENTRIES // wb)
    if not (hit and ranks):  # on a hit with adapters x streams in under the A phase
        total += n_w * timing.LORA_X_CYCLES_PER_WORD
    if ranks:
        total += (timing.stream_read_cycles(sum(r * n_w for r in ranks))
                  + timing.LORA_A_DRAIN_CYCLES)
    return total + layer.n_out * max(1, sum(-(-r // wb) for r in ranks))


def _words(mem: bytes, word: int, n_words: int, wb: int) -> bytes:
    return mem[word * wb:(word + n_words) * wb]


def _rows(mem: bytes, word: int, n_rows: int, n_cols: int, wb: int) -> np.ndarray:
    """int8 rows stored word-aligned from `word` on (pack_rows' layout)."""
    stride = -(-n_cols // wb) * wb
    raw = np.frombuffer(_words(mem, word, n_rows * stride // wb, wb), dtype=np.int8)
    return raw.reshape(n_rows, stride)[:, :n_cols].copy()


def read_layer(mem: bytes, addr: int, enabled: int, params: ChipParams
               ) -> tuple[ErrorCode, Layer | None, dict[int, Adapter]]:
    """Decode the layer at SRAM word `addr` of the memory image `mem` as the unit does:
    the descriptor, then the enabled slots' entries (lowest slot first), then the
    checks, in the RTL's order. Returns (code, layer, slot -> adapter); a refused
    layer gives its ErrorCode and no layer."""
    depth, wb = params.sram_depth, params.sram_word_bytes
    dw = params.words_for(LORA_DESC_BITS)
    if addr + dw > depth:
        return ErrorCode.LORA_SRAM_RANGE, None, {}
    f = unpack_fields(LoraLayer, int.from_bytes(_words(mem, addr, dw, wb), "little"))
    entries = {}
    for slot in range(LORA_SLOTS):
        e_addr = f[f"entry{slot}"]
        if not (enabled >> slot & 1) or e_addr == 0:
            continue
        if e_addr + dw > depth:
            return ErrorCode.LORA_SRAM_RANGE, None, {}
        entries[slot] = unpack_fields(AdapterEntry,
                                      int.from_bytes(_words(mem, e_addr, dw, wb), "little"))
    n_in, n_out = f["n_in"], f["n_out"]
    if (not (1 <= n_in <= LORA_MAX_FEATURES and 1 <= n_out <= LORA_MAX_FEATURES)
            or f["act"] not in ACTIVATION_CODES):
        return ErrorCode.LORA_SHAPE, None, {}
    if any(e["rank"] == 0 for e in entries.values()):
        return ErrorCode.LORA_RANK_ZERO, None, {}
    if any(e["rank"] > LORA_MAX_RANK for e in entries.values()):
        return ErrorCode.LORA_RANK_MAX, None, {}
    act = Activation(f["act"])
    sizes = {slot: adapter_words(n_in, n_out, e["rank"], wb) for slot, e in entries.items()}
    if (any(e["a_addr"] + sizes[slot][0] > depth or e["b_addr"] + sizes[slot][1] > depth
            for slot, e in entries.items())
            or (act is Activation.LUT and f["lut"] + LUT_ENTRIES // wb > depth)):
        return ErrorCode.LORA_SRAM_RANGE, None, {}
    lut = (np.frombuffer(_words(mem, f["lut"], LUT_ENTRIES // wb, wb), dtype=np.int8).copy()
           if act is Activation.LUT else None)
    layer = Layer(n_in, n_out, f["out_mult"], f["out_shift"], act, lut,
                  f["lut"] if act is Activation.LIF else 0)
    adapters = {slot: Adapter(_rows(mem, e["a_addr"], e["rank"], n_in, wb),
                              _rows(mem, e["b_addr"], n_out, e["rank"], wb),
                              e["q_mult"], e["q_shift"], e["scale_mult"])
                for slot, e in entries.items()}
    return ErrorCode.NONE, layer, adapters
