"""Stored strings reach a terminal with their control characters escaped (issue 20, item 4)."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch

from repscope.store import Record, Store
from repscope.synthetic import synthetic_trajectory

TITLE, TITLE_SHOWN = "\x1b]0;owned\x07", r"\x1b]0;owned\x07"  # sets the terminal's title
CLEAR, CLEAR_SHOWN = "\x1b[2J\x1b[H", r"\x1b[2J\x1b[H"  # clears the screen
RUN = f"run{TITLE}"
LAYER, LAYER_SHOWN = f"h{CLEAR}.0", rf"h{CLEAR_SHOWN}.0"
# a forged line after a carriage return and a line feed
ERROR, ERROR_SHOWN = f"diverged{CLEAR}\r\nfailed   none", rf"diverged{CLEAR_SHOWN}\r\nfailed   none"
SOURCE, SOURCE_SHOWN = f"/data/ckpts{TITLE}", rf"/data/ckpts{TITLE_SHOWN}"
RAW = ("\x1b", "\x07", "\r")


def printable(*args, **kwargs):
    from repscope._terminal import printable

    return printable(*args, **kwargs)


# -- printable ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1bb", r"a\x1bb"),  # ESC
        ("bell\x07", r"bell\x07"),
        ("nul\x00", r"nul\x00"),
        ("del\x7f", r"del\x7f"),
        ("csi\x9b2J", r"csi\x9b2J"),  # the one-character C1 form of ESC [
        ("cr\rlf\ntab\t", r"cr\rlf\ntab\t"),
        ("rtl\u202etxt.exe", r"rtl\u202etxt.exe"),  # the right-to-left override
        ("iso\u2066x\u2069", r"iso\u2066x\u2069"),
        ("line\u2028sep", r"line\u2028sep"),
        ("lone\udcff", r"lone\udcff"),  # a surrogate from an undecodable byte
    ],
)
def test_printable_escapes_every_control_character(text, shown):
    assert printable(text) == shown


def test_printable_keeps_every_other_character():
    text = r"encoder.layer.0 · α-ReQ σ=10 Größe 層 🙂 C:\runs\a 'q' \"d\" %{y} </script>"
    assert printable(text) == text


def test_printable_keeps_line_feeds_only_when_asked():
    assert printable("a\nb\x1b[2J", newlines=True) == "a\nb\\x1b[2J"
    assert printable("a\r\nb", newlines=True) == "a\\r\nb"
    assert printable("a\nb") == "a\\nb"
    assert printable(3.5) == "3.5"


# -- the command line ---------------------------------------------------------------------------
@pytest.fixture
def hostile_store(tmp_path):
    """A store whose run name, layer name, source and error text carry terminal sequences."""
    path = tmp_path / "hostile.sqlite"
    traj = synthetic_trajectory(n_steps=4, layers=(LAYER,), n_points=20, run=RUN, store=path)
    key = traj.key()
    store = Store(path)
    store.put(
        Record(RUN, "sha256:0", "*", key["probe"], key["params"], 99, status="failed", error=ERROR)
    )
    store.close()
    with sqlite3.connect(path) as conn:  # as if the run was scanned from a folder of that name
        source = json.dumps({"kind": "folder", "path": SOURCE, "identity": SOURCE})
        conn.execute("UPDATE runs SET source=? WHERE run=?", (source, RUN))
    conn.close()
    return path


def test_ls_prints_stored_strings_escaped(hostile_store, cli):
    done = cli("ls", hostile_store)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not any(c in out for c in RAW), repr(out)
    assert LAYER_SHOWN in out and SOURCE_SHOWN in out
    assert ERROR_SHOWN in out  # the forged line stays inside its own line
    assert not any(line.startswith("failed") for line in out.splitlines())


def test_export_prints_stored_strings_escaped(hostile_store, tmp_path, cli):
    done = cli("export", hostile_store, "--html", tmp_path / "p.html")
    assert done.returncode == 0, done.stderr
    assert not any(c in done.stdout + done.stderr for c in RAW), repr(done.stdout)
    assert rf"run{TITLE_SHOWN}" in done.stdout


def test_an_error_message_is_printed_escaped(monkeypatch, capsys):
    import repscope.store_cli
    from repscope.cli import main

    def fails(args):
        raise ValueError(f"layer {LAYER} of {SOURCE} is bad")

    monkeypatch.setattr(repscope.store_cli, "run_ls", fails)
    assert main(["ls", "whatever.sqlite"]) == 1
    err = capsys.readouterr().err
    assert not any(c in err for c in RAW), repr(err)
    assert LAYER_SHOWN in err and SOURCE_SHOWN in err


def test_scan_prints_folder_and_file_names_escaped(tmp_path, cli):
    from safetensors.torch import save_file

    from tests.models import save_mlp_checkpoints

    folder = tmp_path / f"ckpts{TITLE}"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 2])
    (folder / f"weights{CLEAR}.pt").write_bytes(b"not a checkpoint")  # no step: skipped
    probe = tmp_path / "probe.safetensors"
    save_file({"inputs": torch.randn(40, 6, generator=torch.Generator().manual_seed(0))}, probe)
    done = cli(
        "scan",
        folder,
        "--store",
        tmp_path / "s.sqlite",
        "--probe",
        probe,
        "--model",
        "tests.models:mlp",
        "--layers",
        "1,3",
        "--fit-range",
        "2,10",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert not any(c in out + done.stderr for c in RAW), repr(out)
    assert f"skipped: weights{CLEAR_SHOWN}.pt" in out
    assert f"ckpts{TITLE_SHOWN}: 2 checkpoints" in out
