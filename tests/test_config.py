"""The key rule: a configuration's key holds only what changes a result, so no row is orphaned."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

import numpy as np
import pytest

from repscope._validation import check_real
from repscope.config import MeasureConfig, current_key
from repscope.options import option, option_table
from repscope.store import SCHEMA_VERSION, Store

OLD_SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '2');
CREATE TABLE results (run TEXT NOT NULL, checkpoint TEXT NOT NULL, layer TEXT NOT NULL,
    probe TEXT NOT NULL, params TEXT NOT NULL, step INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), measures TEXT, spectrum BLOB,
    error TEXT, created REAL NOT NULL, points BLOB, points_dim INTEGER,
    PRIMARY KEY (run, step, checkpoint, layer, probe, params));
"""


def old_key(**fields):
    """The key repscope 0.1 wrote: canonical JSON of every MeasureConfig field."""
    base = dict(
        view="activations",
        kind="covariance",
        fit_range=[12, 100],
        eps=1e-7,
        max_components=None,
        dse=False,
        sigma=10.0,
        t=1.0,
    )
    base.update(fields)
    return json.dumps(base, sort_keys=True, separators=(",", ":"))


def test_dse_options_count_only_when_dse_is_computed():
    assert MeasureConfig(sigma=3.0, t=5.0).key() == MeasureConfig().key()
    assert MeasureConfig(dse=True, sigma=3.0).key() != MeasureConfig(dse=True).key()
    weights = MeasureConfig(view="weights", dse=True, sigma=3.0)  # DSE is not computed on weights
    assert weights.key() == MeasureConfig(view="weights").key()
    assert "sigma" not in json.loads(MeasureConfig().key())


def test_a_key_is_readable_and_names_its_configuration():
    config = MeasureConfig(fit_range=(2, 30), dse=True, sigma="median", t=2.0)
    assert json.loads(config.key()) == {
        "view": "activations",
        "kind": "covariance",
        "fit_range": [2, 30],
        "eps": 1e-7,
        "max_components": None,
        "dse": True,
        "sigma": "median",
        "t": 2.0,
        "errors": "jackknife",
        "error_groups": 10,
    }
    restored = MeasureConfig.from_key(config.key())
    assert restored.key() == config.key() and restored.fit_range == (2, 30)


def test_old_keys_are_rewritten_to_todays_rule():
    """Keys from before error bars existed name rows without them: errors="none"."""
    plain = MeasureConfig(errors="none")
    assert current_key(old_key()) == plain.key()
    assert current_key(old_key(sigma=5.0)) == plain.key()  # σ without DSE: no effect
    assert (
        current_key(old_key(dse=True, sigma=5.0))
        == MeasureConfig(dse=True, sigma=5.0, errors="none").key()
    )
    assert current_key("not json") == "not json"


def test_a_late_option_enters_the_key_only_off_its_default():
    """The rule for adding an option: rows computed before it existed keep their key."""

    @option_table
    @dataclass(frozen=True)
    class EpsIsNew(MeasureConfig):  # as if eps were new, with stores made under 1e-7
        eps: float = option(1e-7, since=1e-7, check=check_real, help="RankMe's ε.")

    before = json.dumps(
        {k: v for k, v in json.loads(MeasureConfig().key()).items() if k != "eps"},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert EpsIsNew().key() == before  # at its default: absent, the old key
    assert json.loads(EpsIsNew(eps=1e-9).key())["eps"] == 1e-9  # changed: present
    assert EpsIsNew.from_key(before).eps == 1e-7  # an old key reads as the old value
    assert MeasureConfig().key() != before  # MeasureConfig's own table is untouched


def test_a_schema_2_store_keeps_its_rows_under_the_new_keys(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA_2)
    rows = [
        (
            "r",
            "sha:1",
            "h.0",
            "p",
            old_key(),
            1,
            "ok",
            '{"effective_rank": 2.5}',
            np.array([0.75, 0.25]).tobytes(),
            None,
            1.0,
            None,
            None,
        ),
        # the same result under a key that differed only in an unused σ: one row remains
        (
            "r",
            "sha:1",
            "h.0",
            "p",
            old_key(sigma=3.0),
            1,
            "ok",
            '{"effective_rank": 2.5}',
            np.array([0.75, 0.25]).tobytes(),
            None,
            2.0,
            None,
            None,
        ),
        (
            "r",
            "sha:2",
            "h.0",
            "p",
            old_key(dse=True),
            2,
            "ok",
            '{"dse": 4.0}',
            None,
            None,
            1.0,
            None,
            None,
        ),
    ]
    conn.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.commit()
    conn.close()
    with Store(path) as store:
        plain = list(store.records(run="r", params=MeasureConfig(errors="none").key()))
        with_dse = list(store.records(run="r", params=MeasureConfig(dse=True, errors="none").key()))
    assert [(r.step, r.measures) for r in plain] == [(1, {"effective_rank": 2.5})]
    assert [(r.step, r.measures) for r in with_dse] == [(2, {"dse": 4.0})]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    conn.close()


@pytest.mark.parametrize("field", ["view", "kind"])
def test_bad_options_still_raise_in_the_grammar(field):
    with pytest.raises(ValueError, match=rf"^The '{field}' argument of MeasureConfig must be"):
        MeasureConfig(**{field: "nope"})


def test_error_bars_put_their_method_and_size_in_the_key():
    """In the key whenever they are computed (at their defaults too), never otherwise: rows
    stored before error bars existed answer under errors="none"."""
    on, off = json.loads(MeasureConfig().key()), json.loads(MeasureConfig(errors="none").key())
    assert (on["errors"], on["error_groups"]) == ("jackknife", 10)
    assert "errors" not in off and "error_groups" not in off
    assert json.loads(MeasureConfig(error_groups=20).key())["error_groups"] == 20
    assert MeasureConfig(errors="none", error_groups=20).key() == MeasureConfig(errors="none").key()
    weights = json.loads(MeasureConfig(view="weights").key())  # no probe inputs to resample
    assert "errors" not in weights
    assert MeasureConfig.from_key(MeasureConfig(errors="none").key()).errors == "none"
    with pytest.raises(ValueError, match="'errors' argument of MeasureConfig must be one of"):
        MeasureConfig(errors="bootstrap")
    with pytest.raises(ValueError, match="'error_groups' argument of MeasureConfig"):
        MeasureConfig(error_groups=1)


def test_dtype_and_dse_method_leave_the_default_key_unchanged():
    """Rows stored before these options existed were float64 and exact DSE: their keys stay."""
    import torch

    from repscope.config import MeasureConfig

    assert "dtype" not in MeasureConfig().key() and "dse_method" not in MeasureConfig().key()
    assert (
        MeasureConfig(dtype="float64", dse_method="exact", dse=True).key()
        == MeasureConfig(dse=True).key()
    )
    assert '"dtype":"float32"' in MeasureConfig(dtype=torch.float32).key()
    # the DSE method is a DSE option: it counts only when DSE is computed
    assert MeasureConfig(dse_method="lanczos").key() == MeasureConfig().key()
    assert '"dse_method":"lanczos"' in MeasureConfig(dse=True, dse_method="lanczos").key()
    back = MeasureConfig.from_key(
        MeasureConfig(dse=True, dse_method="lanczos", dtype="float32").key()
    )
    assert (back.dtype, back.dse_method) == ("float32", "lanczos")
    with pytest.raises(ValueError, match="'dtype' argument of MeasureConfig must be one of"):
        MeasureConfig(dtype="float16")
    with pytest.raises(ValueError, match="'dse_method' argument of MeasureConfig must be one"):
        MeasureConfig(dse_method="svd")
