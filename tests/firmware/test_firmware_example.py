"""The C driver running whole networks on the golden chip, against the Python runtime.

The example (firmware/examples/rmlora_net.c) loads the compiler's image, runs inputs
with each adapter set, deletes the forget adapter and runs again, the host steps in
C; FirmwareChip runs the runtime's own inference through the driver. Every output
byte, record output, SeqStats record and zeroed word is compared with ==, on choices
of model, seed and adapter sets other than `make firmware`'s."""

import numpy as np
import pytest

from rmlora.contract.driver import DriverStatus
from rmlora.firmware.build import check_sources
from rmlora.sw.compiler import compile_model
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.firmware import FirmwareError
from rmlora.sw.runtime.firmware_chip import FirmwareChip
from rmlora.sw.runtime.firmware_net import pack_network, quantized_inputs, run_example
from rmlora.sw.runtime.infer import run_recorded


@pytest.fixture(scope="module")
def face():
    return compile_model(demo_model("face", 3), demo_inputs("face", 64, 7))


def test_the_sources_are_clean_with_werror_and_the_static_analyser():
    check_sources(analyze=True)  # raises with the compiler's output


@pytest.mark.parametrize("model, seed, sets, forget", [
    ("face", 3, [["learn"], ["forget", "learn"]], "forget"),
    ("mlp", 5, [["a", "b"], ["b"], []], "b"),
])
def test_the_example_equals_the_python_runtime_byte_for_byte(model, seed, sets, forget, face):
    compiled = face if model == "face" else compile_model(demo_model(model, seed),
                                                          demo_inputs(model, 64, seed + 1))
    result = run_example(compiled, demo_inputs(model, 3, seed + 2), sets, forget, seed=seed)
    assert result["runs"] == 2 * len(sets) * 3
    assert result["outputs_equal"] and result["traces_equal"]
    assert result["words_zeroed_equal"] and result["words_zeroed"] > 0


def test_the_runtime_through_the_c_driver_equals_the_python_runtime(face):
    """Segment runs, SeqStats, PERF_SEQ_CYCLES, adapters toggled and one deleted."""
    x = demo_inputs("face", 3, 11)
    chips = FirmwareChip(seed=9), Chip(seed=9)
    for chip in chips:
        chip.deploy(face.plan)
        chip.load(face.image, names=face.adapter_slots)
    for adapters in (["forget", "learn"], ["learn"], [], "delete", ["learn"]):
        for chip in chips:
            if adapters == "delete":
                chip.delete_adapter("forget")
            else:
                chip.enable(adapters)
        if adapters == "delete":
            assert chips[0].backend.read_sram(0, face.params.sram_bytes) == \
                chips[1].backend.read_sram(0, face.params.sram_bytes)
            continue
        (logits, runs), (want, want_runs) = (run_recorded(c, face, x) for c in chips)
        assert np.array_equal(logits, want)
        for run, ref in zip(runs, want_runs, strict=True):
            assert run.outputs.keys() == ref.outputs.keys()
            assert all(np.array_equal(run.outputs[k], ref.outputs[k]) for k in run.outputs)
            assert run.stats == ref.stats
            assert run.result.perf["PERF_SEQ_CYCLES"] == ref.result.perf["PERF_SEQ_CYCLES"]
            assert len(run.result.perf) == 10  # every PERF_* register, read by the C driver


def test_the_c_driver_refuses_what_the_runtime_refuses(face):
    chip = FirmwareChip(seed=0)
    chip.deploy(face.plan)
    bad = bytearray(face.image)
    bad[-1] ^= 0xFF
    with pytest.raises(ValueError, match="CRC32"):
        chip.load(bytes(bad))
    assert chip.sections == []  # nothing loaded, host books unchanged
    chip.load(face.image, names=face.adapter_slots)
    with pytest.raises(KeyError):
        chip.enable(["nobody"])


@pytest.mark.parametrize("forge", [
    lambda blob: b"XXXX" + blob[4:],  # magic
    lambda blob: blob[:-4],  # a step cut short
    lambda blob: blob[:32] + (99).to_bytes(4, "little") + blob[36:],  # unknown op
], ids=["magic", "truncated", "unknown op"])
def test_a_malformed_network_blob_is_refused(forge, face):
    net = pack_network(face)
    chip = FirmwareChip(seed=0)
    chip.deploy(face.plan)
    chip.load(face.image, names=face.adapter_slots)
    x = quantized_inputs(face, demo_inputs("face", 1, 0))[0].tobytes()
    chip.fw.net_run(net.blob, x, net.output_bytes, net.trace_bytes, net.arena_bytes)  # fine
    with pytest.raises(FirmwareError) as err:
        chip.fw.net_run(forge(net.blob), x, net.output_bytes, net.trace_bytes, net.arena_bytes)
    assert err.value.status is DriverStatus.BAD_NET


def test_the_commands_run_the_c_driver(tmp_path, capsys):
    """`rmlora firmware` (make firmware) and `rmlora infer --driver c`, on the MLP demo."""
    from rmlora.cli import main

    out = tmp_path / "example.json"
    main(["firmware", "--model", "mlp", "--inputs", "2", "--seed", "4", "--json", str(out)])
    assert '"traces_equal": true' in out.read_text()
    main(["infer", "--model", "mlp", "--backend", "golden", "--driver", "c", "--inputs", "2"])
    text = capsys.readouterr().out
    assert "through the c driver" in text and " NO" not in text
