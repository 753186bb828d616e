"""amaranth.sim helpers shared by the block tests."""

from amaranth.sim import Simulator

from rmlora.contract import AxiResp, ErrorCode


def run_sim(dut, testbench, *, vcd: str | None = None):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


async def bus_access(ctx, bus, addr, *, write=False, wdata=0, wstrb=0xF, max_cycles=50):
    """One request on a BusTargetSignature port; returns (rdata, resp, error)."""
    ctx.set(bus.req.p, {"addr": addr, "write": write, "wdata": wdata, "wstrb": wstrb})
    ctx.set(bus.req.valid, 1)
    for _ in range(max_cycles):
        _, _, ready = await ctx.tick().sample(bus.req.ready)
        if ready:
            break
    else:
        raise AssertionError("request never accepted")
    ctx.set(bus.req.valid, 0)
    ctx.set(bus.resp.ready, 1)
    for _ in range(max_cycles):
        _, _, valid, payload = await ctx.tick().sample(bus.resp.valid, bus.resp.p)
        if valid:
            ctx.set(bus.resp.ready, 0)
            return payload.rdata, AxiResp(payload.resp), ErrorCode(payload.error)
    raise AssertionError("no response")


class MacroResponder:
    """Plays the macros on a block's macro port under amaranth.sim, one step per cycle:
    takes a request when it is valid and answers MACRO_LATENCY[op] cycles later."""

    def __init__(self, dut, macros):
        self.dut, self.macros, self.pending = dut, macros, None

    def step(self, ctx, cycle: int):
        from rmlora.contract.xbar import MACRO_LATENCY
        dut = self.dut
        if self.pending is None and ctx.get(dut.macro_req.valid):
            op, response = self.macros.serve(ctx.get(dut.macro_req.p.as_value()))
            self.pending = (cycle + MACRO_LATENCY[op], response)
            ctx.set(dut.macro_req.ready, 1)
        else:
            ctx.set(dut.macro_req.ready, 0)
        due = self.pending is not None and self.pending[0] == cycle
        ctx.set(dut.macro_resp.valid, due)
        if due:
            ctx.set(dut.macro_resp.p.as_value(), self.pending[1])
            self.pending = None
