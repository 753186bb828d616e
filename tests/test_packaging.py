"""The installed distribution is one package, `rmlora`, with the repo folders inside."""

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_generic_top_level_names(tmp_path):
    """Outside the repo, `hw`, `sim`... are not importable, `rmlora.hw`... are."""
    probe = ("import importlib.util as u;"
             "print([n for n in ('hw', 'sim', 'sw', 'firmware') if u.find_spec(n)]);"
             "import rmlora.hw, rmlora.sim, rmlora.sw, rmlora.firmware, rmlora.contract")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PATH": ""},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_package_links_point_at_the_top_level_folders():
    """rmlora/hw is hw/ (and so on): one tree, seen whole by file-system tools."""
    for folder in ("hw", "sim", "sw", "firmware"):
        link = ROOT / "rmlora" / folder
        assert link.is_symlink(), f"rmlora/{folder} should link to ../{folder}"
        assert link.resolve() == (ROOT / folder).resolve()


def test_every_subpackage_is_found_and_imports():
    """Every folder with an __init__.py under rmlora/ (through the links) is a package
    setuptools finds, and imports."""
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(find_packages(ROOT, **config["packages"]["find"]))
    on_disk = {".".join(Path(folder).relative_to(ROOT).parts)
               for folder, _, files in os.walk(ROOT / "rmlora", followlinks=True)
               if "__init__.py" in files}
    assert len(on_disk) > 10, "the walk should go through the links into hw/, sw/..."
    assert on_disk <= found, f"not found by setuptools: {sorted(on_disk - found)}"
    for name in sorted(on_disk):
        importlib.import_module(name)
