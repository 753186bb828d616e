"""`make fpga` on a small block: the scan wrapper reaches every port bit, and the flow
(synth_ecp5, nextpnr-ecp5) writes a report with sane figures (a few seconds)."""

import json

from rmlora.contract import BUS_ADDR_WIDTH
from rmlora.hw.cycle_counter import CycleCounter
from rmlora.hw.fpga import main
from rmlora.hw.fpga_wrapper import ScanWrapper

from .sim_helpers import run_sim


def test_the_scan_chains_drive_every_input_and_read_every_output():
    dut = ScanWrapper(CycleCounter())  # in: latch; out: lo (32), hi (32)
    assert (len(dut.scanned_inputs), len(dut.scanned_outputs)) == (1, 64)

    async def tb(ctx):
        ctx.set(dut.scan_in, 1)
        ctx.set(dut.scan_shift, 1)
        await ctx.tick()  # latch <- 1 from the input chain
        ctx.set(dut.scan_shift, 0)
        await ctx.tick()  # hi latched
        ctx.set(dut.scan_capture, 1)
        await ctx.tick()
        ctx.set(dut.scan_capture, 0)
        lo = ctx.get(dut.block.lo)
        ctx.set(dut.scan_shift, 1)
        bits = []
        for _ in range(64):
            bits.append(ctx.get(dut.scan_out))
            await ctx.tick()
        word = sum(b << i for i, b in enumerate(bits))
        assert word & 0xFFFF_FFFF == lo - 1  # captured a cycle before lo was read
        assert word >> 32 == 0

    run_sim(dut, tb)


def test_the_flow_reports_a_small_block(tmp_path):
    main(["--out", str(tmp_path), "--block", "rmlora_error_log"])
    report = json.loads((tmp_path / "report.json").read_text())
    for key in ("luts", "ffs", "dsps", "brams", "fmax_mhz", "part", "package"):
        assert key in report
    assert report["part"] == "LFE5U-25F" and report["package"] == "CABGA381"
    # the error log's registers (code, address, count, and its inputs held as they arrive:
    # six error events, valid, code and address, and the clear) plus one FF per scanned
    # port bit: the same inputs in; code, address, count out
    outputs, inputs = 8 + BUS_ADDR_WIDTH + 32, 6 * (1 + 8 + BUS_ADDR_WIDTH) + 1
    registers = outputs + inputs
    wrapper = report["wrapper"]
    assert (wrapper["scanned_inputs"], wrapper["scanned_outputs"]) == (inputs, outputs)
    scanned = wrapper["scanned_inputs"] + wrapper["scanned_outputs"]
    assert report["ffs"] == registers + scanned
    assert report["wrapper"]["ffs"] == scanned
    assert 0 < report["luts"] < 2000 and report["dsps"] == 0 and report["brams"] == 0
    assert 20 < report["fmax_mhz"] < 1000
    assert report["critical_paths"][0]["logic_levels"] > 0
    assert "Critical path" in (tmp_path / "report.md").read_text()
