"""Run a compiled network: the host steps here, the segments by any runner (the
chip through the runtime, or `ideal_segment_runner`, its exact integer reference)."""

from collections.abc import Callable

import numpy as np

from rmlora.sw.compiler.compiled import CompiledModel, Segment
from rmlora.sw.compiler.steps import INPUT, ChipStep
from rmlora.sw.golden.lora import lora_layer

from .refusals import ChipRefused

__all__ = ["run_network", "dequantize_logits", "ideal_segment_runner", "SegmentRunner"]

SegmentRunner = Callable[[Segment, np.ndarray], np.ndarray]


def run_network(compiled: CompiledModel, inputs, run_segment: SegmentRunner) -> np.ndarray:
    """int8 logits (B, n_out) of float inputs: images (B, 16, 16) for a FaceMixer,
    vectors (B, n_in) for an MLP. run_segment(segment, x (B, vectors, n_in) int8)
    returns (B, output vectors, n_out) int8. Inputs that are not a non-empty batch of
    finite numbers are refused (ChipRefused) before any segment runs: NaN would
    quantize to an arbitrary int8 code."""
    env = {INPUT: _checked_inputs(inputs)}
    for step in compiled.steps:
        if not isinstance(step, ChipStep):
            step.apply(env)
            continue
        segment = compiled.segments[step.segment]
        x = env[step.src]
        if x.shape[1:] != (len(segment.inputs), segment.n_in):
            raise ChipRefused(f"segment {segment.name!r} takes (B, {len(segment.inputs)}, "
                              f"{segment.n_in}), got {x.shape}: give inputs of the shape "
                              f"the network was compiled for")
        y = np.asarray(run_segment(segment, x.astype(np.int8)))
        if y.shape != (x.shape[0], len(segment.outputs), segment.n_out):
            raise ValueError(f"segment {segment.name!r} returned {y.shape}")
        env[step.dst] = y.astype(np.int8)
    return env["x"].reshape(env["x"].shape[0], -1)


def _checked_inputs(inputs) -> np.ndarray:
    try:
        x = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ChipRefused(f"inputs must be an array of numbers: {err}") from None
    if x.ndim < 2 or len(x) == 0:
        raise ChipRefused(f"inputs shape {x.shape}: expected a batch (B >= 1, features...)")
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ChipRefused(f"inputs hold {int(bad.sum())} NaN or infinite values (the first "
                          f"at index {first}, in input {first[0]}): drop or repair those "
                          f"inputs; the chip takes finite values only")
    return x


def dequantize_logits(compiled: CompiledModel, y: np.ndarray) -> np.ndarray:
    return np.asarray(y, dtype=np.float64) * compiled.output_scale


def ideal_segment_runner(compiled: CompiledModel, enabled: int | None = None) -> SegmentRunner:
    """Each record computed exactly: p = x @ W_q.T (no analogue error), then the LoRA
    unit's golden model with the slots of `enabled` (default: all compiled adapters).
    Vectors move through their SRAM addresses, so the records' wiring is exercised."""
    layers = {layer.name: layer for layer in compiled.layers}
    mask = compiled.all_slots if enabled is None else enabled

    def run(segment: Segment, x: np.ndarray) -> np.ndarray:
        vectors = {addr: x[:, v] for v, addr in enumerate(segment.inputs)}
        for rec in segment.records:
            layer = layers[rec.layer]
            for src, dst in zip(rec.srcs(), rec.dsts(), strict=True):
                x_in = vectors[src]
                p = x_in.astype(np.int64) @ layer.w_q.T.astype(np.int64)
                vectors[dst] = lora_layer(x_in, p, layer.layer, layer.adapters, mask)
        return np.stack([vectors[addr] for addr in segment.outputs], axis=1)

    return run
