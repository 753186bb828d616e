"""The host's API to an rmlora chip, whatever runs it:

    chip = Chip(backend="golden" | "verilator" | "icarus", seed=...)  # any name in BACKENDS
    chip.deploy(compiled.plan)                  # analogue weights, written once
    chip.load(compiled.image, names=compiled.adapter_slots)
    chip.enable(["forget"])                     # adapter slots the LoRA unit applies
    y, report = chip.run(segment, x)            # one layer program on a batch
    chip.delete_adapter("forget")               # zeroed in SRAM, read back

Every backend sees the same calls and the same bytes, so their outputs can be
compared with ==. A run of a batch is the program run once per input, in order.
`with Chip(...) as chip:` closes the backend (ends a cosimulation) on the way out.

A call the chip must not see is refused before anything is written, with a
ChipRefused (a ChipError) saying what to do: run() before deploy() or load(),
inputs of the wrong shape or type, enabling a slot the image holds no adapter for.
load() and deploy() check everything first, so a refused one changes nothing.
"""

from dataclasses import dataclass, field

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.image import SectionKind
from rmlora.contract.lora import LORA_DESC_BITS, LORA_SLOTS, Activation, LoraLayer
from rmlora.contract.macro import MacroConfig
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.sequencer import SEQ_STATS_BITS
from rmlora.contract.xbar import NOT_CONVERGED_FLAG
from rmlora.sw.formats.image import ImageSection, parse_image
from rmlora.sw.formats.records import LayerStats, read_stats

from . import golden_backend  # noqa: F401 - registers "golden", Chip's default backend
from .backend import Backend, RunResult, backend_spec
from .refusals import (
    ChipRefused,
    UnknownAdapter,
    adapter_slots,
    check_runnable,
    checked_names,
    checked_plan,
)

__all__ = ["Chip", "DeployReport", "SegmentRun"]


@dataclass
class DeployReport:
    blocks: int
    cells: int
    pulses: int
    verify_reads: int
    failed_cells: int
    cycles: int  # of the crossbar controller, as the RTL (or its golden model) counts them
    # cells by pulses used (index = pulses, 0..PULSE_COUNT_MAX), from the result bytes
    pulses_per_cell: list[int] = field(default_factory=lambda: [0] * (NOT_CONVERGED_FLAG))
    # (macro, row, col) of every cell write-verify gave up on (stuck or out of reach):
    # reported, so that the host can map around them (rmlora.sw.robust.compensate)
    failed_at: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class SegmentRun:
    """A layer program's run on a batch: every vector's output (B, n) by layer name and
    vector, each record's SeqStats (its layer pass) by layer name, and the run's PERF_*
    counters."""

    outputs: dict[tuple[str, int], np.ndarray]
    stats: dict[str, LayerStats]
    result: RunResult


class Chip:
    def __init__(self, params: ChipParams = ChipParams(), backend: str = "golden",
                 macro_config: MacroConfig | None = None, seed: int = 0):
        spec = backend_spec(backend)  # a ValueError naming the registered backends
        self.params = params
        self.backend: Backend = spec.factory(params, macro_config, seed)
        self.sections: list[ImageSection] = []
        self.names: dict[str, int] = {}
        self.enabled = 0
        self.deployed = False  # every block of a plan programmed: run() may convert

    # ---- analogue weights ----
    def deploy(self, plan, on_chip: bool = False, scratch_word: int | None = None
               ) -> DeployReport:
        """Write-verify every block of the plan [(PROGRAM descriptor, target codes)].
        on_chip (cosimulation): through the RTL's crossbar controller, targets staged at
        scratch_word; otherwise the golden model of that controller programs the macros."""
        if on_chip and scratch_word is None:
            raise ChipRefused("deploy(on_chip=True) needs a scratch_word for the targets")
        plan = checked_plan(plan, self.params, on_chip, scratch_word or 0)  # before any pulse
        self.deployed = False  # until every block is written
        report = DeployReport(0, 0, 0, 0, 0, 0)
        for desc, targets in plan:
            res = self.backend.program(desc, targets, on_chip, scratch_word or 0)
            report.blocks += 1
            report.cells += desc.n_rows * desc.n_cols
            report.pulses += res.counts["pulses"]
            report.verify_reads += res.counts["verify"]
            report.failed_cells += res.failed
            report.cycles += res.counts["cycles"]
            used = np.asarray(res.result, dtype=np.uint8).ravel() & (NOT_CONVERGED_FLAG - 1)
            for pulses, cells in enumerate(np.bincount(used, minlength=NOT_CONVERGED_FLAG)):
                report.pulses_per_cell[pulses] += int(cells)
            flags = np.asarray(res.result, dtype=np.uint8).reshape(desc.n_rows, desc.n_cols)
            for r, c in zip(*np.nonzero(flags & NOT_CONVERGED_FLAG), strict=True):
                report.failed_at.append((desc.macro, desc.row0 + int(r), desc.col0 + int(c)))
        self.deployed = True
        return report

    # ---- SRAM image ----
    def load(self, image: bytes, names: dict[str, int] | None = None):
        """Check the whole image (format, CRC, layout) and the adapter names against its
        slots, then zero the adapters of the image loaded before (a replaced adapter
        must not linger in the buffer) and write the new sections."""
        sections = parse_image(image, self.params)  # raises before anything is written
        names = checked_names(names, adapter_slots(sections))
        wb = self.params.sram_word_bytes
        for s in self.sections:
            if s.kind is SectionKind.ADAPTER:
                self.backend.write_sram(s.sram_word * wb, bytes(len(s.payload)))
        for s in sections:
            self.backend.write_sram(s.sram_word * wb, s.payload)
        self.sections, self.names, self.enabled = sections, names, 0

    def _slot(self, adapter: str | int) -> int:
        """The slot of a name or number that holds an adapter of the loaded image."""
        if isinstance(adapter, bool) or not isinstance(adapter, str | int | np.integer):
            raise TypeError(f"adapter {adapter!r}: give a name or a slot number")
        if isinstance(adapter, str):
            if adapter not in self.names:
                raise UnknownAdapter(f"no adapter named {adapter!r} in the loaded image "
                                     f"(has: {', '.join(sorted(self.names)) or 'none'}); "
                                     f"name it in load(image, names=...)")
            return self.names[adapter]
        slot = int(adapter)
        if not 0 <= slot < LORA_SLOTS:
            raise ChipRefused(f"slot {slot}: the chip has slots 0..{LORA_SLOTS - 1}")
        held = adapter_slots(self.sections)
        if slot not in held:
            raise UnknownAdapter(f"slot {slot}: the loaded image has no adapter in slot {slot} "
                                 f"(adapters in slots: "
                                 f"{', '.join(map(str, sorted(held))) or 'none'}); "
                                 f"load an image with one first")
        return slot

    def enable(self, adapters):
        """Apply exactly these adapters (a list of names or slots) from the next run on;
        each must hold an adapter of the loaded image (refused otherwise, nothing changed)."""
        if isinstance(adapters, str | int):
            raise TypeError(f"enable() takes a list of adapters, got {adapters!r}")
        mask = 0
        for a in adapters:
            mask |= 1 << self._slot(a)
        self.enabled = mask

    def delete_adapter(self, adapter: str | int) -> int:
        """Forget an adapter: zero its SRAM region, point every layer's entry for its
        slot at 'none', disable the slot, and read all of it back. Returns the words
        zeroed; raises if anything of it is still in the buffer."""
        slot = self._slot(adapter)
        wb = self.params.sram_word_bytes
        regions = [s for s in self.sections if s.kind is SectionKind.ADAPTER and s.slot == slot]
        for s in regions:
            self.backend.write_sram(s.sram_word * wb, bytes(len(s.payload)))
        dw_bytes = self.params.words_for(LORA_DESC_BITS) * wb
        layers = [s for s in self.sections if s.kind is SectionKind.LORA_LAYER]
        for s in layers:
            for off in range(0, len(s.payload), dw_bytes):
                raw = self.backend.read_sram(s.sram_word * wb + off, dw_bytes)
                f = unpack_fields(LoraLayer, int.from_bytes(raw, "little"))
                f[f"entry{slot}"] = 0
                f["act"] = Activation(f["act"])
                value = pack_fields(LoraLayer, f, "layer field")
                self.backend.write_sram(s.sram_word * wb + off, value.to_bytes(dw_bytes, "little"))
        for s in regions:
            if any(self.backend.read_sram(s.sram_word * wb, len(s.payload))):
                raise RuntimeError(f"slot {slot}: its SRAM region still holds data after delete")
        for s in layers:
            for off in range(0, len(s.payload), dw_bytes):
                raw = self.backend.read_sram(s.sram_word * wb + off, dw_bytes)
                if unpack_fields(LoraLayer, int.from_bytes(raw, "little"))[f"entry{slot}"]:
                    raise RuntimeError(f"slot {slot}: a layer still points at its entry")
        return self._forget(slot)

    def _forget(self, slot: int) -> int:
        """Drop a deleted slot from the host's books; returns the SRAM words it had."""
        wb = self.params.sram_word_bytes
        regions = [s for s in self.sections if s.kind is SectionKind.ADAPTER and s.slot == slot]
        self.enabled &= ~(1 << slot)
        self.names = {n: s for n, s in self.names.items() if s != slot}
        self.sections = [s for s in self.sections if s not in regions]
        return sum(-(-len(s.payload) // wb) for s in regions)

    # ---- inference ----
    def run(self, segment, x: np.ndarray) -> tuple[np.ndarray, SegmentRun]:
        """Run a compiled segment on x (B, len(segment.inputs), segment.n_in) int8; returns
        y (B, len(segment.outputs), segment.n_out) int8 and every record's outputs."""
        check_runnable(segment, self.deployed, self.sections, self.params)
        x = np.asarray(x)
        want = (len(segment.inputs), segment.n_in)
        if x.ndim != 3 or x.shape[1:] != want or len(x) == 0:
            raise ChipRefused(f"inputs shape {x.shape}: expected (batch, {want[0]}, {want[1]})"
                              f" with batch >= 1")
        if x.dtype != np.int8:
            raise ChipRefused(f"inputs must be int8, got {x.dtype}: quantize them first "
                              f"(run_network does, with the compiled input scale)")
        wb = self.params.sram_word_bytes
        inputs = {word: _pad(x[:, v, :], wb) for v, word in enumerate(segment.inputs)}
        reads = {dst: r.n_out for r in segment.records for dst in r.dsts()}
        result = self._execute(segment.program, inputs, reads)
        outputs = {(r.layer, v): result.outputs[dst] for r in segment.records
                   for v, dst in enumerate(r.dsts())}
        stats = {r.layer: self._read_stats(r.stats) for r in segment.records if r.stats}
        y = np.stack([result.outputs[word][:, :segment.n_out] for word in segment.outputs],
                     axis=1)
        return y, SegmentRun(outputs, stats, result)

    def _execute(self, program: int, inputs: dict[int, np.ndarray], reads: dict[int, int]
                 ) -> RunResult:
        """B runs of the program at word `program` (the host side: FirmwareChip's is C)."""
        return self.backend.run(program, self.enabled, inputs, reads)

    def _read_stats(self, word: int) -> LayerStats:
        wb = self.params.sram_word_bytes
        raw = self.backend.read_sram(word * wb, self.params.words_for(SEQ_STATS_BITS) * wb)
        return read_stats(raw, 0, self.params)

    def mvm_ops(self) -> list[int]:
        return self.backend.mvm_ops()

    def set_time(self, seconds: float):
        """Move the chip's clock to ``seconds`` after power-up (time 0, when it was
        programmed): conductances drift with the log of the time since programming."""
        self.backend.set_time(seconds)

    def conductance(self, macro: int) -> np.ndarray:
        """True conductance (uS) of every cell of one macro at the chip's current time
        (no read noise): what write-verify left, drifted (ReramMacro.conductance)."""
        return self.backend.conductance(self._macro(macro))

    def stuck_cells(self, macro: int) -> np.ndarray:
        """Stuck-at faults of one macro per cell: 0 healthy, 1 SA0 (g_min), 2 SA1 (g_max)."""
        return self.backend.stuck_cells(self._macro(macro))

    def _macro(self, macro: int) -> int:
        if isinstance(macro, bool) or not isinstance(macro, int | np.integer):
            raise TypeError(f"macro {macro!r}: give a macro number")
        if not 0 <= macro < self.params.n_macros:
            raise ValueError(f"macro {macro}: the chip has macros 0..{self.params.n_macros - 1}")
        return int(macro)

    def activity(self) -> dict:
        """The macros' operation counts since the chip was made (pulses, verify reads,
        bit-plane conversions, ADC conversions, active rows) and the programming
        energy the macro model computed (sim.reram.MacroArray.activity)."""
        return self.backend.activity()

    def close(self):
        """Release the backend (a cosimulation: end the simulator); safe to call twice."""
        self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _pad(x: np.ndarray, wb: int) -> np.ndarray:
    """Vectors padded with zeros to whole SRAM words (both backends write the same)."""
    n = -(-x.shape[1] // wb) * wb
    out = np.zeros((x.shape[0], n), dtype=np.int8)
    out[:, :x.shape[1]] = x
    return out
