"""The bridge alone, against a target model in the testbench: channel orders the
cocotb master never produces (W long before AW), back-pressure, alternation."""

from rmlora.contract import AxiResp, ErrorCode
from rmlora.hw.axi_lite import AxiLiteBridge

from .sim_helpers import run_sim


async def serve_one(ctx, dut, rdata=0, resp=AxiResp.OKAY, delay=0):
    """Act as the target for one request; return its payload."""
    while not ctx.get(dut.bus.req.valid):
        await ctx.tick()
    req = ctx.get(dut.bus.req.p)
    ctx.set(dut.bus.req.ready, 1)
    await ctx.tick()
    ctx.set(dut.bus.req.ready, 0)
    await ctx.tick().repeat(delay + 1)
    ctx.set(dut.bus.resp.p, {"rdata": rdata, "resp": resp, "error": ErrorCode.NONE})
    ctx.set(dut.bus.resp.valid, 1)
    while not ctx.get(dut.bus.resp.ready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(dut.bus.resp.valid, 0)
    return req


def test_w_before_aw_then_slow_b_ready():
    dut = AxiLiteBridge()

    async def tb(ctx):
        axi = dut.axi
        ctx.set(axi.wdata, 0xCAFEF00D)
        ctx.set(axi.wstrb, 0b0110)
        ctx.set(axi.wvalid, 1)
        await ctx.tick()
        ctx.set(axi.wvalid, 0)
        await ctx.tick().repeat(5)
        assert not ctx.get(dut.bus.req.valid), "a write must wait for its address"
        ctx.set(axi.awaddr, 0x40)
        ctx.set(axi.awvalid, 1)
        await ctx.tick()
        ctx.set(axi.awvalid, 0)
        req = await serve_one(ctx, dut, resp=AxiResp.SLVERR, delay=3)
        assert (req.addr, req.write, req.wdata, req.wstrb) == (0x40, 1, 0xCAFEF00D, 0b0110)
        for _ in range(6):  # B held until the manager takes it
            await ctx.tick()
            assert ctx.get(axi.bvalid) and AxiResp(ctx.get(axi.bresp)) == AxiResp.SLVERR
        ctx.set(axi.bready, 1)
        await ctx.tick()
        ctx.set(axi.bready, 0)
        assert not ctx.get(axi.bvalid)

    run_sim(dut, tb)


def test_pending_read_and_write_alternate():
    dut = AxiLiteBridge()

    async def tb(ctx):
        axi = dut.axi
        ctx.set(axi.bready, 1)
        ctx.set(axi.rready, 1)
        order = []
        for i in range(3):
            ctx.set(axi.awaddr, 0x100 + 4 * i)
            ctx.set(axi.wdata, i)
            ctx.set(axi.wstrb, 0xF)
            ctx.set(axi.araddr, 0x200 + 4 * i)
            for v in (axi.awvalid, axi.wvalid, axi.arvalid):
                ctx.set(v, 1)
            await ctx.tick()
            for v in (axi.awvalid, axi.wvalid, axi.arvalid):
                ctx.set(v, 0)
            for _ in range(2):
                req = await serve_one(ctx, dut, rdata=0xA0 + i)
                order.append("W" if req.write else "R")
        assert order == ["W", "R", "W", "R", "W", "R"]

    run_sim(dut, tb)
