"""`make synth` on small blocks: the flow runs, and its counts are the blocks' own
(every flip-flop of the error log, every bit of the SRAM buffer's memory)."""

import pytest

from rmlora.contract import BUS_ADDR_WIDTH, ChipParams
from rmlora.hw.build import write_verilog
from rmlora.hw.synth import main, synthesise

P = ChipParams()


@pytest.fixture(scope="module")
def verilog(tmp_path_factory):
    return write_verilog(tmp_path_factory.mktemp("v"), P,
                         only={"rmlora_error_log", "rmlora_sram_buffer"})


def test_the_error_logs_flip_flops_are_its_registers(verilog):
    result = synthesise(verilog["rmlora_error_log"], "rmlora_error_log")
    # code, address and count, and each of the 6 sources' events and the clear as they
    # arrive (valid, code, address)
    assert result["ffs"] == 8 + BUS_ADDR_WIDTH + 32 + 6 * (1 + 8 + BUS_ADDR_WIDTH) + 1
    assert result["gates"] > 0 and result["cells"] == result["gates"] + result["ffs"]
    assert result["memory_bits"] == 0


def test_a_memory_is_counted_by_its_bits_not_as_gates(verilog):
    result = synthesise(verilog["rmlora_sram_buffer"], "rmlora_sram_buffer")
    assert result["memory_bits"] == P.sram_depth * P.sram_width
    assert result["ffs"] < 100  # a memory, not flip-flops


def test_the_command_writes_a_report_and_reuses_it(tmp_path, capsys):
    main(["--out", str(tmp_path), "--blocks", "rmlora_cycle_counter"])
    first = (tmp_path / "report.json").read_text()
    assert "rmlora_cycle_counter" in capsys.readouterr().out
    cached = list((tmp_path / "cache").glob("rmlora_cycle_counter.*.json"))
    assert len(cached) == 1
    main(["--out", str(tmp_path), "--blocks", "rmlora_cycle_counter"])  # from the cache
    assert (tmp_path / "report.json").read_text() == first
