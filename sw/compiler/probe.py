"""A diagnostic layer program that reads the analogue weights back through the MVM path.

The chip has no cell-read instruction for the host (VERIFY belongs to the crossbar
controller's write-verify), but its MVM can read a column of weights: drive one row
with input +1 or -1 (one bit plane), convert at ADC gain shift 0 (one LSB per weight
unit) and pass the partial sums through an identity layer (out_mult 1, shift 0), so
the output byte is the ADC code, rint(w_eff + read noise), clipped to int8. The
probe program reuses every layer's placement, so it sees the very cells the network
uses, with programming error, drift and stuck cells, at any time after deployment.

Loading it replaces the network's SRAM image (the crossbars are untouched); the
caller reloads the network's image afterwards.
"""

from dataclasses import dataclass

import numpy as np

from rmlora.contract.lora import Activation
from rmlora.sw.formats.lora import Layer

from .compiled import ChipLayer, CompiledModel, Segment
from .layout import lay_out
from .spec import SegmentSpec

__all__ = ["ProbeProgram", "probe_program", "probe_inputs", "probe_runs", "probe_outputs",
           "weights_from_probe"]


@dataclass(frozen=True)
class ProbeProgram:
    """Per chip layer, an SRAM image holding its probe segment and that segment: a
    layer pass of up to n_in vectors, vector i reading the column of row i. One image
    per layer: all of a wide network's probe records at once need not fit the SRAM
    (the denoiser's: 11,417 words of 8,192); a layer whose n_in vectors do not fit
    either (the LSM reservoir's 416: 34,954 words) gets fewer, and is probed in as
    many runs (``probe_runs``)."""

    images: dict[str, bytes]
    segments: dict[str, Segment]


def probe_program(compiled: CompiledModel) -> ProbeProgram:
    """One segment per chip layer, of as many of its n_in unit vectors as fit the SRAM."""
    images, segments = {}, {}
    for layer in compiled.layers:
        probe = ChipLayer(layer.name, layer.n_in, layer.n_out, layer.w_q, layer.placement, 0,
                          Layer(layer.n_in, layer.n_out, 1, 0, Activation.IDENTITY), {}, {})
        vectors = layer.n_in
        while True:
            try:
                sram = lay_out([probe], [SegmentSpec(layer.name, [layer.name], vectors)],
                               compiled.params, 0)
                break
            except ValueError:
                if vectors == 1:
                    raise
                vectors = -(-vectors // 2)
        images[layer.name], segments[layer.name] = sram.image, sram.segments[0]
    return ProbeProgram(images, segments)


def probe_runs(inputs: np.ndarray, vectors: int) -> np.ndarray:
    """probe_inputs' (repeats, n_in, n_in) as (runs, vectors, n_in) for a segment of
    ``vectors`` vectors: zero vectors pad the last run of each repeat."""
    repeats, n_in, _ = inputs.shape
    runs = -(-n_in // vectors)
    padded = np.zeros((repeats, runs * vectors, n_in), dtype=inputs.dtype)
    padded[:, :n_in] = inputs
    return padded.reshape(repeats * runs, vectors, n_in)


def probe_outputs(y: np.ndarray, repeats: int, n_in: int) -> np.ndarray:
    """probe_runs' outputs (runs, vectors, n_out) back as (repeats, n_in, n_out)."""
    return y.reshape(repeats, -1, y.shape[-1])[:, :n_in]


def probe_inputs(n_in: int, repeats: int) -> np.ndarray:
    """(repeats, n_in, n_in) int8: unit vectors, alternately +1 and -1 per repeat (the
    two row polarities; each conversion draws its own read noise)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    signs = np.where(np.arange(repeats) % 2 == 0, 1, -1).astype(np.int8)
    return signs[:, None, None] * np.eye(n_in, dtype=np.int8)[None]


def weights_from_probe(y: np.ndarray) -> np.ndarray:
    """The mean (n_out, n_in) weight read by ``probe_inputs`` outputs y (repeats, n_in,
    n_out), in weight units (the sign of each repeat undone)."""
    signs = np.where(np.arange(len(y)) % 2 == 0, 1.0, -1.0)
    return np.mean(signs[:, None, None] * y.astype(np.float64), axis=0).T
