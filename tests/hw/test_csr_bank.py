from rmlora.contract import REG, REGISTERS, AxiResp, ErrorCode
from rmlora.hw.csr_bank import CsrBank

from .sim_helpers import bus_access, run_sim


def test_rw_registers_honour_strobes_and_reset_values():
    dut = CsrBank(REGISTERS)
    scratch = REG["SCRATCH"].offset

    async def tb(ctx):
        assert ctx.get(dut.scratch) == REG["SCRATCH"].reset
        assert await bus_access(ctx, dut.bus, scratch, write=True, wdata=0xAABBCCDD) == (
            0, AxiResp.OKAY, ErrorCode.NONE)
        await bus_access(ctx, dut.bus, scratch, write=True, wdata=0x11223344, wstrb=0b0101)
        rdata, resp, _ = await bus_access(ctx, dut.bus, scratch)
        assert (rdata, resp) == (0xAA22CC44, AxiResp.OKAY)
        assert ctx.get(dut.scratch) == 0xAA22CC44

    run_sim(dut, tb)


def test_read_only_write_is_refused_and_unmapped_offset_decodes_error():
    dut = CsrBank(REGISTERS)

    async def tb(ctx):
        ctx.set(dut.id, 0x12345678)
        assert await bus_access(ctx, dut.bus, REG["ID"].offset, write=True, wdata=0) == (
            0, AxiResp.SLVERR, ErrorCode.BUS_READ_ONLY)
        assert (await bus_access(ctx, dut.bus, REG["ID"].offset))[0] == 0x12345678
        unmapped = max(r.offset for r in REGISTERS) + 4
        assert await bus_access(ctx, dut.bus, unmapped) == (
            0, AxiResp.DECERR, ErrorCode.BUS_UNMAPPED)

    run_sim(dut, tb)


def test_pulse_field_lasts_one_cycle_and_reserved_bits_read_zero():
    dut = CsrBank(REGISTERS)
    ctrl = REG["CTRL"]

    async def tb(ctx):
        ctx.set(dut.bus.req.p,
                {"addr": ctrl.offset, "write": 1, "wdata": 0xFFFF_FFFF, "wstrb": 0xF})
        ctx.set(dut.bus.req.valid, 1)
        await ctx.tick()
        ctx.set(dut.bus.req.valid, 0)
        seen = []
        for _ in range(4):
            seen.append(ctx.get(dut.ctrl))
            await ctx.tick()
        assert seen == [ctrl.writable_mask, 0, 0, 0]  # reserved bits are never stored

    run_sim(dut, tb)


def test_read_strobe_marks_the_read():
    dut = CsrBank(REGISTERS)

    async def tb(ctx):
        ctx.set(dut.bus.req.p, {"addr": REG["CYCLE_LO"].offset, "write": 0})
        ctx.set(dut.bus.req.valid, 1)
        assert ctx.get(dut.cycle_lo_read) == 1
        ctx.set(dut.bus.req.p.addr, REG["CYCLE_HI"].offset)
        assert ctx.get(dut.cycle_lo_read) == 0

    run_sim(dut, tb)
