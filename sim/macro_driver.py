"""cocotb driver that attaches the Python macro models to the chip's macro port.

It works per transaction, not per clock: it sleeps until the request valid
rises, reads the request once its signals have settled, lets the macro models
compute the whole response in numpy, sleeps through the macro's latency with
one timer, and presents the response for one cycle. Python runs four times per
analogue operation whatever its latency.

Timing (the contract's MACRO_LATENCY): the request is taken on the first rising
edge while it is valid (the macros are always ready: the controller never
issues a second request before the first is answered), and the response is
valid on exactly the MACRO_LATENCY[op]-th edge after that.
"""

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from rmlora.contract.xbar import MACRO_LATENCY

from .host_bus import CLOCK_PERIOD_NS
from .reram import MacroArray

__all__ = ["MacroPortDriver"]


class MacroPortDriver:
    def __init__(self, dut, macros: MacroArray):
        self.dut, self.macros = dut, macros
        self.transactions = 0
        dut.macro_req__ready.value = 1
        dut.macro_resp__valid.value = 0
        dut.macro_resp__payload.value = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.macro_req__valid)
            await ReadOnly()  # the request's payload, settled
            request = int(dut.macro_req__payload.value)
            await RisingEdge(dut.clk)  # the request is taken on this edge
            op, response = self.macros.serve(request)
            latency = MACRO_LATENCY[op]
            # mid-cycle before the latency-th edge
            await Timer(CLOCK_PERIOD_NS * (latency - 1) + CLOCK_PERIOD_NS // 2, unit="ns")
            if dut.macro_req__valid.value:
                raise AssertionError("macro port: a new request while one is in flight")
            dut.macro_resp__payload.value = response
            dut.macro_resp__valid.value = 1
            await RisingEdge(dut.clk)
            dut.macro_resp__valid.value = 0
            self.transactions += 1
