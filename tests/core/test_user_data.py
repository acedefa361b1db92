"""The user's own data (core/data_files.py, dataset 'file'): CSV and NPZ read into the same
standardized, seeded data set; every bad file is one line naming the row and column or the array."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core import SimConfig, Simulator, data_files, memory
from core.data import DATASETS
from core.data_files import DataFileError, load_table, peek_shape
from core.export_script import export_script
from core.session import Session, load_session, save_session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "small_cnn.py"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _cfg(path: Path, **kw) -> SimConfig:
    return SimConfig(**{**dict(dataset="file", data_file=str(path), n_samples=64, batch_size=8, depth=2, width=8,
                               device="cpu"), **kw})


CSV_ERRORS = [  # (file text, label column, message after "data_file: <path>")
    ("a,b,y\n1,2,0\n3,x,1\n", "", ": row 3, column 'b': 'x' is not a number; features must be numeric"),
    ("a,b,y\n1,2,0\n3,,1\n", "", ": row 3, column 'b': an empty cell; features must be numeric"),
    ("1,2,0\n3,nan,1\n", "", ": row 2, column '2': 'nan' is not a finite number (NaN, Inf and values beyond "
                             "float32 are not allowed)"),
    ("1,2,0\n3,1e39,1\n", "", ": row 2, column '2': '1e39' is not a finite number (NaN, Inf and values beyond "
                              "float32 are not allowed)"),
    ("1,2,0\n3,1\n", "", ": row 2 has 2 columns, row 1 has 3 (ragged rows)"),
    ("", "", " is empty: expected rows of numeric features and a label"),
    ("a,b,y\n", "", " has a header row but no data rows"),
    ("1,2,cat\n3,1,cat\n", "", ": label column '3' holds a single class (cat); classification needs at least 2"),
    ("1,2,0.5\n3,1,1\n", "", ": label column '3', row 1: 0.5 is not a class label (integers or strings; "
                             "regression targets are not supported)"),
    ("a,b,y\n1,2,0\n3,1,1\n", "z", ": no label column 'z'; allowed: a header name (a, b, y) or a column number 1..3"),
    ("7\n", "", ": row 1 has 1 column; expected at least one feature and a label"),
]


@pytest.mark.parametrize("text,label,message", CSV_ERRORS)
def test_bad_csv_is_one_line(tmp_path, text, label, message):
    path = _write(tmp_path, "d.csv", text)
    with pytest.raises(DataFileError) as info:
        Simulator(_cfg(path, label_column=label))
    assert str(info.value) == f"data_file: {path}{message}"


def test_too_many_classes(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "MAX_CLASSES", 3)
    path = _write(tmp_path, "d.csv", "".join(f"{i},{i % 4}\n" for i in range(20)))
    with pytest.raises(DataFileError) as info:
        load_table(str(path))
    assert str(info.value) == (f"data_file: {path}: label column '2' holds 4 distinct labels, more than the 3 classes "
                               "allowed (is it the label column? name another with --label COLUMN)")


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "MAX_VALUES", 10)
    path = _write(tmp_path, "d.csv", "".join(f"{i},{i},{i},{i % 2}\n" for i in range(5)))
    with pytest.raises(DataFileError, match=r": 5 rows × 3 features = 15 values, more than the 10 allowed$"):
        load_table(str(path))


def _npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


RNG = np.random.default_rng(0)
NPZ_ERRORS = [
    (dict(x=RNG.normal(size=(10, 3)), y=np.arange(9) % 2), ": arrays 'x' (10 examples) and 'y' (9 labels) differ in length"),
    (dict(x=RNG.normal(size=(10, 3))), ": no array 'y' (it has: x); save with numpy.savez(file, x=..., y=...)"),
    (dict(x=np.where(np.eye(10, 3) > 0, np.inf, 0.0), y=np.arange(10) % 2),
     ": array 'x' holds NaN or Inf (or a value beyond float32) at index (0, 0)"),
    (dict(x=RNG.normal(size=(10,)), y=np.arange(10) % 2),
     ": array 'x' has shape (10,); expected (N, features) or (N, C, H, W) images"),
    (dict(x=RNG.normal(size=(10, 3)), y=np.zeros((10, 2))), ": array 'y' has shape (10, 2); expected (N,), one label per example"),
    (dict(x=np.array([["a", "b"]] * 10), y=np.arange(10) % 2), ": array 'x' has dtype <U1; expected numbers (float or int)"),
    (dict(x=RNG.normal(size=(10, 3)), y=np.ones(10)), ": array 'y' holds a single class (1); classification needs at least 2"),
]


@pytest.mark.parametrize("arrays,message", NPZ_ERRORS)
def test_bad_npz_is_one_line(tmp_path, arrays, message):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(DataFileError) as info:
        Simulator(_cfg(path))
    assert str(info.value) == f"data_file: {path}{message}"


def test_not_an_npz_and_images_for_cnn(tmp_path):
    fake = _write(tmp_path, "f.npz", "hello")
    with pytest.raises(DataFileError, match=r"f.npz is not an .npz archive \(numpy.savez writes one\)$"):
        load_table(str(fake))
    with pytest.raises(DataFileError, match=r"d.npz: array 'x' holds examples of shape \(3,\); 'cnn' needs images: "
                                            r"x of shape \(N, C, H, W\) in an .npz file$"):
        data_files.check_architecture(f"{tmp_path / 'd.npz'}", (3,), "cnn")


def test_cli_bad_file_exit_2(tmp_path, run_cli):
    path = _write(tmp_path, "d.csv", "a,b,y\n1,2,0\n3,x,1\n")
    code, out, err = run_cli("probe", "--data", path, "--set", "depth=2")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: data_file: {path}: row 3, column 'b': 'x' is not a number; features must be numeric"]


def test_csv_with_header_string_labels_and_a_named_label_column(tmp_path):
    path = _write(tmp_path, "d.csv", "kind,u,v\ncat,1,2\n\ndog,3,5\ncat,2,2\nbird,0,1\n")
    table = load_table(str(path), "kind")
    np.testing.assert_array_equal(table.x, [[1, 2], [3, 5], [2, 2], [0, 1]])
    assert table.classes == ("bird", "cat", "dog")
    np.testing.assert_array_equal(table.y, [1, 2, 1, 0])
    assert load_table(str(path), "1").classes == table.classes  # by number
    assert peek_shape(str(path), "kind") == data_files.Shape(5, (2,))  # counted lines: an upper bound


def test_csv_and_npz_give_the_same_standardized_seeded_data(tmp_path):
    x = RNG.normal(3.0, 2.0, size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 3).astype(np.int64)
    csv_path = _write(tmp_path, "d.csv", "".join(",".join(f"{v!r}" for v in row) + f",{l}\n"
                                                 for row, l in zip(x.tolist(), y)))
    npz_path = _npz(tmp_path, x=x, y=y)
    a = DATASETS["file"](_cfg(csv_path, n_samples=150), torch.Generator().manual_seed(5))
    b = DATASETS["file"](_cfg(npz_path, n_samples=150), torch.Generator().manual_seed(5))
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and a.n_classes == 2
    # the digits' rule: zero mean and unit (unbiased) std per feature over the subset
    np.testing.assert_allclose(a.x.double().mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(a.x.double().std(0), 1, rtol=1e-5)
    # the subset is the first n_samples of a seeded permutation, as for digits
    order = torch.randperm(200, generator=torch.Generator().manual_seed(5))[:150]
    np.testing.assert_array_equal(a.y.numpy(), y[order.numpy()])
    c = DATASETS["file"](_cfg(csv_path, n_samples=150), torch.Generator().manual_seed(6))
    assert not torch.equal(a.y, c.y)


def test_images_keep_their_shape_for_a_user_model_and_train(tmp_path):
    x = RNG.normal(size=(96, 1, 8, 8)).astype(np.float32)
    y = np.arange(96) % 10
    path = _npz(tmp_path, x=x, y=y)
    cfg = _cfg(path, architecture="user", model=f"{EXAMPLE}:make", width=32, n_samples=96, batch_size=16)
    sim = Simulator(cfg)
    assert tuple(sim.x.shape) == (96, 1, 8, 8)
    assert not sim.step(3).nonfinite
    flat = Simulator(_cfg(path, n_samples=96, batch_size=16))  # an MLP sees 64 features
    assert tuple(flat.x.shape) == (96, 64)


def test_memory_estimate_counts_the_file(tmp_path):
    path = _npz(tmp_path, x=np.zeros((1000, 50), np.float32), y=np.arange(1000) % 2)
    cfg = _cfg(path, n_samples=100)
    # the whole file as float32 plus its labels, and the 100-example subset in use
    assert memory.estimate(cfg).data == 1000 * 50 * 4 + 1000 * 8 + 100 * 50 * 4 + 100 * 8
    memory.set_budget_mb(0.1)
    try:
        with pytest.raises(memory.MemoryLimitError):
            Simulator(cfg)
    finally:
        memory.set_budget_mb(None)


def test_session_records_the_data_hash(tmp_path):
    path = _write(tmp_path, "d.csv", "1,2,0\n3,1,1\n" * 10)
    saved = tmp_path / "s.json"
    save_session(saved, Session.single(_cfg(path, n_samples=16)))
    assert load_session(saved).warnings == ()
    path.write_text("1,2,0\n3,1,1\n" * 11)
    assert load_session(saved).warnings[0].startswith("d.csv changed since the session was saved")


def test_exported_script_trains_like_the_simulator(tmp_path, monkeypatch, capsys):
    """The script of a user model on a user data file, run as __main__ in this process (that an
    exported script runs on its own is tests/core/test_export_script.py's subprocess test)."""
    x = RNG.normal(size=(64, 1, 8, 8)).astype(np.float32)  # images: the example unflattens only the digits
    path = _npz(tmp_path, x=x, y=np.arange(64) % 10)
    cfg = _cfg(path, architecture="user", model=f"{EXAMPLE}:make", width=32, n_samples=64, batch_size=16)
    script = tmp_path / "exp.py"
    script.write_text(export_script(cfg, "exp.py"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "--steps", "2"])
    monkeypatch.setattr(sys, "path", list(sys.path))  # whatever the script adds to it goes afterwards
    capsys.readouterr()
    runpy.run_path(str(script), run_name="__main__")
    losses = [float(line.split()[3]) for line in capsys.readouterr().out.splitlines()]
    sim = Simulator(cfg)
    expected = [sim.step(1).loss for _ in range(2)]
    np.testing.assert_allclose(losses, expected, rtol=1e-6)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_stored_or_compressed_reads_the_same(tmp_path, save):
    # np.savez stores members uncompressed (read through a memory map), savez_compressed deflates them
    x = np.asfortranarray(RNG.normal(size=(40, 7)))
    path = tmp_path / "d.npz"
    save(path, x=x, y=np.array(["b", "a"] * 20))
    table = load_table(str(path))
    np.testing.assert_array_equal(table.x, x.astype(np.float32))
    assert table.classes == ("a", "b") and table.y.tolist() == [1, 0] * 20
    assert (data_files._stored_array(path, "x.npy") is not None) == (save is np.savez)


def test_label_column_by_number_in_a_headerless_file(tmp_path):
    # the string labels in column 1 must not make row 1 look like a header
    path = _write(tmp_path, "d.csv", "cat,1,2\ndog,3,5\ncat,2,2\n")
    table = load_table(str(path), "1")
    np.testing.assert_array_equal(table.x, [[1, 2], [3, 5], [2, 2]])
    assert table.classes == ("cat", "dog") and table.y.tolist() == [0, 1, 0]
