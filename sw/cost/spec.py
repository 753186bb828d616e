"""What the analytic cost model is given: a network as layer passes, its adapters as
PEFT configures them, and the statistics of the activity that depends on the data.

    net = NetworkSpec(name, segments=((LayerPass("fc1", 768, 3072, vectors=64), ...), ...))
    adapters = [AdapterSpec("lora", 4, 8.0, ("fc1", "fc2"))]
    net = spec_from_torch(model, example)        # or read off a PyTorch model

A network is what the chip runs per inference: segments (one layer program each, a
START apart: the adapter cache is flushed between them) of layer passes (one SeqLayer
record each: a weight matrix over ``vectors`` input vectors). Every field is checked
when a spec is made, and a refusal names the field and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from rmlora.contract.xbar import INPUT_BITS, READS_PER_PLANE
from rmlora.sw.lora.model import matches_target
from rmlora.sw.lora.spec import AdapterSpec

__all__ = ["ActivityStats", "DEFAULT_ACTIVITY", "LayerPass", "AdapterSpec", "NetworkSpec",
           "spec_from_torch"]


def _positive_int(where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}={value!r}: must be an integer >= 1")
    return value


def _fraction(where: str, value) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{where}={value!r}: must be in [0, 1]")
    return value


@dataclass(frozen=True)
class ActivityStats:
    """The data-dependent part of the macros' activity, per scheduled bit plane.

    converted: the fraction of scheduled planes that drive a row and are converted (the
    rest are empty: no conversion, no ADC energy, the time slot kept); row_density: rows
    driven per scheduled plane and row of its tile (at most ``converted``)."""

    converted: float
    row_density: float
    source: str = "assumed"

    def __post_init__(self):
        _fraction("converted", self.converted)
        _fraction("row_density", self.row_density)
        if self.row_density > self.converted:
            raise ValueError(f"row_density={self.row_density}: a row is driven only on a "
                             f"converted plane, so at most converted={self.converted}")

    @classmethod
    def binary(cls, rate: float, rows: int) -> ActivityStats:
        """Binary (spike) inputs with this mean rate on a tile of ``rows`` rows: the input
        code 0 or 1 sets bit 0 only, so plane 0 drives the rows that spiked and the other
        INPUT_BITS - 1 planes are always empty (gated)."""
        _fraction("spike rate", rate)
        return cls((1.0 - (1.0 - rate) ** rows) / INPUT_BITS, rate / INPUT_BITS,
                   f"binary inputs, spike rate {rate:g}")

    @classmethod
    def measured(cls, activity: dict, counts: dict, source: str) -> ActivityStats:
        """The stats of a run: its macros' counters (``activity``: adc_conversions,
        adc_skipped, row_activations per input) over the schedule (``counts``:
        inference_counts). The converted fraction is taken over conversions, which the
        energy counts (over planes it differs a little where layers differ in width)."""
        scheduled = activity["adc_conversions"] + activity["adc_skipped"]
        return cls(activity["adc_conversions"] / scheduled,
                   activity["row_activations"] / counts["plane_rows"], source)


# Measured by `rmlora cost face|speaker|diffusion` (2026-12-01, 2-core AMD EPYC, defaults,
# seed 0, all adapters on, per test input): the converted fraction of the scheduled
# conversions, face 0.806, speaker 0.837, diffusion 0.856, and the row density, 0.273,
# 0.230, 0.237; their means here (calibration.measured_stats of each run).
DEFAULT_ACTIVITY = ActivityStats(0.833, 0.247, "mean of the face, speaker and diffusion "
                                 "flows' measured planes and rows (defaults, seed 0)")


@dataclass(frozen=True)
class LayerPass:
    """One record: weight matrix ``layer`` (n_in inputs on the crossbar's rows, n_out
    outputs) over ``vectors`` input vectors. lut: a LUT activation (the LoRA unit reads
    its 256-entry table); spike_rate: binary inputs at this rate (None: int8 inputs, the
    network's ActivityStats); host_macs: products of activations with activations after
    it (attention scores, neuron updates), which no crossbar holds: both chips compute
    them as int8 MACs (the same cost on both: it narrows the fold, and is never left out).
    reads: conversions per input bit plane (the crossbar descriptor's 2**reads_log2: 1,
    2, 4 or 8), each costing a plane's time and ADC and read energy."""

    layer: str
    n_in: int
    n_out: int
    vectors: int = 1
    lut: bool = False
    spike_rate: float | None = None
    host_macs: int = 0
    reads: int = 1

    def __post_init__(self):
        for name in ("n_in", "n_out", "vectors", "reads"):
            _positive_int(f"{self.layer}.{name}", getattr(self, name))
        if self.reads not in READS_PER_PLANE:
            raise ValueError(f"{self.layer}.reads={self.reads}: must be one of "
                             f"{READS_PER_PLANE} (2**reads_log2)")
        if self.spike_rate is not None:
            _fraction(f"{self.layer}.spike_rate", self.spike_rate)
        if self.host_macs < 0:
            raise ValueError(f"{self.layer}.host_macs={self.host_macs}: must be >= 0")

    @property
    def weights(self) -> int:
        return self.n_in * self.n_out


@dataclass(frozen=True)
class NetworkSpec:
    """What the chip runs per inference: segments of layer passes, and the statistics
    of the data-dependent activity (``activity``)."""

    name: str
    segments: tuple[tuple[LayerPass, ...], ...]
    activity: ActivityStats = DEFAULT_ACTIVITY
    note: str = ""

    def __post_init__(self):
        if not self.segments or not all(self.segments):
            raise ValueError(f"{self.name}: a network needs segments of layer passes")
        shapes: dict[str, tuple[int, int]] = {}
        for lp in self.passes():
            if shapes.setdefault(lp.layer, (lp.n_in, lp.n_out)) != (lp.n_in, lp.n_out):
                raise ValueError(f"{self.name}: layer {lp.layer!r} appears with shapes "
                                 f"{shapes[lp.layer]} and {(lp.n_in, lp.n_out)}")

    def passes(self):
        return (lp for segment in self.segments for lp in segment)

    def shapes(self) -> dict[str, tuple[int, int]]:
        """Layer -> (n_in, n_out), in first-use order."""
        return {lp.layer: (lp.n_in, lp.n_out) for lp in self.passes()}

    @property
    def weights(self) -> int:
        return sum(n * m for n, m in self.shapes().values())

    @property
    def host_macs(self) -> int:
        return sum(lp.host_macs for lp in self.passes())

    def ranks(self, adapters: list[AdapterSpec]) -> dict[str, list[int]]:
        """Layer -> the ranks of the adapters on it (in the adapters' order); refuses an
        adapter that targets no layer or whose rank exceeds both of a layer's dimensions
        (a rank above one of them is legal, if wasteful: the speaker task's adapters of
        rank 8 sit on its 32 -> 6 head, as published)."""
        shapes, out = self.shapes(), {}
        for ad in adapters:
            hit = [name for name in shapes if matches_target(name, ad.target_modules)]
            if not hit:
                raise ValueError(f"adapter {ad.name!r}: target_modules {ad.target_modules!r} "
                                 f"match no layer of {self.name} ({', '.join(shapes)})")
            for name in hit:
                if ad.r > max(shapes[name]):
                    raise ValueError(f"adapter {ad.name!r}: rank {ad.r} exceeds layer "
                                     f"{name!r}'s dimensions {shapes[name]}")
                out.setdefault(name, []).append(ad.r)
        return out


def spec_from_torch(model, example, name: str = "torch") -> NetworkSpec:
    """A PyTorch model's network spec from one forward pass of one sample (``example``,
    a batch whose first sample is used): every ``nn.Linear`` call a layer pass over the
    rows it saw, in execution order, each its own segment (the host's steps between
    them are not known). LoRA branches (lora_A, lora_B) are left out, and a wrapped
    layer goes by its own name, not ".base_layer": give the adapters as AdapterSpecs.
    Products of activations with activations (attention) are not seen by the hooks:
    add them as a pass's host_macs."""
    from rmlora.sw.models.trace import trace_linear

    passes: list[LayerPass] = []

    def on_call(layer: str, module, rows: int) -> None:
        if ".lora_" not in layer:
            passes.append(LayerPass(layer.removesuffix(".base_layer"), module.in_features,
                                    module.out_features, rows))

    trace_linear(model, example, on_call)
    return NetworkSpec(name, tuple((lp,) for lp in passes))
