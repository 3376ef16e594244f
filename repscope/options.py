"""Option tables: a frozen dataclass whose fields are declared once, with what is done with them.

A field declared with :func:`option` carries its :class:`Option` (help, check, place in the
store key, command-line flag, words in a summary); :func:`option_table` collects them into the
class's ``OPTIONS`` and writes its docstring's Parameters section from them.
:class:`repscope.config.MeasureConfig` is the table of the measure options: the checks in its
``__post_init__``, its key, the flags of ``repscope scan`` and ``config_summary`` read it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from ._validation import check_option


class _Original:
    """``since`` of an option that stores were made with from the start (not a late option)."""

    def __repr__(self) -> str:
        return "ORIGINAL"


ORIGINAL: Any = _Original()


@dataclass(frozen=True)
class Option:
    """One entry of an option table: everything repscope does with one option.

    Made by :func:`option` (which takes every field below but the first three, as keywords);
    :func:`option_table` fills in ``name``, ``default`` and ``annotation`` from the field.

    Parameters
    ----------
    name, default, annotation
        The field's name, default and type annotation.
    help : str
        What the option does (the docstring's prose; numpydoc markup).
    cli : str, optional
        Its ``repscope scan --help`` text (the default is added to it); ``None``: no flag.
    flag : str, optional
        The flag's spelling; default ``--`` and the name with ``-`` for ``_``.
    parse : callable, optional
        ``parse(text)``: the flag's text as a value, raising ``ValueError("expected …; got …")``;
        default: the text itself (a switch, for a ``bool``).
    metavar : str, optional
        The flag's placeholder in ``--help``.
    choices : tuple of str, optional
        The closed set of values: checked (unless ``check`` is given), the docstring's type, the
        flag's choices.
    check : callable, optional
        ``check(value, name=, func=)`` raising in the house grammar (:mod:`repscope._validation`)
        for a value out of range. ``None`` is allowed, unchecked, when it is the default.
    normalise : bool, default False
        Keep what ``check`` returns (``fit_range`` as a tuple of ints, ``dtype`` as its name)
        instead of the value given.
    doc_type : str, optional
        The docstring's type where the annotation does not read well.
    when : str, optional
        A property of the configuration: the option enters the key only when it is true, i.e.
        when the measure it configures is computed (the class's ``KEY_CONDITIONS`` says it in
        words: :data:`repscope.config.KEY_CONDITIONS`).
    since : optional
        A late option's value for the rows stored before it existed: it enters the key only
        when it differs from it, and a key without it reads as it
        (:meth:`~repscope.config.MeasureConfig.from_key`).
    key_value : callable, optional
        ``key_value(config)``: the value written in the key; default the field's value.
    summary : callable, optional
        ``summary(key)``: this option's words in :func:`~repscope.config.config_summary`, from
        the key's parsed JSON, or ``None`` for none.
    """

    name: str = ""
    default: Any = None
    annotation: str = ""
    help: str = ""
    cli: str | None = None
    flag: str | None = None
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    check: Callable[..., Any] | None = None
    normalise: bool = False
    doc_type: str | None = None
    when: str | None = None
    since: Any = ORIGINAL
    key_value: Callable[[Any], Any] | None = None
    summary: Callable[[dict[str, Any]], str | None] | None = None

    @property
    def late(self) -> bool:
        """Added after stores existed (``since`` is given)."""
        return self.since is not ORIGINAL

    @property
    def flag_name(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def validate(self, value: Any, *, func: str) -> Any:
        """``value`` checked (raising in the house grammar), as the configuration keeps it."""
        if value is None and self.default is None:
            return value
        if self.check is not None:
            checked = self.check(value, name=self.name, func=func)
            return checked if self.normalise else value
        return check_option(value, name=self.name, func=func, options=self.choices or ())

    def in_key(self, config: Any) -> bool:
        """Whether the option enters ``config``'s key (the key rule)."""
        if self.when is not None and not getattr(config, self.when):
            return False
        return not self.late or getattr(config, self.name) != self.since

    def key_words(self, conditions: Mapping[str, str]) -> str:
        """The key rule for this option, in words (``conditions``: ``when`` in words)."""
        condition = conditions.get(self.when or "", f"``{self.when}`` is true")
        if not self.late:
            always = "Always in the store key."
            return f"In the store key when {condition}." if self.when else always
        since = _literal(self.since)
        differs = f"it is not ``{since}``"
        return (
            "A late option: in the store key only when "
            + (f"{condition} and {differs}" if self.when else differs)
            + f" (rows stored before it existed were computed under ``{since}``)."
        )

    def doc_entry(self, conditions: Mapping[str, str]) -> list[str]:
        """Its entry in the Parameters section (numpydoc)."""
        kind = self.doc_type or (
            "{" + ", ".join(_literal(c) for c in self.choices) + "}"
            if self.choices
            else self.annotation.removesuffix(" | None")
        )
        default = ", optional" if self.default is None else f", default {_literal(self.default)}"
        words = [self.help, self.key_words(conditions)]
        if self.cli is not None:
            flag = self.flag_name + (f" {self.metavar}" if self.metavar else "")
            words.append(f"Command line: ``repscope scan {flag}``.")
        # a ``literal`` is never split across lines
        text = re.sub(r"``.*?``", lambda m: m[0].replace(" ", "\0"), " ".join(words))
        body = textwrap.wrap(
            text,
            width=96,
            initial_indent="    ",
            subsequent_indent="    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        return [f"{self.name} : {kind}{default}", *(line.replace("\0", " ") for line in body)]


def _literal(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def option(default: Any, **entry: Any) -> Any:
    """A field of an option table (:class:`~repscope.config.MeasureConfig`) with its entry.

    Parameters
    ----------
    default
        The field's default.
    **entry
        The fields of :class:`Option` (``help``, ``cli``, ``check``, ``when``, ``since``, …).

    Returns
    -------
    dataclasses.Field
        Typed ``Any`` so that ``view: str = option(...)`` reads as a field with a default.

    Examples
    --------
    >>> field = option(1.0, help="DSE's diffusion time.")
    >>> field.default, field.metadata["option"].help
    (1.0, "DSE's diffusion time.")
    """
    return dataclasses.field(default=default, metadata={"option": Option(**entry)})


C = TypeVar("C", bound=type)


def option_table(cls: C) -> C:
    """Make a frozen dataclass of options a table: its ``OPTIONS`` and the Parameters section of
    its docstring.

    Every field must be declared with :func:`option`, with a ``check`` or ``choices``. The
    class's ``KEY_CONDITIONS`` (``{property: words}``, optional) say each ``when`` in words.

    Parameters
    ----------
    cls : type
        A frozen dataclass (:class:`~repscope.config.MeasureConfig`, or a subclass that adds
        options).

    Returns
    -------
    type
        ``cls``, with ``OPTIONS`` (``{name: Option}``, in field order) and its docstring.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from repscope._validation import check_int
    >>> @option_table
    ... @dataclass(frozen=True)
    ... class Shape:
    ...     'A shape.'
    ...     corners: int = option(3, check=check_int, help="How many corners.")
    >>> Shape.OPTIONS["corners"].default
    3
    >>> print(Shape.__doc__)
    A shape.
    <BLANKLINE>
    Parameters
    ----------
    corners : int, default 3
        How many corners. Always in the store key.
    <BLANKLINE>
    """
    table: dict[str, Option] = {}
    for f in fields(cls):
        entry = f.metadata.get("option")
        if not isinstance(entry, Option):
            raise TypeError(f"{cls.__name__}.{f.name} must be declared with option(...).")
        if entry.check is None and entry.choices is None:
            raise TypeError(f"{cls.__name__}.{f.name} needs a check or choices.")
        if entry.when is not None and not hasattr(cls, entry.when):
            raise TypeError(f"{cls.__name__}.{f.name}: when={entry.when!r} names no property.")
        table[f.name] = dataclasses.replace(
            entry, name=f.name, default=f.default, annotation=str(f.type)
        )
    setattr(cls, "OPTIONS", table)  # noqa: B010  (C is any dataclass: no OPTIONS to type)
    cls.__doc__ = _with_parameters(cls.__doc__ or "", table, getattr(cls, "KEY_CONDITIONS", {}))
    return cls


def _with_parameters(doc: str, table: Mapping[str, Option], conditions: Mapping[str, str]) -> str:
    """``doc`` with a Parameters section listing ``table``, before its first other section."""
    lines = inspect.cleandoc(doc).splitlines()
    at = next(
        (
            i
            for i in range(1, len(lines))
            if lines[i] and set(lines[i]) == {"-"} and lines[i - 1].strip()
        ),
        None,
    )
    head, tail = (lines, []) if at is None else (lines[: at - 1], lines[at - 1 :])
    while head and not head[-1].strip():
        head.pop()
    section = ["Parameters", "----------"]
    for entry in table.values():
        section += entry.doc_entry(conditions)
    return "\n".join([*head, "", *section, *(["", *tail] if tail else [])]) + "\n"
