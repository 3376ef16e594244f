"""A Griffe extension: classes made by ``repscope.config.option_table`` shown as Python sees them.

Their fields are declared with ``option(default, ...)`` and their Parameters section is written at
import from that table, so the static reading would show each ``option(...)`` call as a default
and no Parameters. For each such class, the docstring is the runtime ``__doc__`` and each
field's default is the runtime default (this runs before griffe's ``dataclasses`` extension,
which reads them into ``__init__``).
"""

from __future__ import annotations

import inspect
from typing import Any

import griffe


def _classes(obj: griffe.Object):
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_class and any(
            str(d.value).endswith("option_table") for d in member.decorators
        ):
            yield member
        if member.is_module or member.is_class:
            yield from _classes(member)


class OptionTable(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for cls in _classes(pkg):
            runtime = griffe.dynamic_import(cls.path)
            cls.docstring = griffe.Docstring(
                inspect.cleandoc(runtime.__doc__), parent=cls, parser="numpy"
            )
            for name, entry in runtime.OPTIONS.items():
                member = cls.members.get(name)
                if member is not None and member.is_attribute:
                    member.value = repr(entry.default)
