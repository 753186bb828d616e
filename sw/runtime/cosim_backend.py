"""The cosimulation backends: the chip's Verilog on Verilator or Icarus, under cocotb,
with the Python macro models on its macro port.

The simulator runs in a thread of this process (cocotb-test starts it as a child
process); its cocotb module, rmlora.sw.runtime.cosim_server, connects back over the command
channel this backend listens on (rmlora.sim.link) and executes this backend's
commands on the chip's host bus. One simulator session lives as long as the
backend, so the chip keeps its SRAM and its programmed macros between calls, like a
real device. Lifecycle: the constructor builds (if needed) and starts the
simulator and waits for it; `close()` ends it (idempotent). If the simulator dies,
the call waiting on it raises SimulatorError with the simulator's own failure.
"""

import functools
import logging
import threading
import time

import numpy as np

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.macro import MacroConfig
from rmlora.sim.link import POLL_S, LinkClosed, LinkServer
from rmlora.sw.golden.chip import ChipError

from .backend import ProgramResult, RunResult, register_backend
from .cosim_build import build_dirs, check_buildable
from .firmware import FIRMWARE_CALLS

__all__ = ["CosimBackend", "SimulatorError"]

CONNECT_TIMEOUT_S = 900  # a first Verilator build of the chip takes minutes
END_TIMEOUT_S = 60  # for the simulator to finish once told to close (or once it failed)


# outputs this close together are read back as one span: a few padding bytes more on
# the bus, one transfer (and its cocotb overhead) fewer
READ_GAP_BYTES = 64


def byte_spans(regions: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """(start, length) spans covering the (start, length) byte regions, sorted; regions at
    most `gap` bytes apart share a span (gap 0: only regions that touch)."""
    spans: list[tuple[int, int]] = []
    for start, length in sorted(regions):
        if spans and start - sum(spans[-1]) <= gap:
            first = spans[-1][0]
            spans[-1] = (first, max(spans[-1][1], start + length - first))
        else:
            spans.append((start, length))
    return spans


def locate(starts: dict, spans: list[tuple[int, int]]) -> dict:
    """key -> (index of the span holding byte starts[key], offset of that byte in it)."""
    return {key: next((i, at - first) for i, (first, length) in enumerate(spans)
                      if first <= at < first + length)
            for key, at in starts.items()}


class SimulatorError(RuntimeError):
    """The simulator ended (crashed, failed to build, or never connected)."""


def _warnings_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def _quiet_cocotb():
    """Keep the simulator's INFO chatter off the user's terminal: cocotb-test sets the
    'cocotb' logger to INFO whenever it starts a simulator, so a filter does it."""
    logger = logging.getLogger("cocotb")
    if _warnings_only not in logger.filters:
        logger.addFilter(_warnings_only)


class CosimBackend:
    def __init__(self, sim: str, params: ChipParams, macro_config: MacroConfig | None,
                 seed: int):
        from rmlora.hw.build import TOP_NAME, write_verilog
        from rmlora.sim.cosim import REPO_ROOT, run_on_chip

        check_buildable(params)  # before minutes of building
        _quiet_cocotb()
        self.name, self.params = sim, params
        self.sim_cycles, self.wall_s = 0, 0.0
        dirs = build_dirs(REPO_ROOT / "build", params)
        verilog = write_verilog(dirs.verilog, params, only={TOP_NAME})
        self._server = LinkServer()
        self._link = None
        self._failure: BaseException | None = None

        def simulate():
            try:
                run_on_chip(verilog, "rmlora.sw.runtime.cosim_server", sim=sim,
                            build_root=dirs.cosim, extra_env=self._server.env)
            except BaseException as exc:  # noqa: BLE001 - raised by the waiting call
                self._failure = exc

        self._thread = threading.Thread(target=simulate, name=f"rmlora-{sim}", daemon=True)
        self._thread.start()
        try:
            self._link = self._server.accept(self._thread.is_alive, CONNECT_TIMEOUT_S)
        except LinkClosed:
            self._end()
            raise self._died("before it connected") from self._failure
        except TimeoutError:
            self._server.close()
            raise
        try:
            self._call("init", params, macro_config, seed)
        except RuntimeError:
            self.close()  # a refused init leaves no simulator behind
            raise

    # ---- lifecycle ----
    def _died(self, when: str) -> SimulatorError:
        cause = f": {self._failure!r}" if self._failure is not None else ""
        return SimulatorError(f"the {self.name} simulation ended {when}{cause}")

    def _end(self):
        """Release the channel and wait (bounded) for the simulator thread."""
        if self._link is not None:
            self._link.close()
            self._link = None
        self._server.close()
        self._thread.join(timeout=END_TIMEOUT_S)

    def close(self):
        """End the simulation; raises SimulatorError if it failed on the way out."""
        if self._link is None:
            return
        self._call("close")
        self._end()
        if self._failure is not None:
            raise self._died("with a failure while closing") from self._failure

    def _call(self, name, *args):
        if self._link is None:
            raise SimulatorError(f"the {self.name} backend is closed ({name!r})")
        try:
            self._link.send((name, *args))
            while not self._link.ready(POLL_S):
                if not self._thread.is_alive():
                    raise LinkClosed("the simulator thread ended")
            status, value, cycles, wall = self._link.recv()
        except LinkClosed:
            self._end()
            raise self._died(f"during {name!r}") from self._failure
        self.sim_cycles += cycles
        self.wall_s += wall
        if status != "ok":
            raise RuntimeError(f"chip server, {name}: {value}")
        return value

    # ---- the Backend protocol ----
    def write_sram(self, offset: int, data: bytes):
        self._call("write_sram", offset, bytes(data) + bytes(-len(data) % 4))

    def read_sram(self, offset: int, length: int) -> bytes:
        return self._call("read_sram", offset, length + (-length % 4))[:length]

    def program(self, desc, targets, on_chip: bool, scratch_word: int) -> ProgramResult:
        result, failed, counts = self._call("program", desc, np.asarray(targets), on_chip,
                                            scratch_word)
        return ProgramResult(np.asarray(result), failed, counts)

    def run(self, prog_addr: int, enabled: int, inputs: dict[int, np.ndarray],
            reads: dict[int, int]) -> RunResult:
        """Each batch item is one command to the simulator: its inputs written as spans of
        adjacent words, the program run, its outputs read back as a few spans."""
        wb = self.params.sram_word_bytes
        batch = len(next(iter(inputs.values())))
        outputs = {word: np.zeros((batch, n), dtype=np.int8) for word, n in reads.items()}
        write_spans = byte_spans([(w * wb, x.shape[1]) for w, x in inputs.items()], gap=0)
        read_spans = byte_spans([(w * wb, n) for w, n in reads.items()], READ_GAP_BYTES)
        write_at = locate({w: w * wb for w in inputs}, write_spans)
        read_at = locate({w: w * wb for w in reads}, read_spans)
        cycles0, wall0 = self.sim_cycles, time.perf_counter()
        self._call("write_reg", "LORA_ENABLE", enabled)
        perf = {}
        for b in range(batch):
            # gap 0: the inputs cover their spans, so no byte outside them is written
            blobs = [bytearray(length + -length % 4) for _, length in write_spans]
            for word, x in inputs.items():
                i, at = write_at[word]
                blobs[i][at:at + x.shape[1]] = x[b].tobytes()
            perf, data = self._call(
                "run_io", prog_addr,
                [(start, bytes(blob)) for (start, _), blob in zip(write_spans, blobs, strict=True)],
                [(start, length + -length % 4) for start, length in read_spans],
                b == batch - 1)  # RunResult.perf: the last run's
            if perf["ERROR"]:
                raise ChipError(ErrorCode(perf["ERR_CODE"]), perf["LAYER"])
            for word, n in reads.items():
                i, at = read_at[word]
                outputs[word][b] = np.frombuffer(data[i][at:at + n], dtype=np.int8)
        return RunResult(outputs, perf, sim_cycles=self.sim_cycles - cycles0,
                         wall_s=time.perf_counter() - wall0)

    def firmware(self) -> "RemoteFirmware":
        """The C driver, opened in the simulator's process over the chip's control port."""
        self._call("fw_open")
        return RemoteFirmware(self)

    def mvm_ops(self) -> list[int]:
        return self._call("mvm_ops")

    def activity(self) -> dict:
        return self._call("activity")

    def set_time(self, seconds: float):
        self._call("set_time", seconds)

    def conductance(self, macro: int) -> np.ndarray:
        return self._call("conductance", macro)

    def stuck_cells(self, macro: int) -> np.ndarray:
        return self._call("stuck_cells", macro)


for _sim, _speed in (("verilator", "~50k cycles/s"), ("icarus", "~28k cycles/s")):
    register_backend(_sim, functools.partial(CosimBackend, _sim), slow=True,
                     summary=f"the chip's Verilog on {_sim} under cocotb: a first build "
                             f"takes minutes, then {_speed}")


class RemoteFirmware:
    """The C driver of a cosimulation, called from the host: each call is one command,
    its exceptions (a refused image, a chip error...) raised here as they were there."""

    def __init__(self, backend: CosimBackend):
        self._backend = backend

    def __getattr__(self, call: str):
        if call not in FIRMWARE_CALLS:
            raise AttributeError(call)

        def remote(*args):
            kind, value = self._backend._call("firmware", call, *args)
            if kind == "raised":
                raise value
            return value

        return remote
