"""Build the C firmware: the driver library and its examples.

    python -m rmlora.firmware.build [--out build/firmware] [--no-analyze]

Compiles with the system C compiler (`$CC`, default `cc`) as strict C11 with every
warning an error, then runs the compiler's static analyser (`-fanalyzer`, GCC >= 10)
over the same sources, and links a shared library that the Python side loads
(rmlora.sw.runtime.firmware) to run the driver against the simulated chip. The
library's file name carries a digest of its sources, flags and compiler, so an
unchanged build is reused and a changed one never overwrites a library in use.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["FIRMWARE_DIR", "SOURCES", "STRICT_FLAGS", "FirmwareBuildError", "build_library",
           "check_sources", "compiler"]

FIRMWARE_DIR = Path(__file__).resolve().parent  # through the rmlora/firmware link
INCLUDE = FIRMWARE_DIR / "include"
SOURCES = (FIRMWARE_DIR / "src" / "rmlora_driver.c",
           *sorted((FIRMWARE_DIR / "examples").glob("*.c")))
STRICT_FLAGS = ("-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic")
DEFAULT_OUT = FIRMWARE_DIR.parent / "build" / "firmware"


class FirmwareBuildError(RuntimeError):
    """The compiler refused the firmware (its output is the message)."""


def compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise FirmwareBuildError(f"no C compiler {cc!r} on PATH: install gcc (or set CC)")
    return cc


def _run(cmd: list[str]):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise FirmwareBuildError(f"{' '.join(cmd)}\n{done.stdout}{done.stderr}")


def _key(cc: str) -> str:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    h = hashlib.sha256(version.encode() + " ".join(STRICT_FLAGS).encode())
    for path in (*SOURCES, *sorted(INCLUDE.glob("*.h"))):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def check_sources(analyze: bool = True):
    """Compile every source strictly (objects discarded); with `analyze`, also through
    GCC's static analyser. Raises FirmwareBuildError with the compiler's output."""
    cc = compiler()
    extra = ["-fanalyzer"] if analyze else []
    with tempfile.TemporaryDirectory() as tmp:
        for src in SOURCES:
            _run([cc, *STRICT_FLAGS, "-O2", *extra, f"-I{INCLUDE}", "-c", str(src),
                  "-o", str(Path(tmp) / (src.stem + ".o"))])


def build_library(out: Path = DEFAULT_OUT) -> Path:
    """The shared library of the driver and examples, built if its key is new."""
    cc = compiler()
    out = Path(out)
    lib = out / f"librmlora-{_key(cc)}.so"
    if lib.exists():
        return lib
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out, suffix=".so.tmp", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        _run([cc, *STRICT_FLAGS, "-O2", "-fPIC", "-shared", f"-I{INCLUDE}",
              *map(str, SOURCES), "-o", str(partial)])
        partial.replace(lib)  # whole or not at all, even with two builders at once
    finally:
        partial.unlink(missing_ok=True)
    return lib


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-analyze", action="store_true", help="skip -fanalyzer")
    args = parser.parse_args(argv)
    try:
        check_sources(analyze=not args.no_analyze)
        lib = build_library(args.out)
    except FirmwareBuildError as err:
        sys.exit(str(err))
    names = ", ".join(s.name for s in SOURCES)
    print(f"firmware: {names} clean with {' '.join(STRICT_FLAGS)}"
          + ("" if args.no_analyze else " and -fanalyzer"))
    print(f"wrote {lib}")


if __name__ == "__main__":
    main()
