"""cocotb driver that attaches the Python macro models to the chip's macro port.

It works per transaction, not per clock: it sleeps until the request valid
rises, reads the request, lets the macro models compute the whole response in
numpy, sleeps through the macro's latency with one timer, and presents the
response for one cycle, ended by a second timer. Python wakes three times per
analogue operation on Verilator, whatever its latency (each wake-up costs tens
of microseconds of cocotb scheduling, more than the numpy response): Verilator
calls value-change callbacks once its evaluation has settled, so the request is
read as the valid edge fires. Icarus may call them mid-update, so there the
driver also waits for the read-only phase (four wake-ups).

Timing (the contract's MACRO_LATENCY): the request is taken on the first rising
edge while it is valid (the macros are always ready: the controller never
issues a second request before the first is answered), and the response is
valid on exactly the MACRO_LATENCY[op]-th edge after that. The clock's rising
edges are at multiples of CLOCK_PERIOD_NS (start_chip starts it at time 0), so
the edges are found from the simulated time rather than waited for.
"""

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from rmlora.contract.xbar import MACRO_LATENCY

from .host_bus import CLOCK_PERIOD_NS
from .reram import MacroArray

__all__ = ["MacroPortDriver"]

PERIOD_PS = CLOCK_PERIOD_NS * 1000


class MacroPortDriver:
    def __init__(self, dut, macros: MacroArray):
        self.dut, self.macros = dut, macros
        self.transactions = 0
        self._settle = not cocotb.SIM_NAME.lower().startswith("verilator")
        dut.macro_req__ready.value = 1
        dut.macro_resp__valid.value = 0
        dut.macro_resp__payload.value = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        req_valid, req_payload = dut.macro_req__valid, dut.macro_req__payload
        resp_valid, resp_payload = dut.macro_resp__valid, dut.macro_resp__payload
        while True:
            # The controller may raise its next request on the edge that takes the
            # response, before this task waits for it: then it is already valid here.
            if not req_valid.value:
                await RisingEdge(req_valid)
                if self._settle:
                    await ReadOnly()  # the request's payload, settled
            request = int(req_payload.value)
            now = int(get_sim_time("ps"))
            taken = (now // PERIOD_PS + 1) * PERIOD_PS  # the request is taken on this edge
            op, response = self.macros.serve(request)
            # mid-cycle before the latency-th edge after `taken`
            respond = taken + (MACRO_LATENCY[op] - 1) * PERIOD_PS + PERIOD_PS // 2
            await Timer(respond - now, unit="ps")
            if req_valid.value:
                raise AssertionError("macro port: a new request while one is in flight")
            resp_payload.value = response
            resp_valid.value = 1
            await Timer(PERIOD_PS, unit="ps")  # mid-cycle after that edge: one cycle valid
            resp_valid.value = 0
            self.transactions += 1
