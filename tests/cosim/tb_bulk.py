"""cocotb testbench of the bulk port (`s_axi`) on the chip top.

cocotbext-axi's AxiMaster drives random bursts with random pauses on all five
channels; every word read back, every response and the error log are compared
with `==` against a byte array of the SRAM and the contract's `bulk_refusal`.
"""

import os
import random

import cocotb
from cocotb.triggers import gather
from cocotbext.axi import AxiBurstType
from tb_bus import random_pauses, stall_all_channels  # noqa: I001 - a cocotb module beside us

from rmlora.contract import SRAM_WINDOW_BASE, AxiResp, ChipParams, ErrorCode
from rmlora.contract.bulk_port import bulk_beat_bytes, bulk_refusal
from rmlora.sim.host_bus import BusError, start_chip

SEED = int(os.environ.get("RMLORA_SEED", "1"))
PARAMS = ChipParams()  # the build the pytest fixture wrote
BEAT = bulk_beat_bytes(PARAMS)


def stall_bulk_channels(bus, rng: random.Random, probability: float = 0.3):
    for channel in (bus.bulk.write_if.aw_channel, bus.bulk.write_if.w_channel,
                    bus.bulk.write_if.b_channel, bus.bulk.read_if.ar_channel,
                    bus.bulk.read_if.r_channel):
        channel.set_pause_generator(random_pauses(rng, probability))


async def fill(bus, rng: random.Random) -> bytearray:
    """The whole SRAM written with random bytes through the bulk port."""
    ref = bytearray(rng.randbytes(PARAMS.sram_bytes))
    await bus.write_sram(0, bytes(ref))
    return ref


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def random_bursts_read_back(dut):
    """Transfers of random length (partial last beats: strobes) from random word
    addresses, split by AxiMaster at 256 beats and 4 KiB, read back `==`."""
    rng = random.Random(SEED)
    bus = await start_chip(dut)
    stall_bulk_channels(bus, rng)
    ref = await fill(bus, rng)
    assert await bus.read_sram(0, PARAMS.sram_bytes) == ref
    for _ in range(40):
        length = rng.choice((1, BEAT, 3 * BEAT + 5, rng.randrange(1, 5000)))
        addr = BEAT * rng.randrange((PARAMS.sram_bytes - length) // BEAT)
        data = rng.randbytes(length)
        resp = await bus.bulk.write(addr, data)
        assert AxiResp(int(resp.resp)) == AxiResp.OKAY
        ref[addr:addr + length] = data
        n = rng.randrange(1, 5000)
        at = BEAT * rng.randrange((PARAMS.sram_bytes - n) // BEAT)
        got = await bus.bulk.read(at, n)
        assert AxiResp(int(got.resp)) == AxiResp.OKAY and got.data == ref[at:at + n]
    # the driver's own entry points, at 32-bit (not SRAM-word) boundaries too
    for offset, length in ((4, 4), (4, 12), (12, 40), (0, 4), (PARAMS.sram_bytes - 4, 4)):
        data = rng.randbytes(length)
        await bus.write_sram(offset, data)
        ref[offset:offset + length] = data
        assert await bus.read_sram(offset, length) == data
    assert await bus.read_sram(0, PARAMS.sram_bytes) == ref
    assert await bus.read_reg("ERR_COUNT") == 0


@cocotb.test(timeout_time=10, timeout_unit="ms")
async def refused_bursts_write_nothing(dut):
    rng = random.Random(SEED + 1)
    bus = await start_chip(dut)
    stall_bulk_channels(bus, rng, 0.2)
    ref = await fill(bus, rng)
    end = PARAMS.sram_bytes
    cases = [  # (addr, bytes, AxSIZE, burst)
        (64, 4 * BEAT, 3, AxiBurstType.FIXED),
        (64, 4 * BEAT, 3, AxiBurstType.WRAP),
        (64, 4 * BEAT, 2, AxiBurstType.INCR),  # narrow
        (68, 4 * BEAT, 3, AxiBurstType.INCR),  # unaligned
        (end, 2 * BEAT, 3, AxiBurstType.INCR),  # past the end
    ]
    for count, (addr, length, size, burst) in enumerate(cases, start=1):
        beats = length // (1 << size)
        want = bulk_refusal(PARAMS, addr, beats, size, burst)
        assert want != ErrorCode.NONE
        resp = await bus.bulk.write(addr, bytes([0x5A]) * length, size=size, burst=burst)
        assert AxiResp(int(resp.resp)) == want.axi_resp
        assert await bus.read_reg("ERR_COUNT") == 2 * count - 1
        got = await bus.bulk.read(addr, length, size=size, burst=burst)
        assert AxiResp(int(got.resp)) == want.axi_resp and got.data == bytes(length)
        assert await bus.read_reg("ERR_COUNT") == 2 * count
        if count == 1:
            assert await bus.read_reg("ERR_CODE") == want.value
            assert await bus.read_reg("ERR_ADDR") == addr
    assert await bus.read_sram(0, PARAMS.sram_bytes) == ref
    try:
        await bus.write_sram(end - 16, bytes(32))
    except BusError as e:
        assert (e.resp, e.address) == (AxiResp.DECERR, end - 16)
    else:
        raise AssertionError("a write past the end was not refused")


@cocotb.test(timeout_time=10, timeout_unit="ms")
async def bulk_and_control_bus_together(dut):
    """Bulk bursts in one half of the SRAM while the control bus writes and reads
    words of the other half and a register: neither disturbs the other."""
    rng = random.Random(SEED + 2)
    bus = await start_chip(dut)
    stall_bulk_channels(bus, rng, 0.2)
    stall_all_channels(bus, rng, 0.2)
    ref = await fill(bus, rng)
    half = PARAMS.sram_bytes // 2

    async def bulk():
        for _ in range(20):
            n = rng.randrange(1, 3000)
            addr = BEAT * rng.randrange((half - n) // BEAT)
            data = rng.randbytes(n)
            await bus.bulk.write(addr, data)
            ref[addr:addr + n] = data
            got = await bus.bulk.read(addr, n)
            assert got.data == data

    async def control():
        for k in range(80):
            at = half + 4 * rng.randrange(half // 4)
            if rng.random() < 0.5:
                value = rng.getrandbits(32)
                await bus.write_word(SRAM_WINDOW_BASE + at, value)
                ref[at:at + 4] = value.to_bytes(4, "little")
            else:
                assert await bus.read_word(SRAM_WINDOW_BASE + at) == int.from_bytes(
                    ref[at:at + 4], "little")
            await bus.write_reg("SCRATCH", k)
            assert await bus.read_reg("SCRATCH") == k

    await gather(bulk(), control())
    assert await bus.read_sram(0, PARAMS.sram_bytes) == ref
    assert await bus.read_reg("ERR_COUNT") == 0
