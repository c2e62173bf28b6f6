"""vipkeeper._compat behaves as the standard library it stands in for, on every Python (3.9+).

On a Python that has the real thing the names are the standard library's, and these tests check
that the runtime's expectations hold there too; on an older one they check the fallback.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import enum
import pickle
import signal
import sys
from collections.abc import Iterator
from dataclasses import field

import pytest

from vipkeeper import _compat
from vipkeeper._aiocompat import run_with_loop, timeout, wait_for
from vipkeeper._compat import SLOTS, StrEnum, dataclass, zip_strict

# -- dataclass ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, **SLOTS)
class Frozen:
    first: int = 1
    second: str  # no default after one with a default: kw_only allows it
    items: list[int] = field(default_factory=list)
    hidden: int = field(default=7, init=False)


@dataclass(kw_only=True, **SLOTS)
class Checked:
    value: int
    doubled: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")
        self.doubled = 2 * self.value


@dataclass(**SLOTS)
class Mutable:
    a: int
    b: str = "b"


@dataclass(frozen=True, order=True, **SLOTS)
class Ordered:
    key: int


@dataclass(frozen=True, **SLOTS)
class Base:
    x: int


@dataclass(frozen=True, **SLOTS)
class Derived(Base):
    y: int = 0


def test_kw_only_takes_keywords_only() -> None:
    f = Frozen(second="s")
    assert (f.first, f.second, f.items, f.hidden) == (1, "s", [], 7)
    with pytest.raises(TypeError):
        Frozen(1, "s")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Frozen()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Frozen(second="s", hidden=3)  # type: ignore[call-arg]


def test_kw_only_default_factory_is_called_per_instance() -> None:
    a, b = Frozen(second="a"), Frozen(second="b")
    assert a.items == [] and a.items is not b.items
    given = [1]
    assert Frozen(second="c", items=given).items is given


def test_kw_only_runs_post_init() -> None:
    assert Checked(value=2).doubled == 4
    with pytest.raises(ValueError, match="negative"):
        Checked(value=-1)


def test_frozen_refuses_assignment() -> None:
    f = Frozen(second="s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.first = 2  # type: ignore[misc]


def test_eq_hash_repr_order_as_dataclasses_makes_them() -> None:
    assert Frozen(second="s") == Frozen(second="s")
    assert Frozen(second="s") != Frozen(second="t")
    assert hash(Ordered(1)) == hash(Ordered(1))
    assert Ordered(1) < Ordered(2)
    assert repr(Frozen(second="s")) == "Frozen(first=1, second='s', items=[], hidden=7)"
    assert repr(Mutable(1)) == "Mutable(a=1, b='b')"
    assert Frozen.__init__.__qualname__ == "Frozen.__init__"
    assert Frozen.__qualname__ == "Frozen"


def test_slots_no_dict_and_no_stray_attributes() -> None:
    for obj in (Frozen(second="s"), Mutable(1), Ordered(1), Derived(1, 2)):
        assert not hasattr(obj, "__dict__")
    assert Frozen.__slots__ == ("first", "second", "items", "hidden")
    assert Derived.__slots__ == ("y",)  # the base's slot is not repeated
    m = Mutable(1)
    m.a = 2
    with pytest.raises(AttributeError):
        m.c = 3  # type: ignore[attr-defined]


def test_slots_class_attributes_are_the_slots_not_the_defaults() -> None:
    assert isinstance(Mutable.__dict__["b"], type(Mutable.__dict__["a"]))  # both member descriptors
    assert Mutable(1).b == "b"


def test_dataclasses_api_works_on_them() -> None:
    f = Frozen(second="s", items=[1])
    assert dataclasses.is_dataclass(f)
    assert [x.name for x in dataclasses.fields(f)] == ["first", "second", "items", "hidden"]
    g = dataclasses.replace(f, second="t")
    assert (g.first, g.second, g.items) == (1, "t", [1])
    assert dataclasses.asdict(Derived(1, 2)) == {"x": 1, "y": 2}


def test_frozen_slotted_copies_and_pickles() -> None:
    f = Frozen(second="s", items=[1])
    for other in (copy.copy(f), copy.deepcopy(f), pickle.loads(pickle.dumps(f))):
        assert other == f
    d = Derived(1, 2)
    assert copy.deepcopy(d) == d


def test_slots_is_the_keyword() -> None:
    assert SLOTS == {"slots": True}


def test_stdlib_dataclass_where_it_has_kw_only_and_slots() -> None:
    if sys.version_info >= (3, 10):
        assert _compat.dataclass is dataclasses.dataclass
    else:
        assert _compat.dataclass is not dataclasses.dataclass


# -- StrEnum --------------------------------------------------------------------------------------


class Color(StrEnum):
    RED = "red"
    BLUE = "Blue"


def test_strenum_members_are_their_values() -> None:
    assert isinstance(Color.RED, str)
    assert Color.RED == "red"
    assert str(Color.BLUE) == "Blue"
    assert f"{Color.RED}|{Color.BLUE:>6}" == "red|  Blue"
    assert "%s" % Color.RED == "red"  # noqa: UP031 - the old formatting too
    assert Color("red") is Color.RED
    assert Color["BLUE"] is Color.BLUE
    assert Color.RED.value == "red"
    assert repr(Color.RED) == "<Color.RED: 'red'>"
    assert {Color.RED: 1}["red"] == 1
    assert sorted(Color) == [Color.BLUE, Color.RED]
    assert list(Color) == [Color.RED, Color.BLUE]
    assert isinstance(Color.RED, enum.Enum)


def test_strenum_refuses_other_values() -> None:
    with pytest.raises(TypeError):

        class Bad(StrEnum):
            ONE = 1


def test_strenum_is_the_stdlibs_from_311() -> None:
    if sys.version_info >= (3, 11):
        assert StrEnum is enum.StrEnum


# -- zip_strict -----------------------------------------------------------------------------------


def test_zip_strict_pairs_equal_lengths() -> None:
    assert list(zip_strict([1, 2], "ab")) == [(1, "a"), (2, "b")]
    assert list(zip_strict([], ())) == []


@pytest.mark.parametrize(("a", "b"), [([1, 2], "a"), ([1], "ab"), ([], "a"), ([1], "")])
def test_zip_strict_refuses_unequal_lengths(a: list[int], b: str) -> None:
    with pytest.raises(ValueError, match="zip"):
        list(zip_strict(a, b))


def test_zip_strict_is_lazy() -> None:
    it = zip_strict(iter([1, 2, 3]), iter("ab"))
    assert next(it) == (1, "a")
    assert next(it) == (2, "b")
    with pytest.raises(ValueError, match="zip"):
        next(it)


# -- timeout, wait_for ----------------------------------------------------------------------------


def test_timeout_expires_with_builtin_timeouterror() -> None:
    seen: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def block() -> None:
            async with timeout(0.05):
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    seen.append("cancelled")
                    raise

        with pytest.raises(TimeoutError):
            await block()
        assert 0.04 <= loop.time() - start < 2.0
        await asyncio.sleep(0)  # the task is not left cancelled
        seen.append("after")

    asyncio.run(main())
    assert seen == ["cancelled", "after"]


def test_timeout_not_reached_returns_normally() -> None:
    async def main() -> int:
        async with timeout(5):
            await asyncio.sleep(0.01)
        async with timeout(None):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # a timer left behind would cancel this
        return 3

    assert asyncio.run(main()) == 3


def test_timeout_zero_expires_at_the_first_await() -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with timeout(0):
                await asyncio.sleep(1)

    asyncio.run(main())


def test_timeout_lets_other_exceptions_through() -> None:
    async def main() -> None:
        with pytest.raises(KeyError):
            async with timeout(5):
                raise KeyError("x")

    asyncio.run(main())


def test_timeout_passes_a_foreign_cancellation_through() -> None:
    async def inner() -> None:
        async with timeout(5):
            await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.ensure_future(inner())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_wait_for_raises_builtin_timeouterror() -> None:
    async def main() -> None:
        assert await wait_for(asyncio.sleep(0, result=5), 1.0) == 5
        assert await wait_for(asyncio.sleep(0, result=6), None) == 6
        with pytest.raises(TimeoutError):  # the builtin: what the runtime's callers catch
            await wait_for(asyncio.sleep(10), 0.02)

    asyncio.run(main())


# -- run_with_loop --------------------------------------------------------------------------------


def test_run_with_loop_returns_and_closes_the_loop() -> None:
    loop = asyncio.new_event_loop()
    leftover: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            leftover.append("cancelled")
            raise

    async def main() -> int:
        assert asyncio.get_running_loop() is loop
        asyncio.ensure_future(forever())  # noqa: RUF006 - run_with_loop cancels it at the end
        await asyncio.sleep(0)
        return 42

    assert run_with_loop(loop, main()) == 42
    assert loop.is_closed()
    assert leftover == ["cancelled"]


def test_run_with_loop_propagates_exceptions() -> None:
    loop = asyncio.new_event_loop()

    async def main() -> None:
        raise OSError(5, "boom")

    with pytest.raises(OSError, match="boom"):
        run_with_loop(loop, main())
    assert loop.is_closed()


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler for the test (a background job, like `make test &` or a
    CI runner, may start with SIGINT ignored; run_with_loop, as asyncio.Runner, only takes
    SIGINT over from the default handler)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def test_run_with_loop_sigint_cancels_main_then_keyboardinterrupt(default_sigint: None) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    loop = asyncio.new_event_loop()
    seen: list[str] = []

    async def main() -> None:
        signal.raise_signal(signal.SIGINT)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    with pytest.raises(KeyboardInterrupt):
        run_with_loop(loop, main())
    assert seen == ["cancelled"]
    assert loop.is_closed()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
