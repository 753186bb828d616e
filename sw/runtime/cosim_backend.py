"""The cosimulation backends: the chip's Verilog on Verilator or Icarus, under cocotb,
with the Python macro models on its macro port.

The simulator runs in a thread of this process (cocotb-test starts it as a child
process); its cocotb module, rmlora.sim.chip_server, connects back over a local
socket and executes this backend's commands on the chip's host bus. One
simulator session lives as long as the backend, so the chip keeps its SRAM and
its programmed macros between calls, like a real device.
"""

import logging
import secrets
import threading
import time
from multiprocessing.connection import Listener

import numpy as np

from rmlora.contract import ChipParams, ErrorCode
from rmlora.contract.macro import MacroConfig
from rmlora.sw.golden.chip import ChipError

from .backend import ProgramResult, RunResult

__all__ = ["CosimBackend"]

CONNECT_TIMEOUT_S = 900  # a first Verilator build of the chip takes minutes


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
        from rmlora.hw.build import write_verilog
        from rmlora.sim.cosim import REPO_ROOT, run_on_chip

        _quiet_cocotb()
        if params != ChipParams():
            raise ValueError("the cosimulation backends run the default build (ChipParams())")
        self.name, self.params = sim, params
        self.sim_cycles, self.wall_s = 0, 0.0
        authkey = secrets.token_bytes(16)
        self._listener = Listener(("127.0.0.1", 0), authkey=authkey)
        host, port = self._listener.address
        verilog = write_verilog(REPO_ROOT / "build" / "verilog", params)
        self._failure = None

        def simulate():
            try:
                run_on_chip(verilog, "rmlora.sim.chip_server", sim=sim, extra_env={
                    "RMLORA_CHIP_SERVER": f"{host}:{port}",
                    "RMLORA_CHIP_AUTHKEY": authkey.hex()})
            except BaseException as exc:  # noqa: BLE001 - reported by _call
                self._failure = exc

        self._thread = threading.Thread(target=simulate, name=f"rmlora-{sim}", daemon=True)
        self._thread.start()
        self._conn = self._accept()
        self._call("init", params, macro_config, seed)

    def _accept(self):
        # poll, so that a simulator that dies before connecting is noticed (the
        # Listener has no public timeout)
        self._listener._listener._socket.settimeout(1.0)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                return self._listener.accept()
            except (TimeoutError, OSError):
                if not self._thread.is_alive():
                    raise RuntimeError(f"{self.name} simulation ended before it connected: "
                                       f"{self._failure!r}") from self._failure
        raise RuntimeError(f"{self.name} simulation did not connect within "
                           f"{CONNECT_TIMEOUT_S} s")

    def _call(self, name, *args):
        self._conn.send((name, *args))
        status, value, cycles, wall = self._conn.recv()
        self.sim_cycles += cycles
        self.wall_s += wall
        if status != "ok":
            raise RuntimeError(f"chip server, {name}: {value}")
        return value

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
        wb = self.params.sram_word_bytes
        batch = len(next(iter(inputs.values())))
        outputs = {word: np.zeros((batch, n), dtype=np.int8) for word, n in reads.items()}
        cycles0, wall0 = self.sim_cycles, time.perf_counter()
        self._call("write_reg", "LORA_ENABLE", enabled)
        perf = {}
        for b in range(batch):
            for word, x in inputs.items():
                self.write_sram(word * wb, x[b].tobytes())
            perf = self._call("run", prog_addr)
            if perf["ERROR"]:
                raise ChipError(ErrorCode(perf["ERR_CODE"]), perf["LAYER"])
            for word, n in reads.items():
                outputs[word][b] = np.frombuffer(self.read_sram(word * wb, n), dtype=np.int8)
        return RunResult(outputs, perf, sim_cycles=self.sim_cycles - cycles0,
                         wall_s=time.perf_counter() - wall0)

    def mvm_ops(self) -> list[int]:
        return self._call("mvm_ops")

    def activity(self) -> dict:
        return self._call("activity")

    def set_time(self, seconds: float):
        self._call("set_time", seconds)

    def close(self):
        if self._conn is not None:
            self._call("close")
            self._conn.close()
            self._conn = None
            self._thread.join(timeout=60)
            self._listener.close()
