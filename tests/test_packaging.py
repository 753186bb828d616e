"""The installed distribution is one package, `rmlora`, with the repo folders inside."""

import importlib
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


def test_every_subpackage_is_listed_and_imports():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for dotted, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            name = ".".join((dotted, *rel))
            assert name in listed, f"{name} missing from [tool.setuptools] packages"
            importlib.import_module(name)
