"""cocotb testbench of the host bus: registers, SRAM window, errors, reset.

Every access goes through cocotbext-axi's AxiLiteMaster with random pauses on
all five channels, and its response and data are compared with `==` against
sim.bus_model.BusModel (the scoreboard).
"""

import os
import random

import cocotb
from cocotb.triggers import ClockCycles, gather

from rmlora.contract import (
    CHIP_ID,
    CSR_REGION,
    REG,
    REGISTERS,
    SRAM_WINDOW_BASE,
    Access,
    ChipParams,
    ErrorCode,
)
from rmlora.sim.bus_model import ACTIONS, BusModel
from rmlora.sim.host_bus import start_chip

SEED = int(os.environ.get("RMLORA_SEED", "1"))
N_RANDOM = int(os.environ.get("RMLORA_BUS_OPS", "600"))
PARAMS = ChipParams()  # the build the pytest fixture wrote
# every register but those whose write starts another block (tb_xbar covers them)
BUS_REGISTERS = [r for r in REGISTERS if r.name not in ACTIONS]


def random_pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


def stall_all_channels(bus, rng: random.Random, probability: float = 0.3):
    for channel in (bus.axi.write_if.aw_channel, bus.axi.write_if.w_channel,
                    bus.axi.write_if.b_channel, bus.axi.read_if.ar_channel,
                    bus.axi.read_if.r_channel):
        channel.set_pause_generator(random_pauses(rng, probability))


async def checked_read(bus, model: BusModel, addr: int):
    data, resp = await bus.read_word_raw(addr)
    want = model.read(addr)
    assert resp == want.resp, f"read 0x{addr:08x}: resp {resp!r}, model {want.resp!r}"
    if want.data is not None:
        assert data == want.data, f"read 0x{addr:08x}: 0x{data:08x}, model 0x{want.data:08x}"
    return data


async def checked_write(bus, model: BusModel, addr: int, value: int, nbytes: int = 4):
    resp = await bus.write_word_raw(addr, value, nbytes)
    want = model.write(addr, value, (1 << nbytes) - 1)
    assert resp == want.resp, f"write 0x{addr:08x}: resp {resp!r}, model {want.resp!r}"


def random_address(rng: random.Random) -> int:
    """Mostly legal addresses, with every kind of illegal one mixed in."""
    kind = rng.random()
    if kind < 0.55:
        return SRAM_WINDOW_BASE + 4 * rng.randrange(PARAMS.sram_bytes // 4)
    if kind < 0.85:
        return rng.choice(BUS_REGISTERS).offset
    if kind < 0.90:
        return rng.randrange(CSR_REGION.size // 4) * 4  # mostly unmapped CSR offsets
    if kind < 0.95:
        return SRAM_WINDOW_BASE + PARAMS.sram_bytes + 4 * rng.randrange(1024)  # past the end
    return rng.randrange(1 << 32) | 1  # misaligned


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def identity_registers(dut):
    """ID, VERSION and HW_SRAM report exactly what the contract says."""
    bus = await start_chip(dut)
    model = BusModel(PARAMS)
    assert await bus.read_reg("ID") == CHIP_ID
    for name in ("VERSION", "HW_SRAM", "STATUS", "ERR_CODE", "SCRATCH", "CTRL"):
        await checked_read(bus, model, REG[name].offset)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def scratch_byte_strobes(dut):
    bus = await start_chip(dut)
    model = BusModel(PARAMS)
    addr = REG["SCRATCH"].offset
    await checked_write(bus, model, addr, 0xDEADBEEF)
    await checked_read(bus, model, addr)
    for nbytes in (1, 2, 3):
        await checked_write(bus, model, addr, 0x12345678 * nbytes, nbytes)
        await checked_read(bus, model, addr)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def random_traffic_with_stalls(dut):
    """Random reads/writes over every region with random stalls, one at a time."""
    rng = random.Random(SEED)
    bus = await start_chip(dut)
    stall_all_channels(bus, rng)
    model = BusModel(PARAMS)
    for _ in range(N_RANDOM):
        addr = random_address(rng)
        if rng.random() < 0.5:
            await checked_write(bus, model, addr, rng.getrandbits(32), rng.choice((1, 2, 3, 4, 4)))
        else:
            await checked_read(bus, model, addr)
    for name in ("ERR_CODE", "ERR_ADDR", "ERR_COUNT", "STATUS"):
        await checked_read(bus, model, REG[name].offset)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def concurrent_reads_and_writes(dut):
    """Reads and writes in flight together on disjoint SRAM halves: the bridge
    interleaves them and neither corrupts the other."""
    rng = random.Random(SEED + 1)
    bus = await start_chip(dut)
    stall_all_channels(bus, rng, 0.2)
    half = PARAMS.sram_bytes // 2
    reference = bytes(rng.getrandbits(8) for _ in range(256))
    await bus.write_sram(half, reference)

    written = {}

    async def writer():
        for _ in range(64):
            off = 4 * rng.randrange(half // 4)
            written[off] = rng.getrandbits(32)
            await bus.write_word(SRAM_WINDOW_BASE + off, written[off])

    async def reader():
        assert await bus.read_sram(half, len(reference)) == reference
        for _ in range(64):
            i = 4 * rng.randrange(len(reference) // 4)
            assert await bus.read_sram(half + i, 4) == reference[i:i + 4]

    await gather(writer(), reader())
    for off, value in written.items():
        assert await bus.read_word(SRAM_WINDOW_BASE + off) == value


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def illegal_accesses_set_the_error_log(dut):
    bus = await start_chip(dut)
    model = BusModel(PARAMS)
    illegal = [
        ("read", 0x800),  # inside the CSR region, no register
        ("write", REG["ID"].offset),  # read-only
        ("read", SRAM_WINDOW_BASE + PARAMS.sram_bytes),  # one past the window
        ("write", 0x4000_0000),  # no region at all
        ("read", REG["SCRATCH"].offset + 2),  # misaligned
        ("write", SRAM_WINDOW_BASE + 1),  # misaligned
    ]
    for kind, addr in illegal:
        if kind == "read":
            await checked_read(bus, model, addr)
        else:
            await checked_write(bus, model, addr, 0xFFFF_FFFF)
        # the bus keeps working after every refusal
        await checked_write(bus, model, REG["SCRATCH"].offset, addr)
        await checked_read(bus, model, REG["SCRATCH"].offset)
    assert model.err_code == ErrorCode.BUS_UNMAPPED and model.err_count == len(illegal)
    for name in ("ERR_CODE", "ERR_ADDR", "ERR_COUNT", "STATUS"):
        await checked_read(bus, model, REG[name].offset)
    await checked_write(bus, model, REG["CTRL"].offset, REG["CTRL"].pack(CLEAR_ERR=1))
    for name in ("ERR_CODE", "ERR_ADDR", "ERR_COUNT", "STATUS", "CTRL"):
        await checked_read(bus, model, REG[name].offset)
    assert model.err_code == ErrorCode.NONE


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def reset_in_the_middle_of_transactions(dut):
    """A reset while writes and reads are in flight drops them; then the bus works,
    registers are back at their reset values and the SRAM keeps its contents."""
    rng = random.Random(SEED + 2)
    bus = await start_chip(dut)
    model = BusModel(PARAMS)
    keep = bytes(rng.getrandbits(8) for _ in range(64))
    await bus.write_sram(0, keep)
    model.sram[0:64] = keep
    await checked_write(bus, model, REG["SCRATCH"].offset, 0x5A5A5A5A)
    await checked_read(bus, model, 0x804)  # sets the error log

    for delay in (0, 1, 2, 3, 5, 8):
        stall_all_channels(bus, rng, 0.5)
        # in flight: writes to a scratch area of the SRAM (outside `keep`) and reads
        bus.axi.init_write(SRAM_WINDOW_BASE + 1024, bytes(16))
        bus.axi.init_read(SRAM_WINDOW_BASE, 16)
        bus.axi.init_write(REG["SCRATCH"].offset, b"\x01\x02\x03\x04")
        await ClockCycles(dut.clk, delay)
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 1)
        model.reset()
        stall_all_channels(bus, rng, 0.0)
        for reg in REGISTERS:
            if reg.access is Access.RW or reg.name.startswith("ERR"):
                await checked_read(bus, model, reg.offset)
        assert await bus.read_sram(0, 64) == keep
        await checked_write(bus, model, REG["SCRATCH"].offset, delay)
        await checked_read(bus, model, REG["SCRATCH"].offset)


@cocotb.test(timeout_time=5, timeout_unit="ms")
async def cycle_counter_reads_are_consistent(dut):
    bus = await start_chip(dut)
    before = await bus.cycles()
    await ClockCycles(dut.clk, 1000)
    after = await bus.cycles()
    # 1000 idle cycles plus the bus reads in between: at least 1000, not much more
    assert 1000 < after - before < 1100, (before, after)
