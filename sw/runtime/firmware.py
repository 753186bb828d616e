"""The C firmware driver (firmware/src/rmlora_driver.c), called from Python.

`FirmwareDriver(bus)` loads the driver's shared library (built on first use,
rmlora.firmware.build) and opens the chip through `bus`, the platform's two
functions: `bus.read32(addr) -> (resp, value)` and `bus.write32(addr, value) ->
resp`, and optionally `bus.wait_irq()` (blocks until the irq pin is high). On the
golden backend the bus is rmlora.sw.runtime.golden_bus.GoldenBus; in a cosimulation
it is the AXI4-Lite manager, bridged from the driver's thread into cocotb
(rmlora.sw.runtime.cosim_server). The C code does the work; this module only
marshals arguments and turns return values into the runtime's exceptions: an
ImageError with the same ImageFault the Python loader names, a ChipError with the
chip's ERR_CODE, or a FirmwareError naming the driver status.
"""

import ctypes
from ctypes import POINTER, byref, c_int, c_uint8, c_uint32, c_void_p
from pathlib import Path

from rmlora.contract import ErrorCode
from rmlora.contract.driver import DRIVER_MAX_SECTIONS, DriverStatus, status_text
from rmlora.contract.image import ImageFault
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.firmware.build import build_library
from rmlora.sw.formats.image import ImageError
from rmlora.sw.formats.records import LayerStats
from rmlora.sw.golden.chip import ChipError

__all__ = ["FIRMWARE_CALLS", "FirmwareDriver", "FirmwareError", "load_library"]

# the driver calls a backend runs on request (a cosimulation runs them in its process)
FIRMWARE_CALLS = ("check_image", "load_image", "has_adapter", "enable", "delete_adapter",
                  "write_sram", "read_sram", "run", "run_program", "read_stats", "read_perf",
                  "rc_text", "err_text", "net_run", "unlearn_demo")

READ32 = ctypes.CFUNCTYPE(c_int, c_void_p, c_uint32, POINTER(c_uint32))
WRITE32 = ctypes.CFUNCTYPE(c_int, c_void_p, c_uint32, c_uint32)
WAIT_IRQ = ctypes.CFUNCTYPE(c_int, c_void_p)
SLVERR = 2  # what a callback answers when the Python side raised (re-raised after the call)
_STATUSES = {s.value: s for s in DriverStatus}  # a return value -> what it names
_FAULTS = {f.value: f for f in ImageFault}


class _Platform(ctypes.Structure):
    _fields_ = [("read32", READ32), ("write32", WRITE32), ("wait_irq", WAIT_IRQ),
                ("ctx", c_void_p)]


class _Section(ctypes.Structure):
    _fields_ = [("kind", c_uint8), ("slot", c_uint8), ("sram_word", c_uint32),
                ("length", c_uint32)]


class _Dev(ctypes.Structure):
    _fields_ = [("plat", _Platform), ("is_open", c_int), ("word_bytes", c_uint32),
                ("depth_words", c_uint32), ("version", c_uint32), ("hw_macro", c_uint32),
                ("loaded", c_int), ("n_sections", c_uint32),
                ("sections", _Section * DRIVER_MAX_SECTIONS), ("enabled", c_uint32),
                ("err_code", c_uint32), ("err_addr", c_uint32), ("layer", c_uint32)]


class _WriteSpan(ctypes.Structure):
    _fields_ = [("offset", c_uint32), ("data", c_void_p), ("length", c_uint32)]


class _ReadSpan(ctypes.Structure):
    _fields_ = [("offset", c_uint32), ("data", c_void_p), ("length", c_uint32)]


class _NetIO(ctypes.Structure):  # rmlora_net_io (firmware/examples/rmlora_net.h)
    _fields_ = [("input", c_void_p), ("input_len", ctypes.c_size_t),
                ("output", c_void_p), ("output_len", ctypes.c_size_t),
                ("output_used", ctypes.c_size_t), ("trace", c_void_p),
                ("trace_len", ctypes.c_size_t), ("trace_used", ctypes.c_size_t),
                ("arena", c_void_p), ("arena_len", ctypes.c_size_t)]


class _Stats(ctypes.Structure):
    _fields_ = [(name, c_uint32) for name in ("cycles", "adc", "mvm", "macs", "sram", "cache")]


class FirmwareError(RuntimeError):
    """A C driver call failed for a reason other than a refused image or a chip error."""

    def __init__(self, call: str, rc: int, detail: str = ""):
        self.call, self.rc, self.detail = call, rc, detail
        self.status = _STATUSES.get(rc)
        super().__init__(f"C driver {call}: {status_text(rc)} (0x{rc:02x})"
                         + (f"; {detail}" if detail else ""))

    def __reduce__(self):  # picklable whole: a cosimulation sends it to the host
        return type(self), (self.call, self.rc, self.detail)


_LIBRARIES: dict[Path, ctypes.CDLL] = {}


def load_library(path: Path | None = None) -> ctypes.CDLL:
    """The driver's shared library (built if needed), its prototypes declared, and its
    rmlora_dev checked against this module's copy of the struct."""
    path = Path(path) if path is not None else build_library()
    if path in _LIBRARIES:
        return _LIBRARIES[path]
    lib = ctypes.CDLL(str(path))
    dev, plat = POINTER(_Dev), POINTER(_Platform)
    sig = {
        "rmlora_open": [dev, plat],
        "rmlora_check_image": [dev, c_void_p, ctypes.c_size_t],
        "rmlora_load_image": [dev, c_void_p, ctypes.c_size_t],
        "rmlora_has_adapter": [dev, ctypes.c_uint],
        "rmlora_enable": [dev, c_uint32],
        "rmlora_delete_adapter": [dev, ctypes.c_uint, POINTER(c_uint32)],
        "rmlora_write_sram": [dev, c_uint32, c_void_p, c_uint32],
        "rmlora_read_sram": [dev, c_uint32, c_void_p, c_uint32],
        "rmlora_run_program": [dev, c_uint32],
        "rmlora_run": [dev, c_uint32, POINTER(_WriteSpan), ctypes.c_size_t,
                       POINTER(_ReadSpan), ctypes.c_size_t],
        "rmlora_read_stats": [dev, c_uint32, POINTER(_Stats)],
        "rmlora_read_perf": [dev, POINTER(c_uint32)],
        "rmlora_net_run": [dev, c_void_p, ctypes.c_size_t, POINTER(_NetIO)],
        "rmlora_unlearn_demo": [dev, c_void_p, ctypes.c_size_t, c_void_p, ctypes.c_size_t,
                                c_void_p, ctypes.c_size_t, c_uint32, POINTER(c_uint32),
                                c_uint32, ctypes.c_uint, POINTER(_NetIO), POINTER(c_uint32)],
    }
    for name, args in sig.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, c_int
    for name in ("rmlora_rc_text", "rmlora_err_text"):
        getattr(lib, name).restype = ctypes.c_char_p
    lib.rmlora_rc_text.argtypes = [c_int]
    lib.rmlora_err_text.argtypes = [c_uint32]
    lib.rmlora_dev_size.restype, lib.rmlora_dev_size.argtypes = ctypes.c_size_t, []
    if lib.rmlora_dev_size() != ctypes.sizeof(_Dev):
        raise RuntimeError(f"{path}: rmlora_dev is {lib.rmlora_dev_size()} bytes in C, "
                           f"{ctypes.sizeof(_Dev)} in rmlora.sw.runtime.firmware")
    _LIBRARIES[path] = lib
    return lib


class FirmwareDriver:
    def __init__(self, bus, library: Path | None = None):
        self.lib = load_library(library)
        self.bus = bus
        self._raised: BaseException | None = None
        # the callbacks must outlive every C call: kept on the instance
        self._read32 = READ32(self._on_read32)
        self._write32 = WRITE32(self._on_write32)
        self._wait_irq = WAIT_IRQ(self._on_wait_irq) if hasattr(bus, "wait_irq") else WAIT_IRQ()
        self.platform = _Platform(self._read32, self._write32, self._wait_irq, None)
        self.dev = _Dev()
        self._call("rmlora_open", byref(self.dev), byref(self.platform))

    # ---- the platform, called back from C ----
    def _guard(self, fn, fail):
        if self._raised is not None:
            return fail
        try:
            return fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised once the C call returns
            self._raised = exc
            return fail

    def _on_read32(self, _ctx, addr, value):
        def read():
            resp, data = self.bus.read32(addr)
            value[0] = data & 0xFFFF_FFFF
            return int(resp)
        return self._guard(read, SLVERR)

    def _on_write32(self, _ctx, addr, value):
        return self._guard(lambda: int(self.bus.write32(addr, value)), SLVERR)

    def _on_wait_irq(self, _ctx):
        return self._guard(lambda: self.bus.wait_irq() or 0, 1)

    # ---- calls ----
    def _call(self, name: str, *args) -> int:
        rc = getattr(self.lib, name)(*args)
        raised, self._raised = self._raised, None
        if raised is not None:
            raise raised
        if rc == DriverStatus.OK.value:
            return rc
        fault = _FAULTS.get(rc)
        if fault is not None:
            raise ImageError(f"the C driver refused the image: {fault.text}", fault)
        if rc == DriverStatus.CHIP_ERROR.value:
            raise ChipError(ErrorCode(self.dev.err_code), self.dev.layer, "C driver")
        detail = ""
        if rc == DriverStatus.BUS.value:
            code = ErrorCode(self.dev.err_code)
            detail = f"at 0x{self.dev.err_addr:08x}: {code.name}: {code.text}"
        raise FirmwareError(name, rc, detail)

    def check_image(self, image: bytes):
        self._call("rmlora_check_image", byref(self.dev), bytes(image), len(image))

    def load_image(self, image: bytes):
        self._call("rmlora_load_image", byref(self.dev), bytes(image), len(image))

    def has_adapter(self, slot: int) -> bool:
        return bool(self.lib.rmlora_has_adapter(byref(self.dev), slot))

    def enable(self, mask: int):
        self._call("rmlora_enable", byref(self.dev), mask)

    def delete_adapter(self, slot: int) -> int:
        words = c_uint32()
        self._call("rmlora_delete_adapter", byref(self.dev), slot, byref(words))
        return words.value

    def write_sram(self, offset: int, data: bytes):
        self._call("rmlora_write_sram", byref(self.dev), offset, bytes(data), len(data))

    def read_sram(self, offset: int, length: int) -> bytes:
        buf = ctypes.create_string_buffer(length)
        self._call("rmlora_read_sram", byref(self.dev), offset, buf, length)
        return buf.raw

    def run(self, prog_word: int, writes: list[tuple[int, bytes]],
            reads: list[tuple[int, int]]) -> list[bytes]:
        """Write the (offset, bytes) spans, run the program, read the (offset, length)
        spans: one rmlora_run."""
        keep = [bytes(data) for _, data in writes]
        ins = (_WriteSpan * max(1, len(writes)))(
            *[_WriteSpan(off, ctypes.cast(ctypes.c_char_p(d), c_void_p), len(d))
              for (off, _), d in zip(writes, keep, strict=True)])
        bufs = [ctypes.create_string_buffer(n) for _, n in reads]
        outs = (_ReadSpan * max(1, len(reads)))(
            *[_ReadSpan(off, ctypes.cast(b, c_void_p), n)
              for (off, n), b in zip(reads, bufs, strict=True)])
        self._call("rmlora_run", byref(self.dev), prog_word, ins, len(writes), outs, len(reads))
        return [b.raw for b in bufs]

    def run_program(self, prog_word: int):
        self._call("rmlora_run_program", byref(self.dev), prog_word)

    def read_stats(self, stats_word: int) -> LayerStats:
        st = _Stats()
        self._call("rmlora_read_stats", byref(self.dev), stats_word, byref(st))
        return LayerStats(**{name: getattr(st, name) for name, _ in _Stats._fields_})

    def read_perf(self) -> dict[str, int]:
        perf = (c_uint32 * len(PERF_REGISTERS))()
        self._call("rmlora_read_perf", byref(self.dev), perf)
        return dict(zip(PERF_REGISTERS, perf, strict=True))

    # ---- the example (firmware/examples/rmlora_net.c) ----
    def _net_io(self, outputs: int, trace: int, arena: int):
        bufs = [ctypes.create_string_buffer(max(1, n)) for n in (outputs, trace, arena)]
        io = _NetIO(None, 0, ctypes.cast(bufs[0], c_void_p), outputs, 0,
                    ctypes.cast(bufs[1], c_void_p), trace, 0, ctypes.cast(bufs[2], c_void_p),
                    arena)
        return io, bufs

    def net_run(self, net: bytes, x: bytes, output_bytes: int, trace_bytes: int,
                arena_bytes: int) -> tuple[bytes, bytes]:
        """One input through the network blob (rmlora.sw.runtime.firmware_net): its
        output tensor and its trace (every record output of every segment run)."""
        io, bufs = self._net_io(output_bytes, trace_bytes, arena_bytes)
        x = bytes(x)
        io.input, io.input_len = ctypes.cast(ctypes.c_char_p(x), c_void_p), len(x)
        self._call("rmlora_net_run", byref(self.dev), bytes(net), len(net), byref(io))
        return bufs[0].raw[:io.output_used], bufs[1].raw[:io.trace_used]

    def unlearn_demo(self, image: bytes, net: bytes, inputs: bytes, input_bytes: int,
                     sets: list[int], forget_slot: int, output_bytes: int, trace_bytes: int,
                     arena_bytes: int) -> tuple[bytes, bytes, int]:
        """The example whole (rmlora_unlearn_demo): outputs and traces of every run, in
        order (sets x inputs, then again after the delete), and the words it zeroed."""
        n_inputs = len(inputs) // input_bytes
        runs = 2 * len(sets) * n_inputs
        io, bufs = self._net_io(runs * output_bytes, runs * trace_bytes, arena_bytes)
        words = c_uint32()
        self._call("rmlora_unlearn_demo", byref(self.dev), bytes(image), len(image),
                   bytes(net), len(net), bytes(inputs), input_bytes, n_inputs,
                   (c_uint32 * len(sets))(*sets), len(sets), forget_slot, byref(io),
                   byref(words))
        return bufs[0].raw[:io.output_used], bufs[1].raw[:io.trace_used], words.value

    def rc_text(self, rc: int) -> str:
        return self.lib.rmlora_rc_text(rc).decode()

    def err_text(self, code: int) -> str:
        return self.lib.rmlora_err_text(code).decode()

    @property
    def enabled(self) -> int:
        return self.dev.enabled

    @property
    def sections(self) -> list[tuple[int, int, int, int]]:
        """(kind, slot, sram_word, length) of the sections the driver keeps track of."""
        return [(s.kind, s.slot, s.sram_word, s.length)
                for s in self.dev.sections[:self.dev.n_sections]]
