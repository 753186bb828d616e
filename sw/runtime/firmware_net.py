"""A compiled network packed for the firmware example (firmware/examples/rmlora_net.c).

The firmware runs the network's segments on the chip and its host steps in C, from
a blob of 32-bit words this module packs from a CompiledModel: every SRAM address,
every host-step constant. The float input step (QuantizeInput: cut an image into
patches, quantize) stays on the host, as an input DMA would do it; the firmware
starts from its int8 tensor. `trace_keys` says which record output each stretch of
the firmware's trace is, so it can be compared with the Python runtime's byte for
byte.
"""

import struct
from dataclasses import dataclass

import numpy as np

from rmlora.contract.net_blob import (
    NET_MAGIC,
    NET_MAX_FEATURES,
    NET_MAX_TENSORS,
    NET_RMSNORM_MAX_SHIFT,
    NET_VERSION,
    NetOp,
)
from rmlora.sw.compiler import CompiledModel
from rmlora.sw.compiler.steps import (
    INPUT,
    AddStep,
    ChipStep,
    MeanStep,
    QuantizeInput,
    RmsNormStep,
    TransposeStep,
)

from .chip import Chip
from .firmware_chip import FirmwareChip
from .infer import run_recorded

__all__ = ["NetBlob", "pack_network", "quantized_inputs", "python_runs", "run_example"]


@dataclass(frozen=True)
class NetBlob:
    blob: bytes
    input_shape: tuple[int, int]  # (vectors, features) of the int8 input tensor
    output_bytes: int  # of one run's output tensor
    trace_keys: list[tuple[int, str, int, int]]  # (chip step, layer, vector, bytes) in order
    arena_bytes: int  # the working memory the firmware needs

    @property
    def trace_bytes(self) -> int:
        return sum(k[3] for k in self.trace_keys)


def _i64(value: int) -> list[int]:
    value = int(value)
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"constant {value} does not fit 64 bits")
    return [value & 0xFFFF_FFFF, (value >> 32) & 0xFFFF_FFFF]


def pack_network(compiled: CompiledModel) -> NetBlob:
    """The network after its input step, as the firmware example reads it."""
    first, *steps = compiled.steps
    if not isinstance(first, QuantizeInput):
        raise ValueError(f"the network starts with {type(first).__name__}, not QuantizeInput")
    names: dict[str, int] = {}

    def tid(name: str) -> int:
        if name not in names:
            if len(names) == NET_MAX_TENSORS:
                raise ValueError(f"the firmware holds at most {NET_MAX_TENSORS} tensors")
            names[name] = len(names)
        return names[name]

    wb = compiled.params.sram_word_bytes
    input_id = tid(first.dst)
    input_shape, slot, trace, body = None, 0, [], []
    for k, step in enumerate(steps):
        if isinstance(step, ChipStep):
            seg = compiled.segments[step.segment]
            if step.src == first.dst and input_shape is None:
                input_shape = (len(seg.inputs), seg.n_in)
            # every record output, read back after the run: the firmware's trace
            reads = [(dst, r.n_out) for r in seg.records for dst in r.dsts()]
            trace += [(k, r.layer, v, r.n_out) for r in seg.records
                      for v, _ in enumerate(r.dsts())]
            words = [tid(step.src), tid(step.dst), seg.program, seg.n_in, seg.n_out,
                     len(seg.inputs), len(seg.outputs), len(reads), *seg.inputs,
                     *seg.outputs, *[w for pair in reads for w in pair]]
            slot = max(slot, len(seg.inputs) * seg.n_in, len(seg.outputs) * seg.n_out,
                       -(-seg.n_in // wb) * wb)
            body.append((NetOp.CHIP.value, words))
        elif isinstance(step, RmsNormStep):
            gamma = np.asarray(step.q.gamma_mult, dtype=np.int64)
            if len(gamma) > NET_MAX_FEATURES or step.q.shift > NET_RMSNORM_MAX_SHIFT:
                raise ValueError(f"RMS norm wider than the firmware's vectors or shift > "
                                 f"{NET_RMSNORM_MAX_SHIFT}")
            body.append((NetOp.RMSNORM.value, [tid(step.src), tid(step.dst), step.q.shift,
                                         *_i64(step.q.eps_fixed), len(gamma),
                                         *[w for g in gamma for w in _i64(g)]]))
        elif isinstance(step, TransposeStep):
            body.append((NetOp.TRANSPOSE.value, [tid(step.src), tid(step.dst)]))
        elif isinstance(step, AddStep):
            body.append((NetOp.ADD.value, [tid(step.a), tid(step.b), tid(step.dst),
                                     *_i64(step.q.mult_a), *_i64(step.q.mult_b), step.q.shift]))
        elif isinstance(step, MeanStep):
            body.append((NetOp.MEAN.value, [tid(step.src), tid(step.dst), *_i64(step.q.mult),
                                      step.q.shift]))
        else:
            raise ValueError(f"the firmware example has no host step {type(step).__name__}")
    if input_shape is None:
        raise ValueError("no chip step reads the network's input")
    last = steps[-1] if steps else None
    if not (isinstance(last, ChipStep) and last.dst == "x"):
        raise ValueError("the network must end with a chip segment writing its output 'x'")
    out_id, out_segment = tid("x"), compiled.segments[last.segment]
    words = [NET_MAGIC, NET_VERSION, len(names), len(body), input_id, out_id, *input_shape]
    for op, operands in body:
        words += [op, len(operands), *operands]
    slot = max(slot, input_shape[0] * input_shape[1])
    return NetBlob(struct.pack(f"<{len(words)}I", *words), input_shape,
                   len(out_segment.outputs) * out_segment.n_out, trace,
                   (len(names) + 1) * slot)


def quantized_inputs(compiled: CompiledModel, inputs) -> np.ndarray:
    """The host's input step: float inputs to the int8 tensors the firmware starts from
    (B, vectors, features)."""
    env = {INPUT: np.asarray(inputs, dtype=np.float64)}
    step = compiled.steps[0]
    step.apply(env)
    return np.ascontiguousarray(env[step.dst], dtype=np.int8)


def python_runs(chip, compiled: CompiledModel, inputs) -> tuple[list[bytes], list[bytes]]:
    """What the Python runtime gives for the same inputs on `chip`, per input: its
    output tensor and its trace, in the firmware's order (chip step, record, vector).
    One input at a time, as the firmware runs them: the macros' noise is indexed by
    their operation count, so a batch (segment by segment) would draw other noise."""
    outputs, traces = [], []
    for x in np.asarray(inputs):
        logits, runs = run_recorded(chip, compiled, x[None])
        outputs.append(logits[0].astype(np.int8).tobytes())
        traces.append(b"".join(out[0].tobytes() for run in runs
                               for out in run.outputs.values()))
    return outputs, traces


def run_example(compiled: CompiledModel, inputs, adapter_sets: list[list[str]], forget: str,
                backend: str = "golden", seed: int = 0) -> dict:
    """The firmware example against the Python runtime: one chip runs
    rmlora_unlearn_demo (load, every set on every input, delete `forget`, every set again
    without it), a twin chip of the same seed the same calls from Python; every output
    tensor and every record output compared with ==."""
    net = pack_network(compiled)
    x_q = quantized_inputs(compiled, inputs)
    slots = compiled.adapter_slots
    masks = [sum(1 << slots[a] for a in names) for names in adapter_sets]
    fw_chip, py_chip = FirmwareChip(backend=backend, seed=seed), Chip(seed=seed)
    try:
        for chip in (fw_chip, py_chip):
            chip.deploy(compiled.plan)
        outputs, trace, words = fw_chip.fw.unlearn_demo(
            compiled.image, net.blob, x_q.tobytes(), x_q[0].size, masks, slots[forget],
            net.output_bytes, net.trace_bytes, net.arena_bytes)
        want_out, want_trace = [], []
        py_chip.load(compiled.image, names=slots)
        for phase in (0, 1):
            if phase:
                py_words = py_chip.delete_adapter(forget)
            for names in adapter_sets:
                py_chip.enable([a for a in names if not (phase and a == forget)])
                out, tr = python_runs(py_chip, compiled, inputs)
                want_out += out
                want_trace += tr
    finally:
        fw_chip.close()
    runs = len(want_out)
    return {
        "backend": backend,
        "runs": runs,
        "outputs_equal": outputs == b"".join(want_out),
        "traces_equal": trace == b"".join(want_trace),
        "record_outputs_compared": runs * len(net.trace_keys),
        "words_zeroed": words,
        "words_zeroed_equal": words == py_words,
        "net_bytes": len(net.blob),
    }
