"""pinr.io is the one writer: files appear whole, with mode 0644 whatever the umask, and a failed
write leaves the old file and no temporary behind."""

from __future__ import annotations

import csv
import json
import os
import stat

import numpy as np
import pytest
import torch

from pinr import io as pio
from pinr.geometry import write_mesh
from pinr.plotting import plot_fields, plot_loss_curves


@pytest.fixture
def strict_umask():
    old = os.umask(0o077)  # a umask that would give 0600 to files created with the default mode
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _no_temporaries(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".partial")] == []


def test_every_writer_gives_mode_0644(tmp_path, strict_umask):
    written = [
        plot_fields(tmp_path / "field.png", {"u": np.random.default_rng(0).normal(size=(8, 8))}),
        plot_loss_curves(tmp_path / "loss.png", {"total": [1.0, 0.5, 0.25]}),
        pio.write_json(tmp_path / "metrics.json", {"rel_l2": np.float64(0.5), "shape": np.arange(3)}),
        pio.save_npz(tmp_path / "fields.npz", u=np.ones((4, 4))),
        pio.write_csv(tmp_path / "history.csv", {"step": [1, 2], "loss": [0.5, 0.25]}),
        pio.save_torch(tmp_path / "checkpoint.pt", {"w": torch.zeros(2)}),
        pio.write_text(tmp_path / "notes.md", "# notes\n"),
        write_mesh(tmp_path / "tri.ply", np.eye(3), np.array([[0, 1, 2]])),
    ]
    for path in written:
        assert path.exists() and _mode(path) == 0o644, path.name
    assert _no_temporaries(tmp_path)
    assert (tmp_path / "field.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"rel_l2": 0.5, "shape": [0, 1, 2]}
    assert np.array_equal(np.load(tmp_path / "fields.npz")["u"], np.ones((4, 4)))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = pio.write_text(tmp_path / "a.txt", "old\n")

    def broken(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        pio.atomic_write(target, broken)
    assert target.read_text() == "old\n" and _no_temporaries(tmp_path)


def test_parent_folders_are_created(tmp_path):
    path = pio.write_json(tmp_path / "run" / "deep" / "config.json", {"a": 1})
    assert path.exists() and _mode(path) == 0o644


def test_write_csv_has_a_header_and_reads_back_exactly(tmp_path):
    loss = np.array([0.1, 1 / 3, 2.5e-12])
    path = pio.write_csv(tmp_path / "h.csv", {"step": np.arange(3), "loss": loss, "lr": torch.tensor([1e-3] * 3),
                                              "name": ["a", "b,c", 'd"e']})
    rows = list(csv.reader(path.read_text().splitlines()))
    assert rows[0] == ["step", "loss", "lr", "name"] and len(rows) == 4
    assert [float(r[1]) for r in rows[1:]] == loss.tolist()
    assert [r[3] for r in rows[1:]] == ["a", "b,c", 'd"e']


@pytest.mark.parametrize("columns, match", [({"a": [1, 2], "b": [1]}, "different lengths"), ({}, "at least one"),
                                            ({"a": [[1, 2]]}, "one value per row"), ({1: [1]}, "strings")])
def test_write_csv_refuses_ragged_or_malformed_columns(tmp_path, columns, match):
    with pytest.raises(ValueError, match=match):
        pio.write_csv(tmp_path / "bad.csv", columns)
    assert not (tmp_path / "bad.csv").exists()


def test_json_is_strict_undefined_numbers_become_null(tmp_path):
    import json

    import numpy as np

    from pinr.io import write_json

    path = write_json(tmp_path / "m.json", {"rel_l2": float("nan"), "v": [1.0, float("inf")], "a": np.array([np.nan])})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))) == \
        {"rel_l2": None, "v": [1.0, None], "a": [None]}
