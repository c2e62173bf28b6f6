"""What the runtime needs from Python newer than 3.9, with a fallback for older interpreters.

The runtime supports Python 3.9 to 3.13. Every name here is the standard library's own where the
running interpreter has it; the fallback below it behaves the same for the way the runtime uses
it. Nothing else in the package tests `sys.version_info`.

- `dataclass`: `slots=` and `kw_only=` (3.10).
- `StrEnum` (3.11).
- `zip_strict`: `zip(..., strict=True)` (3.10).
- `timeout`: `asyncio.timeout` (3.11), raising the builtin TimeoutError.
- `wait_for`: `asyncio.wait_for`, raising the builtin TimeoutError (before 3.11 asyncio raised its
  own `asyncio.TimeoutError`, which `except TimeoutError` does not catch).
- `run_with_loop`: `asyncio.Runner(loop_factory=...)` (3.11).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, overload

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")

__all__ = ["SLOTS", "StrEnum", "dataclass", "run_with_loop", "timeout", "wait_for", "zip_strict"]


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


# -- asyncio.timeout, asyncio.wait_for ------------------------------------------------------------

if sys.version_info >= (3, 11):
    from asyncio import timeout
else:

    class timeout:  # asyncio's name
        """asyncio.timeout(delay): cancel the block after `delay` s and raise TimeoutError.

        `None` never expires. A cancellation that did not come from this timeout passes through.
        """

        def __init__(self, delay: float | None) -> None:
            self._delay = delay
            self._task: asyncio.Task[Any] | None = None
            self._handle: asyncio.Handle | None = None
            self._expired = False

        async def __aenter__(self) -> timeout:
            task = asyncio.current_task()
            if task is None:
                raise RuntimeError("Timeout should be used inside a task")
            self._task = task
            if self._delay is not None:
                loop = asyncio.get_running_loop()
                self._handle = loop.call_at(loop.time() + self._delay, self._on_timeout)
            return self

        def _on_timeout(self) -> None:
            assert self._task is not None
            self._task.cancel()
            self._expired = True
            self._handle = None

        async def __aexit__(
            self,
            exc_type: type[BaseException] | None,
            exc: BaseException | None,
            tb: TracebackType | None,
        ) -> None:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            if self._expired and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc

        def expired(self) -> bool:
            """True once the deadline cancelled the block."""
            return self._expired


if sys.version_info >= (3, 11):
    from asyncio import wait_for
else:

    async def wait_for(aw: Awaitable[_T], timeout: float | None) -> _T:
        """asyncio.wait_for, raising the builtin TimeoutError on timeout."""
        try:
            return await asyncio.wait_for(aw, timeout)
        except asyncio.TimeoutError as exc:
            raise TimeoutError from exc


# -- asyncio.Runner(loop_factory=...) -------------------------------------------------------------


def run_with_loop(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` to completion on `loop`, then close the loop, as asyncio.Runner does.

    A first SIGINT (while nobody else handles it) cancels `main` and raises KeyboardInterrupt;
    the tasks left are cancelled and the loop is closed in every case.
    """
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=lambda: loop) as runner:
            return runner.run(main)
    try:
        return _run_on(loop, main)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _run_on(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, _T]) -> _T:
    task = loop.create_task(main)
    interrupts = 0

    def on_sigint(_signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1 and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake a loop blocked in select()
            return
        raise KeyboardInterrupt

    handler: Callable[[int, Any], None] | None = None
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        handler = on_sigint
        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:
            handler = None
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupts > 0:
            raise KeyboardInterrupt from None
        raise
    finally:
        if handler is not None and signal.getsignal(signal.SIGINT) is handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
