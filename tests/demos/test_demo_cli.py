"""`repscope demo`'s arguments. The command itself (it trains, reports what the demo shows and
writes the scrubber to HTML) is checked where its demo is trained once for all the demo's tests:
grokking in tests/demos/test_small_demos.py, the full three-phases recipe in
tests/demos/test_full_recipe.py."""


def test_unknown_demo_is_a_usage_error(cli):
    done = cli("demo", "nope")
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr


def test_a_page_over_a_store_is_refused_before_any_training(cli, tmp_path):
    store = tmp_path / "run.sqlite"
    store.write_bytes(b"SQLite format 3\x00" + bytes(100))
    done = cli("demo", "grokking", "--size", "small", "--html", store, "--folder", tmp_path / "r")
    assert done.returncode == 1 and "--html" in done.stderr, done.stderr
    assert not (tmp_path / "r").exists()  # refused before minutes of training
