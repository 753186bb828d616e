"""The Verilog build converts a block only when something it is converted from changed."""

import pytest

import rmlora.hw.build as build
from rmlora.contract import ChipParams

NAME = "rmlora_cycle_counter"  # the smallest block: a conversion takes a fraction of a second


@pytest.fixture
def conversions(monkeypatch):
    """Count the Amaranth conversions write_verilog runs."""
    calls = []
    convert = build.verilog.convert

    def counted(*args, **kwargs):
        calls.append(kwargs["name"])
        return convert(*args, **kwargs)

    monkeypatch.setattr(build.verilog, "convert", counted)
    return calls


def test_an_unchanged_block_is_not_converted_again(tmp_path, conversions):
    first = build.write_verilog(tmp_path, only={NAME})[NAME].read_text()
    assert build.write_verilog(tmp_path, only={NAME})[NAME].read_text() == first
    assert conversions == [NAME]


def test_a_stale_or_missing_key_converts_again(tmp_path, conversions):
    path = build.write_verilog(tmp_path, only={NAME})[NAME]
    text = path.read_text()
    (tmp_path / f"{NAME}.v.key").write_text("stale")
    build.write_verilog(tmp_path, only={NAME})
    (tmp_path / f"{NAME}.v.key").unlink()
    build.write_verilog(tmp_path, only={NAME})
    path.unlink()  # the key alone does not stand for a missing file
    build.write_verilog(tmp_path, only={NAME})
    assert conversions == [NAME] * 4
    assert path.read_text() == text


def test_the_key_follows_params_sources_and_name(monkeypatch, tmp_path):
    def key_of(name=NAME, params=ChipParams()):
        return build.source_key(name, params, build.sources_digest())

    key = key_of()
    assert key == key_of()
    assert key != key_of(params=ChipParams(sram_width=128))
    assert key != key_of(name=build.TOP_NAME)
    (tmp_path / "block.py").write_text("x = 1\n")
    monkeypatch.setattr(build, "SOURCE_DIRS", (*build.SOURCE_DIRS, tmp_path))
    edited = key_of()
    (tmp_path / "block.py").write_text("x = 2\n")
    assert key != edited != key_of()
