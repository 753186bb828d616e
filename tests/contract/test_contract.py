import pytest

from rmlora.contract import (
    CSR_REGION,
    REG,
    REGISTERS,
    SRAM_WINDOW_BASE,
    Access,
    AxiResp,
    ChipParams,
    ErrorCode,
    sram_region,
)


def test_register_table_is_consistent():
    offsets = [r.offset for r in REGISTERS]
    assert len(set(offsets)) == len(offsets)
    assert all(o % 4 == 0 and CSR_REGION.contains(o) for o in offsets)
    assert not CSR_REGION.contains(SRAM_WINDOW_BASE)


def test_pack_and_unpack_round_trip():
    reg = REG["VERSION"]
    word = reg.pack(MAJOR=1, MINOR=2, PATCH=3)
    assert word == 0x010203
    assert reg.unpack(word) == {"MAJOR": 1, "MINOR": 2, "PATCH": 3}


def test_pack_refuses_values_that_do_not_fit_and_unknown_fields():
    with pytest.raises(ValueError, match="VERSION.MAJOR=256"):
        REG["VERSION"].pack(MAJOR=256)
    with pytest.raises(KeyError, match="no field 'NOPE'"):
        REG["VERSION"].pack(NOPE=1)


def test_writable_mask():
    assert REG["ID"].writable_mask == 0
    assert REG["SCRATCH"].writable_mask == 0xFFFF_FFFF
    assert REG["CTRL"].writable_mask == sum(f.mask for f in REG["CTRL"].fields)
    assert all(r.writable_mask == 0 for r in REGISTERS if r.access is Access.RO)


def test_error_codes_carry_their_bus_response():
    assert ErrorCode.BUS_UNMAPPED.axi_resp is AxiResp.DECERR
    assert ErrorCode.BUS_MISALIGNED.axi_resp is AxiResp.SLVERR
    assert ErrorCode.BUS_READ_ONLY.axi_resp is AxiResp.SLVERR


@pytest.mark.parametrize("kwargs, field", [
    ({"sram_width": 48}, "sram_width"),
    ({"sram_width": 16}, "sram_width"),
    ({"sram_depth": 1000}, "sram_depth"),
    ({"sram_depth": 8}, "sram_depth"),
    ({"sram_width": 512, "sram_depth": 1 << 15}, "SRAM window"),
])
def test_chip_params_name_the_bad_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ChipParams(**kwargs)


def test_sram_window_is_as_large_as_the_buffer():
    p = ChipParams(sram_width=128, sram_depth=1024)
    assert sram_region(p).size == 16 * 1024 == p.sram_bytes
    assert p.sram_lanes == 4 and p.sram_addr_width == 10


def test_pack_fields_refuses_what_the_layout_would_truncate():
    from rmlora.contract.lora import Activation, AdapterEntry, LoraLayer
    from rmlora.contract.packing import pack_fields

    assert pack_fields(AdapterEntry, {"rank": 16, "q_mult": -32768}) == (
        16 | (32768 << 37))  # q_mult sits after rank (5) + a_addr (16) + b_addr (16)
    with pytest.raises(ValueError, match="rank=32"):
        pack_fields(AdapterEntry, {"rank": 32})
    with pytest.raises(ValueError, match="q_mult=32768"):
        pack_fields(AdapterEntry, {"q_mult": 32768})
    with pytest.raises(ValueError, match="act=2 is not a Activation"):
        pack_fields(LoraLayer, {"act": 2})
    assert pack_fields(LoraLayer, {"act": Activation.LUT}) >> 42 & 3 == 2


def test_bulk_port_refusals_in_order_and_their_responses():
    from rmlora.contract.bulk_port import AxiBurst, bulk_refusal

    p = ChipParams()  # 64-bit words, 64 KiB
    ok = dict(addr=4096, beats=256, size=3, burst=AxiBurst.INCR)
    assert bulk_refusal(p, 4096 + 2048, 256, 3, AxiBurst.INCR) is ErrorCode.NONE
    assert bulk_refusal(p, **{**ok, "burst": AxiBurst.WRAP, "size": 2}) is ErrorCode.BULK_BURST_TYPE
    assert bulk_refusal(p, **{**ok, "size": 2, "addr": 4}) is ErrorCode.BULK_NARROW
    assert bulk_refusal(p, **{**ok, "addr": 4100}) is ErrorCode.BULK_MISALIGNED
    assert bulk_refusal(p, **{**ok, "addr": 4096 + 2056}) is ErrorCode.BULK_4K_CROSSING
    assert bulk_refusal(p, **{**ok, "addr": p.sram_bytes}) is ErrorCode.BULK_RANGE
    assert ErrorCode.BULK_RANGE.axi_resp is AxiResp.DECERR
    assert ErrorCode.BULK_4K_CROSSING.axi_resp is AxiResp.SLVERR
