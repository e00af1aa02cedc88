"""Typed config blocks from plain dicts, for the paths that bypass the CLI parser.

Through ``crabplus fit`` jsonargparse checks every nested block against its dataclass. Python callers and
checkpoint hparams hand the same blocks over as dicts; :func:`as_config` checks those the same way, so a
misspelt key or a wrong type fails naming its key path (``model.init_args.adapter.hedas``) instead of
being dropped or failing later in a comparison.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from crabplus.errors import ConfigError  # re-exported: config blocks raise it

__all__ = ["ConfigError", "as_config", "check_value"]

T = TypeVar("T")


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def check_value(value: Any, hint: Any, where: str) -> None:
    """Raise :class:`ConfigError` naming ``where`` unless ``value`` fits ``hint``.

    Covers the types config blocks use: ``bool``, ``int``, ``float`` (an int is accepted), ``str``,
    ``None``, unions, ``Literal``, ``list[X]``, ``tuple[X, ...]`` / ``tuple[X, Y]``, ``dict[K, V]``,
    nested dataclasses (as dicts); anything else is accepted as is.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        _check_union(value, args, where)
    elif origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
    elif hint in SCALARS:
        if isinstance(value, bool) is not (hint is bool) or not isinstance(value, SCALARS[hint]):
            raise ConfigError(f"{where}: expected {_type_name(hint)}, got {value!r}")
    elif dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            as_config(hint, value, where)
    elif origin in (list, tuple, dict):
        _check_container(value, origin, args, where)


SCALARS: dict[Any, tuple[type, ...]] = {
    bool: (bool,),
    int: (int,),
    float: (int, float),
    str: (str,),
    type(None): (type(None),),
}


def _check_union(value: Any, options: tuple, where: str) -> None:
    """Fits one option; else the error of the one option of the value's own kind (a mapping for a
    dataclass, a list for a list), which names the inner key, or a summary of all options."""
    errors: dict[Any, ConfigError] = {}
    for option in options:
        try:
            check_value(value, option, where)
            return
        except ConfigError as err:
            errors[option] = err
    same_kind = [o for o in options if _kind(o) is not None and isinstance(value, _kind(o))]
    if len(same_kind) == 1:
        raise errors[same_kind[0]]
    raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in options)}, got {value!r}")


def _kind(hint: Any) -> type | tuple[type, ...] | None:
    """What a value of a container type looks like before it is checked (None: a scalar type)."""
    if dataclasses.is_dataclass(hint) or typing.get_origin(hint) is dict:
        return Mapping
    if typing.get_origin(hint) in (list, tuple):
        return (list, tuple)
    return None


def _check_container(value: Any, origin: type, args: tuple, where: str) -> None:
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_hint, value_hint = args or (Any, Any)
        for key, item in value.items():
            check_value(key, key_hint, f"{where}.{key}")
            check_value(item, value_hint, f"{where}.{key}")
        return
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        hints = list(args)
    else:
        hints = [args[0] if args else Any] * len(value)
    for i, (item, item_hint) in enumerate(zip(value, hints)):
        check_value(item, item_hint, f"{where}[{i}]")


def as_config(cls: type[T], value: T | Mapping[str, Any] | None, where: str) -> T | None:
    """``value`` as a ``cls`` dataclass: None and instances pass through, a mapping is checked key by key.

    Raises:
        ConfigError: an unknown key (with the closest valid one), or a value of the wrong type, named
            ``<where>.<key>``.
    """
    if value is None or isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a {cls.__name__} block (a mapping), got {value!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in value:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}.{key}: unknown key{hint}; {cls.__name__} has {names}")
    values = dict(value)
    for key, item in value.items():
        check_value(item, hints[key], f"{where}.{key}")
        nested = _dataclass_in(hints[key])
        if nested is not None and isinstance(item, Mapping):
            values[key] = as_config(nested, item, f"{where}.{key}")
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in value
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: missing (required by {cls.__name__})")
    return cls(**values)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), if any."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    found = [o for o in options if dataclasses.is_dataclass(o)]
    return found[0] if len(found) == 1 else None
