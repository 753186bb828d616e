"""Host-bus driver for cocotb: registers by name, the SRAM buffer by offset.

Wraps cocotbext-axi's AxiLiteMaster on the chip's control port `s_axil` (registers,
and single SRAM words through the window) and its AxiMaster on the bulk port
`s_axi` (SRAM bytes in bursts of SRAM words). Register offsets, fields, the window
base and the bulk port's rules come from the contract, so the testbench and the C
driver address the chip in the same way.
"""

import logging
import time
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiMaster

from rmlora.contract import REG, SRAM_WINDOW_BASE, AxiResp
from rmlora.contract.bulk_port import BULK_MAX_BEATS
from rmlora.contract.perf import perf_registers

__all__ = ["BusError", "HostBus", "XBAR_PERF", "start_chip"]

CLOCK_PERIOD_NS = 10  # 100 MHz: the simulated clock; only cycle counts matter
# the crossbar controller's performance counters, by the names the golden model uses
XBAR_PERF = perf_registers("xbar")


@dataclass
class BusError(Exception):
    address: int  # on the control bus; for a bulk transfer, the bulk port's (an SRAM offset)
    resp: AxiResp
    length: int = 4  # bytes: a bulk SRAM access reports its whole range

    def __str__(self):
        where = f"0x{self.address:08x}" + (f" ({self.length} bytes)" if self.length != 4 else "")
        return f"bus access at {where} answered {self.resp.name}"


def _bulk_ok(resp, address: int, length: int):
    """Raise BusError if a bulk transfer's response (the worst of its beats) is not OKAY."""
    code = AxiResp(int(resp.resp))
    if code != AxiResp.OKAY:
        raise BusError(address, code, length)


class HostBus:
    def __init__(self, dut):
        self.dut = dut
        # cocotbext-axi's managers log their banner and configuration at INFO as they
        # are made, a dozen lines a start: held to warnings while they are built
        cocotb_log = logging.getLogger("cocotb")
        level = cocotb_log.level
        cocotb_log.setLevel(logging.WARNING)
        try:
            self.axi = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil_"), dut.clk, dut.rst)
            # AxiMaster splits a transfer at BULK_MAX_BEATS beats and at 4 KiB boundaries
            # itself, into INCR bursts of full-width beats: what the bulk port takes
            self.bulk = AxiMaster(AxiBus.from_prefix(dut, "s_axi_"), dut.clk, dut.rst,
                                  max_burst_len=BULK_MAX_BEATS)
        finally:
            cocotb_log.setLevel(level)
        self.beat_bytes = self.bulk.write_if.byte_lanes  # one SRAM word
        # cocotbext-axi logs every transaction at INFO: far too much for a bench
        for master in (self.axi, self.bulk):
            master.write_if.log.setLevel(logging.WARNING)
            master.read_if.log.setLevel(logging.WARNING)

    # Raw accesses return the AXI response instead of raising. Each is exactly one
    # bus beat: AxiLiteMaster splits an access that crosses a word boundary in
    # two, so a misaligned one is shortened to end at its word's boundary.
    async def write_word_raw(self, addr: int, value: int, nbytes: int = 4) -> AxiResp:
        nbytes = min(nbytes, 4 - addr % 4)
        resp = await self.axi.write(addr, (value & 0xFFFF_FFFF).to_bytes(4, "little")[:nbytes])
        return AxiResp(int(resp.resp))

    async def read_word_raw(self, addr: int) -> tuple[int, AxiResp]:
        resp = await self.axi.read(addr, 4 - addr % 4)
        return int.from_bytes(resp.data, "little"), AxiResp(int(resp.resp))

    async def write_word(self, addr: int, value: int):
        resp = await self.write_word_raw(addr, value)
        if resp != AxiResp.OKAY:
            raise BusError(addr, resp)

    async def read_word(self, addr: int) -> int:
        value, resp = await self.read_word_raw(addr)
        if resp != AxiResp.OKAY:
            raise BusError(addr, resp)
        return value

    async def read_reg(self, name: str) -> int:
        return await self.read_word(REG[name].offset)

    async def write_reg(self, name: str, value: int):
        await self.write_word(REG[name].offset, value)

    async def write_sram(self, offset: int, data: bytes):
        """Copy bytes into the SRAM buffer (offset and length multiples of 4): whole
        SRAM words through the bulk port, in bursts; a 32-bit word before the first
        or after the last whole SRAM word through the window (the bulk port takes
        only word-aligned bursts, and a read-modify-write could race the chip)."""
        self._check_window(offset, len(data))
        start = min(-(-offset // self.beat_bytes) * self.beat_bytes, offset + len(data))
        end = max(start, (offset + len(data)) // self.beat_bytes * self.beat_bytes)
        data = bytes(data)
        for at in [*range(offset, start, 4), *range(end, offset + len(data), 4)]:
            word = int.from_bytes(data[at - offset:at - offset + 4], "little")
            await self.write_word(SRAM_WINDOW_BASE + at, word)
        if end > start:
            resp = await self.bulk.write(start, data[start - offset:end - offset])
            _bulk_ok(resp, start, end - start)

    async def read_sram(self, offset: int, length: int) -> bytes:
        """Bytes of the SRAM buffer: the whole SRAM words around them, read in bursts
        through the bulk port."""
        self._check_window(offset, length)
        if not length:
            return b""
        start = offset // self.beat_bytes * self.beat_bytes
        end = -(-(offset + length) // self.beat_bytes) * self.beat_bytes
        resp = await self.bulk.read(start, end - start)
        _bulk_ok(resp, start, end - start)
        return bytes(resp.data[offset - start:offset - start + length])

    @staticmethod
    def _check_window(offset: int, length: int):
        if offset % 4 or length % 4:
            raise ValueError("SRAM window accesses are whole 32-bit words")

    async def run_xbar(self, desc, at_word: int = 0, poll_cycles: int = 200,
                       max_cycles: int = 2_000_000) -> dict:
        """Write crossbar descriptor `desc` at SRAM word `at_word`, start it and poll until
        it finishes. Returns the XB_STATUS fields, the PERF counter deltas (cycles, adc,
        mvm, pulses, verify), and the wall-clock seconds and simulated cycles from
        START to the status read that saw it finish."""
        word_bytes = REG["HW_SRAM"].unpack(await self.read_reg("HW_SRAM"))["WIDTH_BYTES"]
        before = {k: await self.read_reg(r) for k, r in XBAR_PERF.items()}
        await self.write_sram(at_word * word_bytes, desc.pack())
        await self.write_reg("XB_DESC", at_word)
        await self.write_reg("XB_CTRL", REG["XB_CTRL"].pack(START=1))
        t0, sim0 = time.perf_counter(), get_sim_time("ns")
        waited = 0
        while True:
            status = REG["XB_STATUS"].unpack(await self.read_reg("XB_STATUS"))
            if not status["BUSY"]:
                break
            if waited >= max_cycles:
                raise AssertionError(f"controller still busy after {waited} cycles")
            await Timer(poll_cycles * CLOCK_PERIOD_NS, unit="ns")
            waited += poll_cycles
        wall = time.perf_counter() - t0
        sim_cycles = round((get_sim_time("ns") - sim0) / CLOCK_PERIOD_NS)
        after = {k: await self.read_reg(r) for k, r in XBAR_PERF.items()}
        return {**status, **{k: after[k] - before[k] for k in XBAR_PERF}, "wall_s": wall,
                "sim_cycles": sim_cycles}

    async def cycles(self) -> int:
        lo = await self.read_reg("CYCLE_LO")
        return (await self.read_reg("CYCLE_HI")) << 32 | lo


async def start_chip(dut, reset_cycles: int = 4) -> HostBus:
    """Start the clock, reset the chip, and return a driver for its host bus."""
    # Reset before the driver exists: it samples rst, which Icarus starts at X.
    dut.rst.value = 1
    # The clock toggles in cocotb's C++ (no Python per edge) on Verilator; Icarus needs
    # the Python clock (with the C++ one the AXI handshakes sample the wrong values).
    impl = "gpi" if cocotb.SIM_NAME.lower().startswith("verilator") else "py"
    cocotb.start_soon(Clock(dut.clk, CLOCK_PERIOD_NS, unit="ns", impl=impl).start())
    bus = HostBus(dut)
    await ClockCycles(dut.clk, reset_cycles)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 1)
    return bus
