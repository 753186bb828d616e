"""cocotb module that serves the simulated chip to a host process (the cosimulation
backend of rmlora.sw.runtime).

The host starts the simulator with the address of its command channel and a token
in the environment (rmlora.sim.link); this test connects back and answers
commands, one at a time, until "close". Simulated time stands still while it waits
for a command, so the chip sees exactly the bus traffic the host asked for.
Commands are tuples (name, *args); each reply is ("ok", value) or ("error",
message), followed by the simulated cycles and wall seconds the command took.

    init(params, macro_config, seed)     check the build is `params`; macros attached
    write_sram(byte, data) / read_sram(byte, n)
    write_reg(name, value) / read_reg(name)
    run(prog_addr)                       SEQ_CTRL.START, wait for the irq pin
    run_io(prog_addr, writes, reads, perf)  inputs in, run, outputs out: a batch item
    program(desc, targets, on_chip, scratch_word)
    mvm_ops() / activity()               the macros' counters
    set_time(seconds) / conductance(macro) / stuck_cells(macro)
    fw_open() / firmware(call, *args)    the C driver in this process (rmlora.sw.runtime.
                                         firmware), its bus the AXI4-Lite manager
    close()
"""

import time

import cocotb
import numpy as np
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time

from rmlora.contract import REG
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.contract.xbar import XBAR_DESC_BITS
from rmlora.sim.host_bus import CLOCK_PERIOD_NS, XBAR_PERF, start_chip
from rmlora.sim.link import connect
from rmlora.sim.macro_driver import MacroPortDriver
from rmlora.sim.reram import MacroArray
from rmlora.sw.formats.image import ImageError
from rmlora.sw.formats.xbar import Descriptor
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.chip import ChipError

from .firmware import FIRMWARE_CALLS, FirmwareDriver, FirmwareError

PERF = PERF_REGISTERS


class BridgedBus:
    """The C driver's platform in a cosimulation: its read32/write32 block the driver's
    thread while cocotb performs one AXI4-Lite access (cocotb.task.resume), and its
    wait_irq waits for the chip's irq pin the same way."""

    def __init__(self, dut, bus):
        self.dut = dut
        self._read = resume(bus.read_word_raw)
        self._write = resume(bus.write_word_raw)
        self.wait_irq = resume(self._irq_high)

    def read32(self, addr: int) -> tuple[int, int]:
        value, resp = self._read(addr)
        return resp.value, value

    def write32(self, addr: int, value: int) -> int:
        return self._write(addr, value).value

    async def _irq_high(self):
        if not int(self.dut.irq.value):
            await RisingEdge(self.dut.irq)


class Server:
    def __init__(self, dut, bus):
        self.dut, self.bus, self.macros = dut, bus, None

    def _cycles(self) -> int:
        return round(get_sim_time("ns") / CLOCK_PERIOD_NS)

    async def init(self, params, macro_config, seed):
        await self._check_build(params)
        self.params = params
        self.macros = MacroArray(params, macro_config, seed=seed)
        MacroPortDriver(self.dut, self.macros)
        await self.bus.write_reg("SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_EN=1))
        return True

    async def _check_build(self, params):
        """The Verilog under simulation must be the build of `params`: its HW_* registers
        say which one it is (a stale or mixed-up build fails here, by field)."""
        built = {**REG["HW_SRAM"].unpack(await self.bus.read_reg("HW_SRAM")),
                 **REG["HW_MACRO"].unpack(await self.bus.read_reg("HW_MACRO"))}
        want = {"WIDTH_BYTES": params.sram_word_bytes,
                "DEPTH_LOG2": params.sram_addr_width,
                "N_MACROS": params.n_macros, "ADC_BITS": params.adc_bits,
                "ROWS": params.macro_rows, "COLS": params.macro_cols}
        wrong = [f"{k} is {built[k]}, params want {v}" for k, v in want.items() if built[k] != v]
        if wrong:
            raise ValueError(f"the simulated Verilog is another build: {'; '.join(wrong)}")

    async def write_sram(self, offset, data):
        await self.bus.write_sram(offset, data)

    async def read_sram(self, offset, length):
        return await self.bus.read_sram(offset, length)

    async def write_reg(self, name, value):
        await self.bus.write_reg(name, value)

    async def read_reg(self, name):
        return await self.bus.read_reg(name)

    async def run(self, prog_addr, perf=True):
        """Run one layer program; returns SEQ_STATUS's fields, the error log and (with
        `perf`) PERF_*."""
        bus = self.bus
        await bus.write_reg("SEQ_PROG", prog_addr)
        await bus.write_reg("SEQ_CTRL", REG["SEQ_CTRL"].pack(START=1, IRQ_EN=1))
        if not int(self.dut.irq.value):
            await RisingEdge(self.dut.irq)
        status = REG["SEQ_STATUS"].unpack(await bus.read_reg("SEQ_STATUS"))
        await bus.write_reg("SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_ACK=1, IRQ_EN=1))
        out = {**status, "ERR_CODE": await bus.read_reg("ERR_CODE"),
               **{name: await bus.read_reg(name) for name in (PERF if perf else ())}}
        if out["ERR_CODE"]:
            await bus.write_reg("CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
        return out

    async def run_io(self, prog_addr, writes, reads, perf):
        """One batch item in one command: write the (offset, bytes) spans, run the program,
        read the (offset, length) spans; returns run's fields (PERF_* only with `perf`:
        the batch's last item) and the spans' bytes (none if the run failed)."""
        for offset, data in writes:
            await self.bus.write_sram(offset, data)
        out = await self.run(prog_addr, perf)
        if out["ERROR"]:
            return out, []
        return out, [await self.bus.read_sram(offset, length) for offset, length in reads]

    async def program(self, desc, targets, on_chip, scratch_word):
        """Write-verify one block: through the RTL (targets via the SRAM, XB_CTRL), or
        with the golden model of that RTL on this process's macros (equal bit for bit,
        tests/cosim/test_xbar_cosim.py; minutes faster for a whole network)."""
        if not on_chip:
            result, failed, counts = gxbar.program(desc, targets, self.macros)
            return result, failed, vars(counts)
        wb = self.params.sram_word_bytes
        cells = desc.n_rows * desc.n_cols
        src = scratch_word + self.params.words_for(XBAR_DESC_BITS)  # after the descriptor
        dst = src + -(-cells // wb)
        desc = Descriptor(**{**vars(desc), "src": src, "dst": dst})
        blob = np.asarray(targets, dtype=np.uint8).tobytes()
        await self.bus.write_sram(src * wb, blob + bytes(-len(blob) % 4))
        status = await self.bus.run_xbar(desc, at_word=scratch_word)
        if status["ERROR"]:
            raise RuntimeError(f"PROGRAM refused: ERR_CODE {await self.bus.read_reg('ERR_CODE')}")
        raw = await self.bus.read_sram(dst * wb, cells + (-cells % 4))
        result = np.frombuffer(raw[:cells], dtype=np.uint8).reshape(desc.n_rows, desc.n_cols)
        counts = {k: status[k] for k in XBAR_PERF}
        return result, await self.bus.read_reg("XB_FAILED"), counts

    async def fw_open(self):
        """Open the C driver over this chip's control port (identifies the chip)."""
        self.fw = await bridge(FirmwareDriver)(BridgedBus(self.dut, self.bus))
        return True

    async def firmware(self, call, *args):
        """One C driver call, run in a bridge thread: ("ok", value), or ("raised", the
        driver's exception), which the host raises as it is."""
        if call not in FIRMWARE_CALLS:
            raise ValueError(f"no C driver call {call!r}: one of {', '.join(FIRMWARE_CALLS)}")
        try:
            return "ok", await bridge(getattr(self.fw, call))(*args)
        except (ChipError, ImageError, FirmwareError) as exc:
            return "raised", exc

    async def mvm_ops(self):
        return self.macros.mvm_ops.tolist()

    async def activity(self):
        return self.macros.activity()

    async def set_time(self, seconds):
        self.macros.set_time(seconds)

    async def conductance(self, macro):
        return self.macros[macro].conductance()

    async def stuck_cells(self, macro):
        return self.macros[macro].statics.stuck.copy()


@cocotb.test()
async def serve(dut):
    bus = await start_chip(dut)
    server = Server(dut, bus)
    conn = connect()
    try:
        while True:
            name, *args = conn.recv()  # simulated time stands still meanwhile
            if name == "close":
                conn.send(("ok", None, 0, 0.0))
                break
            cycles0, wall0 = server._cycles(), time.perf_counter()
            try:
                if name.startswith("_") or not hasattr(server, name):
                    raise ValueError(f"no command {name!r}")
                value = await getattr(server, name)(*args)
                reply = ("ok", value)
            except Exception as exc:  # reported to the host, which raises it there
                reply = ("error", f"{type(exc).__name__}: {exc}")
            conn.send(reply + (server._cycles() - cycles0, time.perf_counter() - wall0))
        await ClockCycles(dut.clk, 1)
    finally:
        conn.close()
