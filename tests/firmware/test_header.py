import shutil
import subprocess

import pytest
from amaranth.lib import data

from rmlora.contract import REG, ErrorCode
from rmlora.contract.lora import Activation
from rmlora.contract.neuron import NeuronLayer
from rmlora.firmware.header import HEADER_PATH, render_header


def test_committed_header_matches_the_contract():
    assert HEADER_PATH.read_text() == render_header(), (
        "firmware/include/rmlora.h is stale: run `make header`")


def test_header_names_every_register_and_error_code():
    text = render_header()
    for name, reg in REG.items():
        assert f"RMLORA_REG_{name} " in text and f"0x{reg.offset:08X}u" in text
    for code in ErrorCode:
        assert f"RMLORA_ERR_{code.name} " in text


def test_header_names_the_activations_and_the_neuron_record():
    text = render_header()
    for act in Activation:
        assert f"#define RMLORA_ACT_{act.name} " in text
    assert "#define RMLORA_ACT_LIF                           3u" in text
    for name, field in data.Layout.cast(NeuronLayer):
        assert f"#define RMLORA_NEURONLAYER_{name.upper()}_LSB" in text
        assert f"{field.offset}u" in text
    assert "#define RMLORA_NEURONLAYER_RECORD_BITS           64u" in text


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler")
def test_header_compiles_and_values_agree(tmp_path):
    """A C program built against the header prints the values the contract holds."""
    src = tmp_path / "probe.c"
    src.write_text(
        '#include <stdio.h>\n#include "rmlora.h"\n'
        "int main(void){printf(\"%u %u %u\\n\", RMLORA_REG_SCRATCH, "
        "RMLORA_CTRL_CLEAR_ERR_MASK, RMLORA_ERR_BUS_READ_ONLY);return 0;}\n")
    exe = tmp_path / "probe"
    subprocess.run(["gcc", "-Wall", "-Werror", "-I", str(HEADER_PATH.parent), str(src),
                    "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    assert [int(v) for v in out] == [REG["SCRATCH"].offset, REG["CTRL"].field("CLEAR_ERR").mask,
                                     ErrorCode.BUS_READ_ONLY.value]
