"""A Chip driven by the C firmware driver instead of the Python runtime.

    chip = FirmwareChip(backend="golden" | "verilator" | ..., seed=...)
    chip.deploy(compiled.plan)          analogue weights: written once, from the host
    chip.load(image, names=...)         rmlora_check_image, then rmlora_load_image
    chip.enable(["forget"])             rmlora_enable
    y, run = chip.run(segment, x)       rmlora_run per input, rmlora_read_stats, _read_perf
    chip.delete_adapter("forget")       rmlora_delete_adapter (zeroed, read back)

Everything after deployment goes through the C driver (firmware/src/rmlora_driver.c)
over the backend's control port: on the golden backend a register-level model of it
(golden_bus.GoldenBus), in a cosimulation the RTL's AXI4-Lite port. The host keeps
only its books (which slots hold which adapter names), so run_network, infer and
every comparison work unchanged, and the outputs can be compared with the Python
runtime's byte for byte. A backend without `firmware()` is refused.
"""

import numpy as np

from rmlora.contract import ChipParams
from rmlora.contract.macro import MacroConfig
from rmlora.sw.formats.image import parse_image
from rmlora.sw.formats.records import LayerStats

from .backend import RunResult
from .chip import Chip
from .refusals import ChipRefused, adapter_slots, checked_names

__all__ = ["FirmwareChip"]


class FirmwareChip(Chip):
    def __init__(self, params: ChipParams = ChipParams(), backend: str = "golden",
                 macro_config: MacroConfig | None = None, seed: int = 0):
        super().__init__(params, backend, macro_config, seed)
        if not hasattr(self.backend, "firmware"):
            self.close()
            raise ChipRefused(f"backend {backend!r} cannot run the C driver (it has no "
                              f"register-level bus)")
        try:
            self.fw = self.backend.firmware()  # rmlora_open: ID, version, geometry
        except Exception:
            self.close()
            raise

    def load(self, image: bytes, names: dict[str, int] | None = None):
        """The C driver checks the image (the same ImageFault as the Python loader) and
        writes it; the host reads the section table for its books."""
        self.fw.check_image(image)
        sections = parse_image(image, self.params)
        names = checked_names(names, adapter_slots(sections))
        self.fw.load_image(image)
        self.sections, self.names, self.enabled = sections, names, 0

    def enable(self, adapters):
        before = self.enabled
        super().enable(adapters)  # names to slots, with the runtime's refusals
        try:
            self.fw.enable(self.enabled)
        except Exception:
            self.enabled = before
            raise

    def delete_adapter(self, adapter: str | int) -> int:
        slot = self._slot(adapter)
        words = self.fw.delete_adapter(slot)  # zeroed, layers patched, read back in C
        if words != self._forget(slot):
            raise RuntimeError(f"slot {slot}: the C driver zeroed {words} words, the image "
                               f"gave the slot a different number")
        return words

    def _execute(self, program: int, inputs: dict[int, np.ndarray], reads: dict[int, int]
                 ) -> RunResult:
        wb = self.params.sram_word_bytes
        batch = len(next(iter(inputs.values())))
        outputs = {word: np.zeros((batch, n), dtype=np.int8) for word, n in reads.items()}
        spans = [(word * wb, n) for word, n in reads.items()]
        for b in range(batch):
            data = self.fw.run(program, [(word * wb, x[b].tobytes())
                                         for word, x in inputs.items()], spans)
            for word, raw in zip(reads, data, strict=True):
                outputs[word][b] = np.frombuffer(raw, dtype=np.int8)
        return RunResult(outputs, self.fw.read_perf())

    def _read_stats(self, word: int) -> LayerStats:
        return self.fw.read_stats(word)
