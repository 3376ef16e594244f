"""The command line: `python -m repscope tour` prints every row in agreement, and exits 0."""

import subprocess
import sys

from repscope.cli import main
from repscope.tour import format_table, run_tour


def test_tour_rows_agree_with_their_analytic_values():
    rows = run_tour()
    assert len(rows) >= 12
    off = [r for r in rows if not r.ok]
    assert not off, format_table(off)


def test_module_entry_point_runs_the_tour():
    done = subprocess.run(
        [sys.executable, "-m", "repscope", "tour"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "rows agree with the expected value" in done.stdout
    assert "RankMe (covariance)" in done.stdout and "DSE" in done.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "tour" in capsys.readouterr().out
