"""How every command shows its parameters in ``--help``: flags as flags, values as values (Click's way).

The Typer this project pins labels every parameter with its Python type, flags included (``--half <bool>``,
``--classes <list[str]>``, usage ``{source}``), which reads as if ``--half true`` were the way to use it.
:class:`Command` and :class:`Group` (passed as ``cls=`` where commands are registered) label only what takes a
value, the way Click does: ``--output PATH``, ``--batch INTEGER``, ``--backend TEXT``, ``--size H W``, and
usage ``SOURCE...``; a flag is its name alone. A ``metavar=`` given in a declaration wins.
"""

from __future__ import annotations

from typing import Any, get_args

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_NAMES = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN"}


def value_label(param: Any) -> str | None:
    """What ``--help`` shows after a parameter: None for a flag, else an explicit metavar or the value's kind
    (``TEXT``, ``INTEGER``, ``FLOAT``, ``PATH``, ``[a|b]`` for a choice, one label per value of a tuple)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if param.metavar:
        return param.metavar
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    if desc.is_tuple:
        return " ".join(_NAMES.get(arg, "TEXT") for arg in get_args(desc.annotation))
    if desc.is_path:
        return desc.path_type.upper()
    annotation = get_args(desc.annotation)[0] if desc.is_list else desc.annotation
    return _NAMES.get(annotation, "TEXT")


class _Option(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return value_label(self)


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return value_label(self)

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return [f"{name}..." if self.nargs != 1 else name]


def _labelled(params: list) -> list:
    """The same parameter objects, shown through :func:`value_label` (their classes only add display methods)."""
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _Option
        elif type(param) is TyperArgument:
            param.__class__ = _Argument
    return params


class Command(TyperCommand):
    """A Typer command whose help labels values, not flags."""

    def get_params(self, ctx: Any) -> list:
        return _labelled(super().get_params(ctx))


class Group(TyperGroup):
    """A Typer group whose help labels values, not flags (its commands are :class:`Command`)."""

    def get_params(self, ctx: Any) -> list:
        return _labelled(super().get_params(ctx))
