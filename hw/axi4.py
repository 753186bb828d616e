"""AXI4 (full) channel signature, for the bulk port.

Only the signals a burst-capable memory subordinate needs: IDs, address, length,
size and burst type, data with strobes and WLAST, responses. AxLOCK, AxCACHE,
AxPROT, AxQOS, AxREGION and the USER signals are left out: the SRAM has no
exclusive, cacheable, protected or prioritised accesses (their AMBA defaults are
what a missing signal means; cocotbext-axi treats all of them as optional).
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rmlora.contract import AxiResp
from rmlora.contract.bulk_port import AxiBurst

__all__ = ["Axi4Signature"]


def Axi4Signature(addr_width: int, data_width: int, id_width: int):
    """AXI4, seen from the manager. Names follow the AMBA spec (ARM IHI 0022)."""
    return wiring.Signature({
        "awid": Out(id_width), "awaddr": Out(addr_width), "awlen": Out(8), "awsize": Out(3),
        "awburst": Out(AxiBurst), "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_width), "wstrb": Out(data_width // 8), "wlast": Out(1),
        "wvalid": Out(1), "wready": In(1),
        "bid": In(id_width), "bresp": In(AxiResp), "bvalid": In(1), "bready": Out(1),
        "arid": Out(id_width), "araddr": Out(addr_width), "arlen": Out(8), "arsize": Out(3),
        "arburst": Out(AxiBurst), "arvalid": Out(1), "arready": In(1),
        "rid": In(id_width), "rdata": In(data_width), "rresp": In(AxiResp), "rlast": In(1),
        "rvalid": In(1), "rready": Out(1),
    })
