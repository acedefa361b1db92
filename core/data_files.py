"""The user's own data: a CSV or NPZ file read into features and class labels (dataset 'file').

CSV: one example per row, numeric feature cells, the class label in the last column (or the
column `label_column` names, by header name or 1-based number). A first row with a non-numeric
feature cell is a header. Labels may be integers or strings; the distinct labels, sorted
(numerically when they are all integers), become the classes 0..k−1.

NPZ (``numpy.savez``): an array ``x`` of N examples, [N, F] features or [N, C, H, W] images,
and an array ``y`` of N labels (integers or strings, mapped as for CSV).

Limits: at most MAX_VALUES feature values (N × features), MAX_CLASSES classes and at least two;
every value finite. The whole file is held once, as float32 (`load_table` caches it, so a rebuild
with another seed or n_samples does not read it again), and core.memory counts it.

A bad file raises `DataFileError` (a ConfigError on field 'data_file') with one line naming the
file, the row and column or the array, and what is wrong; nothing is returned half-read.
The CSV is streamed: lines are counted first (no parsing), then parsed row by row into a
preallocated array, so the text is never held whole nor parsed twice.
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .config import IMAGE_ARCHITECTURES, ConfigError

MAX_CLASSES = 256
MAX_VALUES = 100_000_000  # N × features: 400 MB as float32


class DataFileError(ConfigError):
    """The data file cannot be used; the message names the file, where, and what is wrong."""

    def __init__(self, message: str):
        super().__init__("data_file", message)


@dataclass(frozen=True)
class Table:
    """A data file read whole: x [N, …] float32, y [N] int64 in 0..len(classes)−1, and the label
    each class index stands for."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Shape:
    """What a data file holds, from a cheap look (no parsing of the values): N examples of
    shape `example`, for the memory estimate."""

    n: int
    example: tuple[int, ...]

    @property
    def values(self) -> int:
        return self.n * math.prod(self.example)


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _existing(path_text: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.exists():
        raise DataFileError(f"{path} does not exist")
    if path.is_dir():
        raise DataFileError(f"{path} is a folder, not a .csv or .npz file")
    return path


# --- cache: the last files read, by path, size and modification time --------------------------
_TABLES: dict[tuple, Table] = {}
_SHAPES: dict[tuple, Shape] = {}
_CACHE_SIZE = 2  # an A/B comparison of two data files


def _remember(cache: dict, key: tuple, value):
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    return value


def load_table(path_text: str, label_column: str = "") -> Table:
    """The data file at `path_text` (CSV or NPZ, by suffix), checked; cached while the file is unchanged."""
    return _cached_read(_TABLES, path_text, label_column, _read_npz, _read_csv)


def peek_shape(path_text: str, label_column: str = "") -> Shape:
    """N and one example's shape, without reading the values (CSV: lines counted, first row split;
    NPZ: the arrays' headers); cached while the file is unchanged."""
    return _cached_read(_SHAPES, path_text, label_column, _npz_shape, _csv_shape)


def _cached_read(cache: dict, path_text: str, label_column: str, from_npz: Callable, from_csv: Callable):
    """`from_npz(path)` or `from_csv(path, label_column)` by the file's suffix, remembered in `cache` while the
    file is unchanged; an unreadable file is a DataFileError naming it."""
    path = _existing(path_text)
    key = (*_key(path), label_column)
    if key in cache:
        return cache[key]
    try:
        value = from_npz(path) if path.suffix.lower() == ".npz" else from_csv(path, label_column)
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _remember(cache, key, value)


def known_classes(path_text: str, label_column: str = "") -> int | None:
    """The number of classes of a file already read (load_table's cache), else None: counting them
    needs every label read."""
    try:
        key = (*_key(Path(path_text).expanduser()), label_column)
    except OSError:
        return None
    table = _TABLES.get(key)
    return None if table is None else table.n_classes


def example_shape_for(table_example: tuple[int, ...], architecture: str) -> tuple[int, ...]:
    """The shape one example is given to `architecture` in: as stored for the user's model and the
    image architectures (config.IMAGE_ARCHITECTURES take [C, H, W]), else flattened."""
    if architecture in IMAGE_ARCHITECTURES or architecture.startswith("user"):
        return table_example
    return (math.prod(table_example),)


def check_architecture(path_text: str, example: tuple[int, ...], architecture: str) -> None:
    """DataFileError when `architecture` cannot take examples of shape `example`."""
    if architecture in IMAGE_ARCHITECTURES and len(example) != 3:
        raise DataFileError(f"{path_text}: array 'x' holds examples of shape {tuple(example)}; '{architecture}' "
                            "needs images: x of shape (N, C, H, W) in an .npz file")


# --- CSV ---------------------------------------------------------------------------------------
def _count_lines(path: Path) -> int:
    """Newline-terminated lines (plus a last unterminated one), by 1 MiB blocks."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _open_csv(path: Path):
    return path.open("r", encoding="utf-8-sig", newline="")


def _first_row(path: Path) -> list[str] | None:
    with _open_csv(path) as fh:
        for row in csv.reader(fh):
            if row:
                return row
    return None


def _csv_layout(path: Path, label_column: str) -> tuple[list[str], bool, int]:
    """The first row, whether it is a header, and the label's 0-based column: `label_column` is a
    header name or a 1-based number ('' = the last column); a header name wins over a number."""
    first = _first_row(path)
    if first is None:
        raise DataFileError(f"{path} is empty: expected rows of numeric features and a label")
    n = len(first)
    if n < 2:
        raise DataFileError(f"{path}: row 1 has {n} column; expected at least one feature and a label")
    names = [c.strip() for c in first]
    if not label_column:
        label = n - 1
    elif label_column.strip().isdigit() and 1 <= int(label_column) <= n:
        label = int(label_column) - 1
    elif label_column in names:
        label = names.index(label_column)
    else:
        label = None
    header = label is None or _has_header(first, label)
    if header and label_column in names:
        label = names.index(label_column)
    if label is None or (label_column and not header and not label_column.strip().isdigit()):
        allowed = f"a header name ({', '.join(names)}) or " if header else "(the file has no header row) "
        raise DataFileError(f"{path}: no label column {label_column!r}; allowed: {allowed}a column number 1..{n}")
    return first, header, label


def _has_header(first: list[str], label: int) -> bool:
    """A first row whose feature cells are not all numbers is a header."""
    return not all(_is_number(c) for i, c in enumerate(first) if i != label)


def _csv_shape(path: Path, label_column: str) -> Shape:
    first, header, _ = _csv_layout(path, label_column)
    return Shape(max(0, _count_lines(path) - header), (len(first) - 1,))


def _read_csv(path: Path, label_column: str) -> Table:
    first, header, label = _csv_layout(path, label_column)
    ncols = len(first)
    names = [c.strip() or str(i + 1) for i, c in enumerate(first)] if header else [str(i + 1) for i in range(ncols)]
    features = [i for i in range(ncols) if i != label]
    capacity = _count_lines(path) - header  # an upper bound: blank lines are skipped
    _check_size(path, capacity, len(features))
    x = np.empty((max(capacity, 0), len(features)), dtype=np.float32)
    labels: list[str] = []
    lines = np.empty(max(capacity, 0), dtype=np.int64)  # each example's row in the file, for messages
    n = 0
    with _open_csv(path) as fh, np.errstate(over="ignore"):  # a value beyond float32 is reported as not finite
        reader = csv.reader(fh)
        try:
            for row in reader:
                if not row:
                    continue  # a blank line
                if header and reader.line_num == 1:
                    continue
                if len(row) != ncols:
                    raise DataFileError(f"{path}: row {reader.line_num} has {len(row)} columns, row 1 has {ncols} "
                                        "(ragged rows)")
                cells = [row[i] for i in features]
                try:
                    x[n] = cells  # numpy parses the strings as numbers
                except (ValueError, IndexError):
                    raise _cell_error(path, reader.line_num, cells, features, names, n >= len(x)) from None
                if not np.isfinite(x[n]).all():
                    col = features[int(np.flatnonzero(~np.isfinite(x[n]))[0])]
                    raise DataFileError(f"{path}: row {reader.line_num}, column {names[col]!r}: {row[col].strip()!r} "
                                        "is not a finite number (NaN, Inf and values beyond float32 are not allowed)")
                labels.append(row[label].strip())
                lines[n] = reader.line_num
                n += 1
        except csv.Error as exc:
            raise DataFileError(f"{path}: row {reader.line_num}: not valid CSV ({exc})") from None
        except UnicodeDecodeError:
            raise DataFileError(f"{path}: row {reader.line_num + 1}: not UTF-8 text, so not a CSV file") from None
    if n == 0:
        raise DataFileError(f"{path} has a header row but no data rows" if header else f"{path} is empty")
    y, classes = _classes(path, labels, f"label column {names[label]!r}", lambda i: f"row {lines[i]}",
                          " (is it the label column? name another with --label COLUMN)")
    return Table(x[:n], y, classes)


def _cell_error(path: Path, line: int, cells: list[str], features: list[int], names: list[str],
                overflow: bool) -> DataFileError:
    if overflow:  # the file grew while it was read
        return DataFileError(f"{path}: changed while it was read (more rows than counted); try again")
    for cell, col in zip(cells, features):
        if not _is_number(cell):
            what = "an empty cell" if not cell.strip() else f"{cell.strip()!r} is not a number"
            return DataFileError(f"{path}: row {line}, column {names[col]!r}: {what}; features must be numeric")
    return DataFileError(f"{path}: row {line}: a value does not fit in float32")


def _classes(path: Path, labels, what: str, where, hint: str = "") -> tuple[np.ndarray, tuple[str, ...]]:
    """Label strings (or a NumPy array of labels) → class indices in sorted label order, checked."""
    values = np.asarray(labels)
    if values.dtype.kind in "iub":
        keys = values.astype(np.int64)
    elif values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataFileError(f"{path}: {what}, {where(i)}: {values[i]!r} is not a class label "
                                "(integers or strings; regression targets are not supported)")
        keys = values.astype(np.int64)
    else:
        text = values.astype(str)
        empty = np.char.str_len(np.char.strip(text)) == 0
        if empty.any():
            raise DataFileError(f"{path}: {what}, {where(int(np.flatnonzero(empty)[0]))}: an empty label")
        try:
            keys = np.array([int(s) for s in text], dtype=np.int64)  # all integers: sort numerically
        except ValueError:
            keys = text
            if all(_is_number(s) for s in text):  # numbers, some not integers: a regression target
                i = next(i for i, s in enumerate(text) if not float(s).is_integer())
                raise DataFileError(f"{path}: {what}, {where(i)}: {text[i]} is not a class label "
                                    "(integers or strings; regression targets are not supported)") from None
    uniques, y = np.unique(keys, return_inverse=True)
    if len(uniques) < 2:
        raise DataFileError(f"{path}: {what} holds a single class ({uniques[0]!s}); classification needs at least 2")
    if len(uniques) > MAX_CLASSES:
        raise DataFileError(f"{path}: {what} holds {len(uniques)} distinct labels, more than the {MAX_CLASSES} "
                            f"classes allowed{hint}")
    return y.astype(np.int64).reshape(-1), tuple(str(u) for u in uniques)


def _check_size(path: Path, n: int, features: int) -> None:
    if n * features > MAX_VALUES:
        raise DataFileError(f"{path}: {n:,} rows × {features:,} features = {n * features:,} values, more than the "
                            f"{MAX_VALUES:,} allowed")


# --- NPZ ---------------------------------------------------------------------------------------
def _npz_members(path: Path) -> dict[str, str]:
    """Array name → member name in the zip archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            return {name[:-4]: name for name in zf.namelist() if name.endswith(".npy")}
    except zipfile.BadZipFile:
        raise DataFileError(f"{path} is not an .npz archive (numpy.savez writes one)") from None


def _member_header(path: Path, member: str) -> tuple[tuple[int, ...], np.dtype]:
    with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(fh)
        except ValueError as exc:
            raise DataFileError(f"{path}: array {member[:-4]!r} is damaged ({exc})") from None
    return tuple(shape), dtype


def _npz_arrays(path: Path) -> tuple[dict[str, str], tuple[int, ...], tuple[int, ...]]:
    members = _npz_members(path)
    for name in ("x", "y"):
        if name not in members:
            have = ", ".join(sorted(members)) or "none"
            raise DataFileError(f"{path}: no array {name!r} (it has: {have}); save with numpy.savez(file, x=..., y=...)")
    (xs, xd), (ys, yd) = _member_header(path, members["x"]), _member_header(path, members["y"])
    if xd.kind not in "biuf":
        raise DataFileError(f"{path}: array 'x' has dtype {xd}; expected numbers (float or int)")
    if len(xs) not in (2, 3, 4) or 0 in xs:
        raise DataFileError(f"{path}: array 'x' has shape {xs}; expected (N, features) or (N, C, H, W) images")
    if len(ys) != 1:
        raise DataFileError(f"{path}: array 'y' has shape {ys}; expected (N,), one label per example")
    if yd.kind not in "biufUS":
        raise DataFileError(f"{path}: array 'y' has dtype {yd}; expected integer or string labels")
    if xs[0] != ys[0]:
        raise DataFileError(f"{path}: arrays 'x' ({xs[0]} examples) and 'y' ({ys[0]} labels) differ in length")
    _check_size(path, xs[0], math.prod(xs[1:]))
    return members, xs, ys


def _npz_shape(path: Path) -> Shape:
    _, xs, _ = _npz_arrays(path)
    return Shape(xs[0], tuple(xs[1:]))


def _stored_array(path: Path, member: str) -> np.ndarray | None:
    """A memory map of an uncompressed member (numpy.savez stores them so), or None when it is
    compressed (numpy.savez_compressed): then it is read through zipfile."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)  # the local file header: its name and extra field lengths end it
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        try:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fh)
        except ValueError:
            return None
        offset = fh.tell()
    if dtype.hasobject or math.prod(shape) == 0:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")


def _read_npz(path: Path) -> Table:
    members, xs, _ = _npz_arrays(path)
    mapped = _stored_array(path, members["x"])
    x = None if mapped is None else np.array(mapped, dtype=np.float32, order="C")  # read once, into float32
    del mapped
    with np.load(path, allow_pickle=False) as npz:
        if x is None:
            x = npz["x"]
            if x.dtype != np.float32:
                x = x.astype(np.float32)  # numbers held once, as float32
        y_raw = npz["y"]
    finite = np.isfinite(x)
    if not finite.all():
        where = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(~finite.reshape(-1))[0]), x.shape))
        raise DataFileError(f"{path}: array 'x' holds NaN or Inf (or a value beyond float32) at index {where}")
    y, classes = _classes(path, y_raw, "array 'y'", lambda i: f"index {i}")
    return Table(x, y, classes)


def file_digest(path_text: str) -> str:
    """SHA-256 of a file's bytes, hex (read by 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(os.fspath(Path(path_text).expanduser()), "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()
