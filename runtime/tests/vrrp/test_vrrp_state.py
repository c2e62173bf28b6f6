"""The transition table itself: every listed move, and everything else refused."""

from __future__ import annotations

import pytest

from vipkeeper.vrrp.errors import LocalProtocolError
from vipkeeper.vrrp.state import TRANSITIONS, State, Trigger, next_state


@pytest.mark.parametrize(("key", "target"), list(TRANSITIONS.items()))
def test_listed_transitions(key: tuple[State, Trigger], target: State) -> None:
    assert next_state(*key) is target


ILLEGAL = [(s, t) for s in State for t in Trigger if (s, t) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "trigger"), ILLEGAL)
def test_everything_else_is_our_bug(state: State, trigger: Trigger) -> None:
    with pytest.raises(LocalProtocolError, match="illegal transition"):
        next_state(state, trigger)


def test_every_state_can_be_left_and_entered() -> None:
    sources = {s for s, _ in TRANSITIONS}
    targets = set(TRANSITIONS.values())
    assert sources == set(State) - {State.INIT} | {State.INIT}
    assert targets == set(State) - {State.INIT}
    # both ways between every pair of running states
    for a, b in [
        (State.BACKUP, State.MASTER),
        (State.BACKUP, State.FAULT),
        (State.MASTER, State.FAULT),
    ]:
        assert any(s is a and t is b for (s, _), t in TRANSITIONS.items()), (a, b)
        assert any(s is b and t is a for (s, _), t in TRANSITIONS.items()), (b, a)
