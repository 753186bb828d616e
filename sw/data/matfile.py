"""Reading a MATLAB v5 file without letting a damaged one crash the process.

scipy 1.17's ``loadmat`` looks every data element's type code up in a fixed table
without a range check, so a file with one bad type byte is a segmentation fault, not
an exception (scipy/scipy PR #25349 describes it; found here by fuzzing). So the
element structure is walked first (tags, sizes, type codes, compressed elements
inflated) and only a well-formed file reaches scipy. Layout: MathWorks, "MAT-File
Format", v5 level 5 (128-byte header, then tagged data elements).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np

from .checks import DatasetError

MI_MATRIX, MI_COMPRESSED = 14, 15
# Type codes scipy's reader has a dtype for (int8 ... double, int64/uint64, utf8/16/32).
NUMERIC_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18}
MAX_DEPTH = 8  # cells and structs nest; the faces file is one plain matrix


def _walk(path: Path, data: bytes, endian: str, depth: int, top: bool) -> None:
    """Every element in ``data`` has a known type and fits in it; matrices recursively."""
    if depth > MAX_DEPTH:
        raise DatasetError(f"{path}: MATLAB elements nested deeper than {MAX_DEPTH}")
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise DatasetError(f"{path}: truncated MATLAB element tag")
        word, size = struct.unpack_from(endian + "II", data, pos)
        if word >> 16 and not top:  # small element: type and size share the first word
            mdtype, size, start, end = word & 0xFFFF, word >> 16, pos + 4, pos + 8
            if size > 4:
                raise DatasetError(f"{path}: bad small MATLAB element at byte {pos}")
        else:
            mdtype, start = word, pos + 8
            end = start + size + (0 if top else -size % 8)  # sub-elements pad to 8 bytes
        if start + size > len(data):
            raise DatasetError(f"{path}: truncated: a MATLAB element claims {size} bytes, "
                               f"{len(data) - start} remain")
        body = data[start:start + size]
        if top and mdtype == MI_COMPRESSED:
            try:
                inner = zlib.decompress(body)
            except zlib.error as err:
                raise DatasetError(f"{path}: damaged compressed MATLAB element ({err})") from err
            _walk(path, inner, endian, depth + 1, top=True)
        elif mdtype == MI_MATRIX:
            _walk(path, body, endian, depth + 1, top=False)
        elif top or mdtype not in NUMERIC_TYPES:
            raise DatasetError(f"{path}: unknown MATLAB data type {mdtype} at byte {pos}")
        pos = min(end, len(data))


def read_mat(path: Path) -> dict[str, np.ndarray]:
    """The variables of the MATLAB v5 file at ``path``; ``DatasetError`` naming it if the
    file is not one, is damaged, or scipy cannot read it."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path}: cannot be read ({err})") from err
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI") or 0 in data[:4]:
        raise DatasetError(f"{path}: not a readable MATLAB file (no MATLAB v5 header)")
    _walk(path, data[128:], "<" if data[126:128] == b"IM" else ">", 0, top=True)
    from scipy.io import loadmat

    try:
        return loadmat(io.BytesIO(data))
    # scipy's reader raises whatever the damage trips (OSError, MatReadError, zlib.error,
    # struct.error, ValueError, ...): all mean "not a readable .mat file" here.
    except Exception as err:
        raise DatasetError(f"{path}: not a readable MATLAB file ({type(err).__name__}: "
                           f"{err})") from err
