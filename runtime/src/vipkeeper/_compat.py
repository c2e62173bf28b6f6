"""What the runtime needs from Python newer than 3.9, with a fallback for older interpreters.

The runtime supports Python 3.9 to 3.13. Every name here is the standard library's own where the
running interpreter has it; the fallback below it behaves the same for the way the runtime uses
it. Nothing else in the package tests `sys.version_info` (but `_aiocompat`, its asyncio half).

- `dataclass`: `slots=` and `kw_only=` (3.10).
- `StrEnum` (3.11).
- `zip_strict`: `zip(..., strict=True)` (3.10).

The asyncio ones (`timeout`, `wait_for`, `run_with_loop`) are in `vipkeeper._aiocompat`: this
module is on the path of `vipkeeper check`, which must not pay for importing asyncio.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")

__all__ = ["SLOTS", "StrEnum", "dataclass", "zip_strict"]


# -- dataclass(slots=, kw_only=) ------------------------------------------------------------------

# `@dataclass(frozen=True, **SLOTS)` is `@dataclass(frozen=True, slots=True)` on every Python. The
# keyword is passed through a dict because mypy refuses a literal `slots=True` when it checks for
# Python 3.9, even for a dataclass_transform that accepts it.
SLOTS: Final[dict[str, bool]] = {"slots": True}

if sys.version_info >= (3, 10):
    from dataclasses import dataclass
else:
    if TYPE_CHECKING:
        from typing_extensions import dataclass_transform
    else:

        def dataclass_transform(**_kwargs: Any) -> Callable[[_T], _T]:
            return lambda f: f

    def _slots_of(cls: type) -> Iterator[str]:
        slots = cls.__dict__.get("__slots__")
        if slots is None:
            return
        if isinstance(slots, str):
            yield slots
        elif not hasattr(slots, "__next__"):
            yield from slots
        else:
            raise TypeError(f"Slots of '{cls.__name__}' cannot be determined")

    def _dataclass_getstate(self: Any) -> list[Any]:
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    def _dataclass_setstate(self: Any, state: list[Any]) -> None:
        for fld, value in zip(dataclasses.fields(self), state):
            object.__setattr__(self, fld.name, value)  # the dataclass may be frozen

    def _add_slots(cls: type[_T], is_frozen: bool) -> type[_T]:
        """A copy of `cls` with __slots__, as Python 3.11's dataclasses._add_slots makes it."""
        if "__slots__" in cls.__dict__:
            raise TypeError(f"{cls.__name__} already specifies __slots__")
        cls_dict = dict(cls.__dict__)
        field_names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        inherited = set(itertools.chain.from_iterable(map(_slots_of, cls.__mro__[1:-1])))
        cls_dict["__slots__"] = tuple(n for n in field_names if n not in inherited)
        for name in field_names:
            cls_dict.pop(name, None)  # the defaults live in the Field objects and __init__
        cls_dict.pop("__dict__", None)
        cls_dict.pop("__weakref__", None)
        qualname = getattr(cls, "__qualname__", None)
        meta: type[Any] = type(cls)
        new: type[_T] = meta(cls.__name__, cls.__bases__, cls_dict)
        if qualname is not None:
            new.__qualname__ = qualname
        if is_frozen:  # pickling and copying a frozen class with slots
            if "__getstate__" not in cls_dict:
                new.__getstate__ = _dataclass_getstate  # type: ignore[attr-defined]
            if "__setstate__" not in cls_dict:
                new.__setstate__ = _dataclass_setstate  # type: ignore[attr-defined]
        return new

    def _kw_only_init(cls: type, frozen: bool) -> None:
        """Give `cls` the keyword-only __init__ that Python 3.10's dataclass(kw_only=True) makes."""
        flds = [f for f in dataclasses.fields(cls) if f.init]
        namespace: dict[str, Any] = {
            "_MISSING": dataclasses.MISSING,
            "_setattr": object.__setattr__,
        }
        params: list[str] = []
        body: list[str] = []
        for f in flds:
            if f.default is not dataclasses.MISSING:
                namespace[f"_dflt_{f.name}"] = f.default
                params.append(f"{f.name}=_dflt_{f.name}")
                value = f.name
            elif f.default_factory is not dataclasses.MISSING:
                namespace[f"_fact_{f.name}"] = f.default_factory
                params.append(f"{f.name}=_MISSING")
                value = f"_fact_{f.name}() if {f.name} is _MISSING else {f.name}"
            else:
                params.append(f.name)
                value = f.name
            if frozen:
                body.append(f"    _setattr(self, {f.name!r}, {value})")
            else:
                body.append(f"    self.{f.name} = {value}")
        for f in dataclasses.fields(cls):  # init=False fields with a default still get it
            if f.init:
                continue
            if f.default is not dataclasses.MISSING:
                namespace[f"_dflt_{f.name}"] = f.default
                value = f"_dflt_{f.name}"
            elif f.default_factory is not dataclasses.MISSING:
                namespace[f"_fact_{f.name}"] = f.default_factory
                value = f"_fact_{f.name}()"
            else:
                continue
            if frozen:
                body.append(f"    _setattr(self, {f.name!r}, {value})")
            else:
                body.append(f"    self.{f.name} = {value}")
        if hasattr(cls, "__post_init__"):
            body.append("    self.__post_init__()")
        signature = ", ".join(["self", *(["*", *params] if params else [])])
        source = f"def __init__({signature}):\n" + ("\n".join(body) or "    pass") + "\n"
        exec(source, namespace)  # noqa: S102 - generated from the field names, as dataclasses does
        init = namespace["__init__"]
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init  # type: ignore[misc]

    @overload
    @dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
    def dataclass(cls: type[_T], /) -> type[_T]: ...

    @overload
    @dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
    def dataclass(
        cls: None = None,
        /,
        *,
        init: bool = True,
        repr: bool = True,
        eq: bool = True,
        order: bool = False,
        unsafe_hash: bool = False,
        frozen: bool = False,
        kw_only: bool = False,
        slots: bool = False,
    ) -> Callable[[type[_T]], type[_T]]: ...

    @dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
    def dataclass(
        cls: type[_T] | None = None,
        /,
        *,
        init: bool = True,
        repr: bool = True,
        eq: bool = True,
        order: bool = False,
        unsafe_hash: bool = False,
        frozen: bool = False,
        kw_only: bool = False,
        slots: bool = False,
    ) -> type[_T] | Callable[[type[_T]], type[_T]]:
        """dataclasses.dataclass with Python 3.10's `kw_only` and `slots` (not per field)."""

        def wrap(cls: type[_T]) -> type[_T]:
            made = dataclasses.dataclass(
                cls,
                init=init and not kw_only,
                repr=repr,
                eq=eq,
                order=order,
                unsafe_hash=unsafe_hash,
                frozen=frozen,
            )
            if init and kw_only:
                _kw_only_init(made, frozen)
            return _add_slots(made, frozen) if slots else made

        return wrap if cls is None else wrap(cls)


# -- StrEnum --------------------------------------------------------------------------------------

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, enum.Enum):
        """enum.StrEnum: members are strings, and str() and format() give their value."""

        _value_: str

        if TYPE_CHECKING:

            @property
            def value(self) -> str: ...

        def __new__(cls, value: str) -> StrEnum:
            if not isinstance(value, str):
                raise TypeError(f"{value!r} is not a string")
            member = str.__new__(cls, value)
            member._value_ = value
            return member

        def __str__(self) -> str:
            return str.__str__(self)

        def __format__(self, format_spec: str) -> str:
            return str.__format__(str(self), format_spec)


# -- zip(strict=True) -----------------------------------------------------------------------------


def zip_strict(a: Iterable[_A], b: Iterable[_B]) -> Iterator[tuple[_A, _B]]:
    """zip(a, b, strict=True): ValueError when one runs out before the other."""
    if sys.version_info >= (3, 10):
        return zip(a, b, strict=True)
    return _zip_strict(a, b)


def _zip_strict(a: Iterable[_A], b: Iterable[_B]) -> Iterator[tuple[_A, _B]]:
    ia, ib = iter(a), iter(b)
    end = object()
    while True:
        x = next(ia, end)
        y = next(ib, end)
        if x is end and y is end:
            return
        if x is end:
            raise ValueError("zip() argument 2 is longer than argument 1")
        if y is end:
            raise ValueError("zip() argument 2 is shorter than argument 1")
        yield x, y  # type: ignore[misc]
