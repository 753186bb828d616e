"""GoldenBus's registers after a run equal the Verilator build's with ==: all ten PERF_*
counters (the small MLP and the face Mixer, adapters on, off, one deleted, a batch of
one), and after refused programs SEQ_STATUS, the error log and PERF_* again."""

from dataclasses import replace

import pytest

from rmlora.contract import REG
from rmlora.contract.lora import LORA_DESC_BITS, Activation, LoraLayer
from rmlora.contract.packing import pack_fields, unpack_fields
from rmlora.contract.perf import PERF_REGISTERS
from rmlora.contract.sequencer import SEQ_RECORD_BITS
from rmlora.contract.xbar import XBAR_DESC_BITS
from rmlora.sw.compiler import compile_model
from rmlora.sw.formats.records import pack_record, read_packed
from rmlora.sw.golden import chip as gchip
from rmlora.sw.models.demo import demo_inputs, demo_model
from rmlora.sw.runtime import Chip
from rmlora.sw.runtime.golden_bus import GoldenBus
from rmlora.sw.runtime.infer import run_recorded
from tests.sw import bus_driver
from tests.sw.test_compiler import adapted_mlp, data
from tests.sw.test_golden_bus import bus_network

SEED = 3
LOGGED = ("ERR_CODE", "ERR_ADDR", "ERR_COUNT", *PERF_REGISTERS)


def _twins(compiled):
    chips = [Chip(compiled.params, backend=b, seed=SEED) for b in ("verilator", "golden")]
    for c in chips:
        c.deploy(compiled.plan)
        c.load(compiled.image, names=compiled.adapter_slots)
    return chips


def _same_perf(compiled, x, steps):
    rtl, golden = _twins(compiled)
    bus = GoldenBus(golden.backend)
    with rtl:
        for adapters in steps:
            if isinstance(adapters, str):  # delete that adapter
                rtl.delete_adapter(adapters)
                golden.delete_adapter(adapters)
                continue
            for c in (rtl, golden):
                c.enable(adapters)
            runs = run_recorded(rtl, compiled, x)[1]
            got = [perf for _, perf in bus_network(bus, golden, compiled, x)[1]]
            want = [{k: run.result.perf[k] for k in PERF_REGISTERS} for run in runs]
            assert got == want, adapters
        # CTRL.CLEAR_PERF zeroes all ten counters on the RTL, the sequencer's cycles too
        rtl.backend._call("write_reg", "CTRL", REG["CTRL"].pack(CLEAR_PERF=1))
        assert {k: rtl.backend._call("read_reg", k) for k in PERF_REGISTERS} == \
            dict.fromkeys(PERF_REGISTERS, 0)


@pytest.mark.cosim
def test_mlp_perf_equals_verilator():
    compiled = compile_model(adapted_mlp(0), data(0, 256))
    _same_perf(compiled, data(7, 1), [["a", "b"], ["b"], [], "a", ["b"]])


@pytest.mark.cosim
def test_mlp_with_reads_per_plane_perf_equals_verilator():
    """Layers at 4 and 2 reads per plane: PERF_MVM, PERF_ADC and the cycles count every
    conversion, on the RTL as in the golden model."""
    compiled = compile_model(adapted_mlp(0), data(0, 256), reads={"0": 4, "4": 2})
    _same_perf(compiled, data(7, 1), [["a", "b"], []])


@pytest.mark.cosim
def test_face_perf_equals_verilator():
    """Layer passes over many vectors: the LoRA unit's adapter cache hits."""
    compiled = compile_model(demo_model("face", 0), demo_inputs("face", 64, 1))
    _same_perf(compiled, demo_inputs("face", 1, 2), [["forget", "learn"], [], ["learn"]])


def _refused_programs(compiled, mem):
    """name -> (SEQ_PROG, [(SRAM word, bytes)]): programs each block refuses, built in
    the scratch words from the first segment's records."""
    p = compiled.params
    wb, depth = p.sram_word_bytes, p.sram_depth
    rec_w, dw = p.words_for(SEQ_RECORD_BITS), p.words_for(LORA_DESC_BITS)
    r0, r1 = gchip.read_program(mem, compiled.segments[0].program, p)[0][:2]
    at = compiled.scratch[0]

    def rec(r, **kw):
        f = {k: getattr(r, k) for k in ("xbar", "lora", "dst", "stats", "last", "vectors",
                                        "src_stride", "dst_stride")}
        return pack_record(**{**f, **kw}).ljust(rec_w * wb, b"\0")

    def lora(word, **kw):
        f = {**unpack_fields(LoraLayer, read_packed(mem, word, LORA_DESC_BITS, p)), **kw}
        return pack_fields(LoraLayer, {**f, "act": Activation(f["act"])}, "f").to_bytes(
            dw * wb, "little")

    _, desc = gchip._descriptor(mem, r1.xbar, p)
    xbar = replace(desc, macro=p.n_macros).pack().ljust(p.words_for(XBAR_DESC_BITS) * wb, b"\0")
    two = rec(r0, last=False)
    return {
        "prog outside the SRAM": (depth - 1, []),
        "vectors 0": (at, [(at, two + rec(r1, vectors=0, last=True))]),
        "entry outside the SRAM": (at, [(at, rec(r0, lora=at + rec_w, last=True)),
                                        (at + rec_w, lora(r0.lora, entry0=depth - 1))]),
        "A outside the SRAM": (at, [(at, two + rec(r1, lora=at + 2 * rec_w, last=True)),
                                    (at + 2 * rec_w, lora(r1.lora, lut=depth - 1,
                                                          act=Activation.LUT.value))]),
        "shape": (at, [(at, two + rec(r1, lora=at + 2 * rec_w, last=True)),
                       (at + 2 * rec_w, lora(r1.lora, n_in=0))]),
        "macro": (at, [(at, two + rec(r1, xbar=at + 2 * rec_w, last=True)),
                       (at + 2 * rec_w, xbar)]),
        "record outside the SRAM": (at, [(at, rec(r0, xbar=depth - 1, last=True))]),
        "runs off the SRAM": (depth - rec_w, [(depth - rec_w, rec(r0, last=False))]),
    }


@pytest.mark.cosim
def test_refused_programs_equal_verilator():
    compiled = compile_model(adapted_mlp(0), data(0, 256))
    rtl, golden = _twins(compiled)
    bus = GoldenBus(golden.backend)
    wb = compiled.params.sram_word_bytes
    call = rtl.backend._call  # the chip server's register commands

    def rtl_run(prog):
        call("write_reg", "SEQ_PROG", prog)
        call("write_reg", "SEQ_CTRL", REG["SEQ_CTRL"].pack(START=1, IRQ_EN=1))
        while (status := REG["SEQ_STATUS"].unpack(call("read_reg", "SEQ_STATUS")))["BUSY"]:
            pass
        return {**status, **{k: call("read_reg", k) for k in LOGGED}}

    def golden_run(prog):
        status = bus_driver.start(bus, prog, 0b11)
        bus_driver.reg_write(bus, "SEQ_CTRL", REG["SEQ_CTRL"].pack(IRQ_EN=1))
        return {**status, "IRQ": 1, **{k: bus_driver.reg_read(bus, k) for k in LOGGED}}

    with rtl:
        call("write_reg", "LORA_ENABLE", 0b11)
        program = compiled.segments[0].program
        assert rtl_run(program) == golden_run(program)
        for name, (prog, writes) in _refused_programs(compiled,
                                                      golden.backend.sram.tobytes()).items():
            for word, blob in writes:
                rtl.backend.write_sram(word * wb, blob)
                golden.backend.write_sram(word * wb, blob)
            want = rtl_run(prog)
            assert want["ERROR"] and golden_run(prog) == want, name
            call("write_reg", "CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
            bus_driver.reg_write(bus, "CTRL", REG["CTRL"].pack(CLEAR_ERR=1))
