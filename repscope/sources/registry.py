"""Which source a text or a stored description names: one table, scheme → class.

``repscope scan SOURCE`` reads :data:`SOURCES` to turn its ``SOURCE`` (``hf:org/name``, a folder)
into a :class:`~repscope.sources.base.Source`, and :func:`repscope.open` and ``repscope ls`` read
it to turn a run's recorded source (its ``"kind"``) back into words. A new kind of source is a
:class:`~repscope.sources.base.Source` subclass and one :func:`register_source` call; nothing
else changes.

Examples
--------
>>> import tempfile, torch
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> torch.save(torch.nn.Linear(3, 2).state_dict(), folder / "step_4.pt")
>>> source_class("hf:EleutherAI/pythia-70m")
(<class 'repscope.sources.hub.HubRevisions'>, 'EleutherAI/pythia-70m')
>>> source = source_for(str(folder), model="torch.nn:Identity", run="mine")
>>> type(source).__name__, len(source), source.run
('CheckpointFolder', 1, 'mine')
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._validation import describe, fail
from .base import STARTS, Checkpoint, Source
from .folder import CheckpointFolder
from .hub import HubRevisions

#: Every source the command line and the catalogue know, by scheme. ``"hub"`` is the kind the
#: stores have recorded for hub revisions from the start (also accepted as ``hub:org/name``).
SOURCES: dict[str, type[Source]] = {
    "folder": CheckpointFolder,
    "hf": HubRevisions,
    "hub": HubRevisions,
}
#: The scheme of a text that names none: a folder's path.
DEFAULT_SCHEME = "folder"
#: A scheme: lower case, two characters at least (so that ``C:\\ckpts`` stays a path).
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]+")


def register_source(scheme: str, cls: type[Source], *, replace: bool = False) -> type[Source]:
    """Make ``scheme:TARGET`` name ``cls`` on the command line, and stored descriptions whose
    ``"kind"`` is ``scheme`` read back through ``cls.summary``.

    Parameters
    ----------
    scheme : str
        Lower case letters, digits, ``+``, ``.``, ``-``; two characters at least.
    cls : type
        A :class:`~repscope.sources.base.Source` subclass.
    replace : bool, default False
        Let ``scheme`` name another class than the one it names now.

    Returns
    -------
    type
        ``cls``.

    Examples
    --------
    >>> register_source("hf", HubRevisions)  # already so: nothing changes
    <class 'repscope.sources.hub.HubRevisions'>
    >>> register_source("hf", CheckpointFolder)
    Traceback (most recent call last):
    ...
    ValueError: The 'scheme' argument of register_source must be a scheme not yet taken ...
    """
    func = "register_source"
    if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme):
        fail(
            "scheme",
            func,
            "lower case letters, digits, '+', '.' or '-', two at least, beginning with a letter",
            describe(scheme),
        )
    if not isinstance(cls, type) or not issubclass(cls, Source):
        got = f"the class {cls.__module__}.{cls.__qualname__}" if isinstance(cls, type) else None
        fail(
            "cls",
            func,
            "a subclass of repscope.sources.Source",
            got or describe(cls),
            error=TypeError,
        )
    taken = SOURCES.get(scheme)
    if taken is not None and taken is not cls and not replace:
        fail(
            "scheme",
            func,
            f"a scheme not yet taken (pass replace=True to take it from {taken.__name__})",
            repr(scheme),
        )
    SOURCES[scheme] = cls
    return cls


def source_class(text: str | os.PathLike) -> tuple[type[Source], str]:
    """The class ``text`` names and the target it is given: ``scheme:TARGET`` for a scheme of
    :data:`SOURCES`, anything else a path (:data:`DEFAULT_SCHEME`).

    Examples
    --------
    >>> source_class("hf:org/name"), source_class("runs/a")
    ((<class '...HubRevisions'>, 'org/name'), (<class '...CheckpointFolder'>, 'runs/a'))
    """
    if isinstance(text, os.PathLike):
        return SOURCES[DEFAULT_SCHEME], os.fspath(text)
    if not isinstance(text, str):
        fail(
            "text",
            "source_class",
            "a path or 'scheme:target' text",
            describe(text),
            error=TypeError,
        )
    scheme, colon, target = text.partition(":")
    if colon and scheme in SOURCES:
        return SOURCES[scheme], target
    return SOURCES[DEFAULT_SCHEME], text


def source_for(text: str | os.PathLike, **options: Any) -> Source:
    """The source ``text`` names (:func:`source_class`), built by its class's ``from_text``.

    Parameters
    ----------
    text : str or path
        ``hf:org/name``, ``folder:PATH``, a path, or ``scheme:TARGET`` for a registered scheme.
    **options
        Text options, as a command line gives them (``model="pkg:make"``,
        ``steps="0,512"``, ``revision``, ``run``). Each source is given those its class reads
        (its ``text_options``), and an option left ``None`` is not given; an option that no
        registered source reads is an error.

    Examples
    --------
    >>> source = source_for("hf:org/name", steps="0,4", model=None)
    >>> [c.name for c in source]
    ['org/name@step0', 'org/name@step4']
    >>> source_for("hf:org/name", step="0,4")
    Traceback (most recent call last):
    ...
    TypeError: The 'step' argument of source_for must be one of the options ...; got '0,4'.
    """
    cls, target = source_class(text)
    known = {name for registered in SOURCES.values() for name in registered.text_options}
    for name, value in options.items():
        if name not in known:
            fail(
                name,
                "source_for",
                f"one of the options a registered source reads ({', '.join(sorted(known))})",
                describe(value),
                error=TypeError,
            )
    given = {k: v for k, v in options.items() if v is not None and k in cls.text_options}
    return cls.from_text(target, **given)


def described_class(description: Mapping[str, Any]) -> type[Source] | None:
    """The class whose stored description this is (by its ``"kind"``), or ``None`` (a live
    run, a synthetic one, a kind registered in another session).

    Examples
    --------
    >>> described_class({"kind": "hub"}), described_class({"kind": "live"})
    (<class 'repscope.sources.hub.HubRevisions'>, None)
    """
    kind = description.get("kind")
    return SOURCES.get(kind) if isinstance(kind, str) else None


class IterableSource(Source):
    """Any re-iterable of checkpoints made a :class:`~repscope.sources.base.Source`: what it
    has of ``run``, ``__len__``, ``describe``, ``scalars``, ``skipped`` and ``start`` is used,
    the rest takes the base's defaults.

    Without its own ``describe``, its description has the ``"kind"`` ``"iterable"`` and the
    ``"identity"`` ``None``: nothing tells it from another source, so a caller records it
    only where no source is recorded yet.

    Examples
    --------
    >>> import torch
    >>> from repscope.sources import FileCheckpoint
    >>> class Mine:  # a duck-typed source: a run name and checkpoints
    ...     run = "mine"
    ...     def __iter__(self):
    ...         return iter([FileCheckpoint(3, "step_3.pt", lambda: torch.nn.Linear(2, 2))])
    >>> source = as_source(Mine())
    >>> len(source), source.run, source.start, source.describe()["identity"]
    (1, 'mine', 'unknown', None)
    """

    def __init__(self, checkpoints: Iterable[Checkpoint], *, run: str | None = None):
        self.wrapped = checkpoints
        self.run = run or getattr(checkpoints, "run", None) or "run"

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.wrapped)

    def __len__(self) -> int:
        if hasattr(self.wrapped, "__len__"):
            return len(self.wrapped)  # type: ignore[arg-type]
        return sum(1 for _ in self.wrapped)

    def describe(self) -> dict[str, Any]:
        own = getattr(self.wrapped, "describe", None)
        if callable(own):
            return dict(own())
        cls = type(self.wrapped)
        return {
            "kind": "iterable",
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "identity": None,
        }

    def scalars(self) -> Iterable[tuple[int, str, float]]:
        own = getattr(self.wrapped, "scalars", None)
        return own() if callable(own) else ()

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return list(getattr(self.wrapped, "skipped", None) or [])

    @property
    def start(self) -> str:
        found = getattr(self.wrapped, "start", None)
        return found if isinstance(found, str) and found in STARTS else "unknown"


def as_source(source: Source | Iterable[Checkpoint], *, func: str = "as_source") -> Source:
    """``source`` if it is a :class:`~repscope.sources.base.Source`, else an
    :class:`IterableSource` over it (a user's duck-typed iterable of checkpoints).

    Examples
    --------
    >>> as_source([]).run, len(as_source([]))
    ('run', 0)
    >>> as_source("runs/a")
    Traceback (most recent call last):
    ...
    TypeError: The 'source' argument of as_source must be a Source or an iterable of ...
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, (str, bytes, os.PathLike, Mapping)) or not isinstance(source, Iterable):
        fail(
            "source",
            func,
            "a Source or an iterable of checkpoints (for text, use "
            "repscope.sources.registry.source_for)",
            describe(source),
            error=TypeError,
        )
    return IterableSource(source)
