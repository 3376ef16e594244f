"""The command line: `python -m repscope tour` prints every row in agreement, and exits 0."""

import runpy
import sys

import pytest

from repscope.cli import main
from repscope.tour import format_table, run_tour


def test_tour_rows_agree_with_their_analytic_values():
    rows = run_tour()
    assert len(rows) >= 12
    off = [r for r in rows if not r.ok]
    assert not off, format_table(off)


def test_module_entry_point_runs_the_tour(monkeypatch, capsys):
    """``python -m repscope tour``: ``repscope/__main__.py`` run as a fresh process runs it."""
    monkeypatch.setattr(sys, "argv", ["repscope", "tour"])
    monkeypatch.delitem(sys.modules, "repscope.__main__", raising=False)
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("repscope", run_name="__main__", alter_sys=True)
    out = capsys.readouterr()
    assert exited.value.code == 0, out.err
    assert "rows agree with the expected value" in out.out
    assert "RankMe (covariance)" in out.out and "DSE" in out.out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "tour" in capsys.readouterr().out


def subcommands():
    """``{name: parser}`` of every registered subcommand."""
    import argparse

    from repscope.cli import build_parser

    (action,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def required_arguments(parser):
    """The least a subcommand's parser accepts: each required argument given a value."""
    argv = []
    for action in parser._actions:
        if not action.required and action.option_strings:
            continue
        if action.nargs == "?" or action.dest == "help":
            continue
        value = str(next(iter(action.choices))) if action.choices else "x"
        argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


def test_every_subcommand_registers_the_function_that_runs_it():
    commands = subcommands()
    assert {"tour", "scan", "ls", "export", "check", "demo"} <= set(commands)
    for name, parser in commands.items():
        func = parser.get_default("func")
        assert callable(func), f"repscope {name} registers no func"
        assert func.__name__.startswith("run_"), (name, func)


@pytest.mark.parametrize("name", ["tour", "scan", "ls", "export", "check", "demo"])
def test_every_subcommand_fails_in_one_line_behind_the_same_wrapper(name, monkeypatch, capsys):
    """Whatever a subcommand raises becomes one line on stderr naming the command, and exit
    status 1; an interrupt says what was stored is kept."""
    parser = subcommands()[name]
    func = parser.get_default("func")
    module = sys.modules[func.__module__]

    def boom(args):
        raise RuntimeError("first line\n  second line")

    monkeypatch.setattr(module, func.__name__, boom)
    assert main([name, *required_arguments(parser)]) == 1
    err = capsys.readouterr().err
    assert err == f"repscope {name}: error: first line second line\n"

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, func.__name__, interrupted)
    assert main([name, *required_arguments(parser)]) == 1
    assert capsys.readouterr().err == f"repscope {name}: interrupted; what was stored is kept.\n"
