"""The chip's internal bus: one request stream out, one response stream back.

The AXI4-Lite bridge turns the five AXI channels into single transactions of
this form; the decoder routes them to targets (register bank, SRAM window).
One transaction is in flight at a time, which is what AXI4-Lite without IDs
needs and keeps every target a two-state machine.
"""

from amaranth import unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import BUS_ADDR_WIDTH, BUS_DATA_WIDTH, AxiResp, ErrorCode

__all__ = ["BusRequest", "BusResponse", "BusTargetSignature", "error_response", "ok_response"]


class BusRequest(data.Struct):
    addr: unsigned(BUS_ADDR_WIDTH)  # byte address, relative to the target's base
    write: unsigned(1)
    wdata: unsigned(BUS_DATA_WIDTH)
    wstrb: unsigned(BUS_DATA_WIDTH // 8)


class BusResponse(data.Struct):
    rdata: unsigned(BUS_DATA_WIDTH)
    resp: AxiResp
    error: ErrorCode  # NONE unless resp is SLVERR/DECERR; latched in ERR_CODE


# Seen from the initiator: requests go out, responses come in.
BusTargetSignature = wiring.Signature({
    "req": Out(stream.Signature(BusRequest)),
    "resp": In(stream.Signature(BusResponse)),
})


def error_response(code: ErrorCode) -> data.Const:
    """Response payload for a refused access."""
    return data.Layout.cast(BusResponse).const({"rdata": 0, "resp": code.axi_resp, "error": code})


def ok_response() -> data.Const:
    return data.Layout.cast(BusResponse).const({"rdata": 0, "resp": AxiResp.OKAY,
                                                "error": ErrorCode.NONE})
