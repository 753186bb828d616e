"""The blocks take their counter ports and their start/busy/done from the contract."""

from amaranth.hdl import Fragment

from rmlora.contract import ChipParams
from rmlora.contract.perf import PERF_BLOCKS, perf_ports
from rmlora.hw.core import ChipCore
from rmlora.hw.unit import UnitSignature, control


def test_each_block_has_exactly_its_perf_ports_and_the_units_their_control():
    core = ChipCore(ChipParams(sram_depth=256))
    Fragment.get(core, None)  # elaborated: the wiring.connect calls are checked too
    blocks = {"seq": core.seq, "xbar": core.xbar, "lora": core.lora}
    assert set(blocks) == set(PERF_BLOCKS)
    for name, block in blocks.items():
        ports = {m for m in block.signature.members if m.startswith("perf_")}
        assert ports == set(perf_ports(name)), name
    for unit in (core.xbar, core.lora):
        assert UnitSignature().is_compliant(control(unit))
    assert core.seq.signature.members["xbar"].signature == UnitSignature().flip()
