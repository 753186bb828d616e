"""The layers of pyproject.toml's import-linter contracts hold, and cover every module,
so a back-edge or a module outside the layers fails `make test`."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
# Folders by kind, holding subpackages of several layers; they import nothing themselves.
GROUPING_PACKAGES = {"rmlora", "rmlora.sw", "rmlora.sim"}


def _modules() -> set[str]:
    found = set()
    for folder, _, files in os.walk(ROOT / "rmlora", followlinks=True):
        package = ".".join(Path(folder).relative_to(ROOT).parts)
        if "__init__.py" not in files:
            continue
        found.add(package)
        found.update(f"{package}.{f[:-3]}" for f in files
                     if f.endswith(".py") and f != "__init__.py")
    return found


def _layer_entries() -> list[str]:
    (layers,) = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
    return [part.strip() for layer in layers["layers"]
            for part in layer.replace(":", "|").split("|")]


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def test_every_module_stands_in_a_layer():
    entries = _layer_entries()
    outside = sorted(m for m in _modules() - GROUPING_PACKAGES
                     if not any(m == e or m.startswith(e + ".") for e in entries))
    assert not outside, f"modules in no layer of pyproject.toml: {outside}"


def test_grouping_packages_import_nothing():
    for package in GROUPING_PACKAGES:
        path = ROOT / Path(*package.split(".")) / "__init__.py"
        text = path.read_text()
        assert "import" not in text.replace('"""', ""), f"{package} should only group"
