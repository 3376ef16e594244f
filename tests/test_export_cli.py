"""``repscope export`` and ``export_html``: never over a store, the input or a stranger's file;
``--run``/``--probe``/``--config``/``--layer`` choose what is exported, and ``repscope ls`` says
what to pass (issue 20, item 2)."""

from __future__ import annotations

import json
import os
import shlex
import sqlite3

import pytest
import torch

from repscope import CheckpointFolder, Probe, Trajectory
from repscope.synthetic import synthetic_trajectory
from tests.models import mlp, save_mlp_checkpoints

pytest.importorskip("anywidget")

from repscope.widgets import export_html
from repscope.widgets.export import read_page

MINE = "<!DOCTYPE html>\n<html><body><p>my own notes</p></body></html>\n"


def refused(done, *words):
    """Exit 1, one line on stderr naming ``--html`` and each of ``words``, no traceback."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert "'--html' argument of repscope export" in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.fixture
def store(tmp_path):
    """A store with one run, one probe and one configuration: export needs no choice."""
    path = tmp_path / "run.sqlite"
    synthetic_trajectory(n_steps=4, layers=("h.0", "h.1"), n_points=20, store=path).store.close()
    return path


def page_layers(path):
    return read_page(path)["messages"][0]["runs"][0]["layers"]


# -- where a page may go ------------------------------------------------------------------------
@pytest.mark.parametrize("force", [(), ("--force",)])
def test_export_never_writes_over_its_own_store(store, force, cli):
    before = store.read_bytes()
    refused(cli("export", store, "--html", store, *force), "the store being exported")
    assert store.read_bytes() == before


@pytest.mark.parametrize("link", [os.symlink, os.link])
def test_export_never_writes_over_its_store_through_a_link(store, tmp_path, link, cli):
    other = tmp_path / "page.html"
    link(store, other)
    before = store.read_bytes()
    for force in ((), ("--force",)):
        refused(cli("export", store, "--html", other, *force), "the store being exported")
        assert store.read_bytes() == before


def test_export_never_writes_over_another_sqlite_file(store, tmp_path, cli):
    other = tmp_path / "other.html"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text)")
    conn.close()
    before = other.read_bytes()
    for force in ((), ("--force",)):
        refused(cli("export", store, "--html", other, *force), "SQLite database")
        assert other.read_bytes() == before


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.txt", b"my notes\n"), ("run.sqlite-wal", bytes([0x37, 0x7F, 0x06, 0x82]) * 8)],
)
def test_export_never_writes_over_a_file_that_is_not_a_page(store, tmp_path, name, content, cli):
    other = tmp_path / name
    other.write_bytes(content)
    for force in ((), ("--force",)):
        refused(cli("export", store, "--html", other, *force), "not an HTML page")
        assert other.read_bytes() == content


def test_another_html_page_is_replaced_only_with_force(store, tmp_path, cli):
    other = tmp_path / "notes.html"
    other.write_text(MINE)
    refused(cli("export", store, "--html", other), "did not export", "--force")
    assert other.read_text() == MINE
    done = cli("export", store, "--html", other, "--force")
    assert done.returncode == 0, done.stderr
    assert page_layers(other) == ["h.0", "h.1"]


def test_a_folder_is_refused_naming_the_option(store, tmp_path, cli):
    (tmp_path / "out").mkdir()
    refused(cli("export", store, "--html", tmp_path / "out"), "a folder")


def test_the_page_says_repscope_wrote_it_and_is_replaced_without_force(store, tmp_path, cli):
    out = tmp_path / "page.html"
    assert cli("export", store, "--html", out).returncode == 0
    head = out.read_text().split("</head>")[0]
    assert '<meta name="generator" content="repscope ' in head
    done = cli("export", store, "--html", out, "--layer", "h.0")  # a page it wrote: replaced
    assert done.returncode == 0, done.stderr
    assert read_page(out)["state"]["layer"] == "h.0"


def test_a_page_from_before_the_generator_tag_is_replaced_without_force(store, tmp_path, cli):
    out = tmp_path / "old.html"
    assert cli("export", store, "--html", out).returncode == 0
    lines = out.read_text().split("\n")
    out.write_text("\n".join(line for line in lines if 'name="generator"' not in line))
    done = cli("export", store, "--html", out, "--layer", "h.0")
    assert done.returncode == 0, done.stderr
    assert read_page(out)["state"]["layer"] == "h.0"


def test_an_empty_file_is_written(store, tmp_path, cli):
    out = tmp_path / "empty.html"
    out.touch()
    assert cli("export", store, "--html", out).returncode == 0
    assert page_layers(out) == ["h.0", "h.1"]


# -- the Python API -----------------------------------------------------------------------------
def test_export_html_replaces_another_page_only_with_overwrite(tmp_path):
    traj = synthetic_trajectory(n_steps=4, layers=("h.0",), n_points=20)
    other = tmp_path / "notes.html"
    other.write_text(MINE)
    with pytest.raises(ValueError, match=r"'path' argument of export_html .*overwrite=True"):
        export_html(traj, other)
    assert other.read_text() == MINE
    assert page_layers(export_html(traj, other, overwrite=True)) == ["h.0"]
    assert page_layers(export_html(traj, other)) == ["h.0"]  # now a page it wrote


def test_export_html_never_replaces_a_store_even_with_overwrite(store, tmp_path):
    before = store.read_bytes()
    traj = synthetic_trajectory(n_steps=4, layers=("h.0",), n_points=20)
    for source in (store, str(store), {"a": traj}):
        for options in ({}, {"overwrite": True}):
            with pytest.raises(
                ValueError, match=r"'path' argument of export_html .*(store|SQLite)"
            ):
                export_html(source, store, **options)
            assert store.read_bytes() == before


def test_a_fifo_or_a_non_path_is_refused_without_waiting(tmp_path):
    from repscope.widgets.page_file import check_page_path

    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        check_page_path(fifo, overwrite=True)
    with pytest.raises(TypeError, match="'path' argument of export_html"):
        check_page_path(None)


# -- choosing what is exported ------------------------------------------------------------------
def probe(seed):
    inputs = torch.randn(48, 6, generator=torch.Generator().manual_seed(seed))
    return Probe(inputs, layers=["1", "3"])


@pytest.fixture(scope="module")
def choices(tmp_path_factory):
    """One run under two configurations (a scan, then the same scan with DSE) and, with
    another probe, a third: ``{"store", "ls"}``."""
    root = tmp_path_factory.mktemp("choices")
    folder = root / "ckpts"
    folder.mkdir()
    save_mlp_checkpoints(folder, [0, 2, 4])
    store = root / "run.sqlite"
    for seed, dse in ((0, False), (0, True), (1, False)):
        Trajectory(
            CheckpointFolder(folder, model=mlp),
            probe(seed),
            store=store,
            fit_range=(2, 10),
            dse=dse,
            sigma="median",
        ).compute(progress=False)
    return store


def chosen(cli, store):
    """``[(the options on each "export" line of repscope ls, its config line)]``."""
    done = cli("ls", store)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith("  export   "):
            config = [x for x in lines[:i] if x.startswith("  config   ")][-1]
            found.append((shlex.split(line.removeprefix("  export   ")), config))
    return found


def measures_in(page):
    runs = read_page(page)["messages"][0]["runs"]
    return set(runs[0]["measures"]["names"])


def test_ls_shows_what_export_takes_for_each_combination(choices, tmp_path, cli):
    found = chosen(cli, choices)
    assert len(found) == 3
    assert len({tuple(options) for options, _ in found}) == 3
    for i, (options, config) in enumerate(found):
        assert options[0::2] == ["--run", "--probe", "--config"]
        out = tmp_path / f"{i}.html"
        done = cli("export", choices, "--html", out, *options)
        assert done.returncode == 0, done.stderr
        assert ("dse" in measures_in(out)) == ("DSE" in config)


def test_a_run_with_several_configurations_names_the_options(choices, tmp_path, cli):
    out = tmp_path / "p.html"
    done = cli("export", choices, "--html", out)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "--probe" in done.stderr and "--config" in done.stderr
    assert "StoreCatalog" not in done.stderr and "'config' argument" not in done.stderr
    (options, _), *_ = chosen(cli, choices)
    probe_only = cli("export", choices, "--html", out, "--probe", options[3])
    assert probe_only.returncode == 1 and "pass --config, one of" in probe_only.stderr
    assert not out.exists()


def test_prefixes_full_values_and_bad_choices(choices, tmp_path, cli):
    out = tmp_path / "p.html"
    options = next(o for o, config in chosen(cli, choices) if "DSE" in config)
    run, probe_id, config_id = options[1], options[3], options[5]
    with sqlite3.connect(choices) as conn:
        keys = [k for (k,) in conn.execute("SELECT DISTINCT params FROM results")]
    conn.close()
    full = next(k for k in keys if json.loads(k).get("dse"))
    for given in (config_id[:4], config_id, full):
        done = cli("export", choices, "--html", out, "--probe", probe_id, "--config", given)
        assert done.returncode == 0, done.stderr
        assert "dse" in measures_in(out)
    done = cli("export", choices, "--html", out, "--probe", f"probe:{probe_id}", "--run", run)
    assert done.returncode == 1 and "pass --config" in done.stderr
    for option, value in (("--config", "zz"), ("--probe", "zz"), ("--run", "nope")):
        bad = cli("export", choices, "--html", out, option, value)
        assert bad.returncode == 1 and "Traceback" not in bad.stderr
        assert f"{option} {value!r}" in bad.stderr and "one of" in bad.stderr
    bad = cli("export", choices, "--html", out, *options, "--layer", "nope")
    assert bad.returncode == 1 and "'--layer' argument of repscope export" in bad.stderr
    assert "['1', '3']" in bad.stderr


def test_an_ambiguous_prefix_is_an_error_listing_longer_ones():
    from repscope.store_cli import _match, short_ids

    ids = {"a": "1234567890ab", "b": "1234567890cd"}
    assert short_ids(ids.values()) == {"1234567890ab": "1234567890a", "1234567890cd": "1234567890c"}
    with pytest.raises(
        ValueError, match=r"--config '1234' matches 2 configurations .*'1234567890a'"
    ):
        _match("--config", "1234", ids, "s.sqlite")
    assert _match("--config", "1234567890c", ids, "s.sqlite") == "b"
    assert short_ids(["ab", "cd"]) == {"ab": "ab", "cd": "cd"}  # shorter than 8: kept whole


def test_phases_from_picks_the_measures_the_page_shades(tmp_path, cli):
    path = tmp_path / "s.sqlite"
    traj = synthetic_trajectory(n_steps=16, layers=("h.0",), n_points=40, seed=0, store=path)
    expected = traj.phases(measures=("participation_ratio", "alpha"))
    traj.store.close()
    out = tmp_path / "p.html"
    done = cli("export", path, "--html", out, "--phases-from", "participation_ratio,alpha")
    assert done.returncode == 0, done.stderr
    head = next(m for m in read_page(out)["messages"] if m["type"] == "layer")
    assert [(p["start"], p["end"], p["name"]) for p in head["panels"]["curves"]["phases"]] == [
        (p.start_step, p.end_step, p.name) for p in expected
    ]
    bad = cli("export", path, "--html", tmp_path / "q.html", "--phases-from", "alpha,nope")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "'--phases-from' argument of repscope export" in bad.stderr and "'nope'" in bad.stderr
    assert not (tmp_path / "q.html").exists()
