"""Numbers and names the contract defines once, and the users that derive from it."""

import dataclasses

import pytest

from rmlora.contract import REGISTERS, ChipParams, timing
from rmlora.contract.lora import ACTIVATION_CODES, LUT_ENTRIES, Activation
from rmlora.contract.perf import PERF_COUNTERS, PERF_REGISTERS, perf_names, perf_registers
from rmlora.contract.xbar import MACRO_LATENCY, MacroOp, Polarity, XbarOp
from rmlora.sim import host_bus
from rmlora.sim.bus_model import IDLE_ZERO
from rmlora.sim.reram import device
from rmlora.sw.golden import chip as gchip
from rmlora.sw.golden import lora as glora
from rmlora.sw.golden import xbar as gxbar
from rmlora.sw.golden.xbar import XbarCounts


def test_every_perf_register_has_one_counter():
    perf = [r.name for r in REGISTERS if r.name.startswith("PERF_")]
    assert sorted(PERF_REGISTERS) == sorted(perf)
    assert len({(c.block, c.name) for c in PERF_COUNTERS}) == len(PERF_COUNTERS)


def test_golden_counts_and_host_reads_use_the_contracts_names():
    assert tuple(f.name for f in dataclasses.fields(XbarCounts)) == perf_names("xbar")
    assert host_bus.XBAR_PERF == perf_registers("xbar")
    assert set(PERF_REGISTERS) <= IDLE_ZERO


def test_unknown_block_is_refused():
    with pytest.raises(ValueError, match="block='adc'"):
        perf_names("adc")


def test_one_polarity_for_the_port_and_the_macro_model():
    assert device.Polarity is Polarity
    assert (Polarity.SET, Polarity.RESET) == (0, 1)


def test_activation_codes_and_lut_size():
    assert ACTIVATION_CODES == tuple(a.value for a in Activation)
    assert ACTIVATION_CODES == (0, 1, 2, 3)  # since LIF (issue 21) no code of act is refused
    assert Activation.LIF.value == 3
    assert LUT_ENTRIES == 256  # int8 -> int8


@pytest.mark.parametrize("width", [32, 64, 128, 512])
def test_named_lora_phases_add_up_to_the_cycles_before_they_were_named(width):
    """glora.cycles, written with the literal constants it had before contract.timing,
    plus the LoRA unit's pipeline (issue 25): its stages once in the A phase (with
    adapters) but one (the B phase's first word is issued as the last q is written: the q
    memory's read is transparent), and the cycle that registers the checks' products; less
    the B phase's drain and DRAIN, which come after busy falls (issue 20: under the next
    run)."""
    params = ChipParams(sram_width=width)
    wb, dw = params.sram_word_bytes, params.words_for(128)
    for n_in, n_out, ranks, act in [(1, 1, [], Activation.IDENTITY),
                                    (100, 30, [4], Activation.RELU),
                                    (512, 512, [16, 1, 8], Activation.LUT)]:
        n_w = -(-n_in // wb)
        before = (dw + 1) * (1 + len(ranks)) + (len(ranks) + 1) + 1
        before += 256 // wb + 1 if act is Activation.LUT else 0
        before += n_w + (sum(r * n_w for r in ranks) + 1 if ranks else 0)
        before += n_out * max(1, sum(-(-r // wb) for r in ranks))
        before += (timing.LORA_PIPE_STAGES - 1) * (1 if ranks else 0) + 1  # + CHECK_PRODUCTS
        layer = glora.Layer(n_in, n_out, 1, 0, act)
        assert glora.cycles(layer, ranks, params) == before


@pytest.mark.parametrize("width", [32, 64, 256])
def test_named_xbar_and_record_phases_add_up_to_the_cycles_before_they_were_named(width):
    """gxbar.mvm_cycles and gchip.record_cycles with the literal constants they had before
    contract.timing, plus the crossbar controller's CHECK_CODE (issue 25), the LoRA
    unit's outputs leaving after its busy falls (issue 20) and, at 32-bit words, the
    second word of the LoRA descriptor's head (act and lut: issue 21)."""
    params = ChipParams(sram_width=width)
    wb, dw = params.sram_word_bytes, params.words_for(128)
    for n_rows, n_cols in [(1, 1), (100, 30), (300, 200), (512, 512)]:
        desc = gxbar.Descriptor(XbarOp.MVM, n_rows, n_cols, src=0, dst=0)
        for stream_p in (False, True):
            before = 1 + 2 * dw + 1 + 1  # + CHECK_CODE
            for ct in range(-(-n_cols // 128)):
                cols = min(128, n_cols - ct * 128)
                before += 1
                for rt in range(-(-n_rows // 128)):
                    before += -(-min(128, n_rows - rt * 128) // wb) + 1
                    before += 8 * (1 + MACRO_LATENCY[MacroOp.MVM])
                before += cols if stream_p else -(-4 * cols // wb)
            assert gxbar.mvm_cycles(desc, params, stream_p) == before
        layer = glora.Layer(n_rows, n_cols, 1, 0)
        head = 2 if width == 32 else 1  # FETCH_LD's words
        record = ((dw + 1) + 1 + (dw + 1) + (head + 1) + 1
                  + gxbar.mvm_cycles(desc, params, True) + 1
                  + glora.cycles(layer, [4], params) + timing.LORA_DONE_LAG_CYCLES + 2
                  + -(-n_cols // wb))
        assert gchip.record_cycles(desc, layer, [4], params) == record
