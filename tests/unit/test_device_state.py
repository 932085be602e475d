from __future__ import annotations

import itertools

import pytest

from wagateway.devices.state import (
    ALLOWED,
    IllegalTransition,
    Status,
    can_transition,
    check_transition,
)

ALL_PAIRS = list(itertools.product(list(Status), repeat=2))
ALLOWED_PAIRS = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED[a]]
FORBIDDEN_PAIRS = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED[a]]


def _id(pair: tuple[Status, Status]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_exactly_five_statuses_all_in_table() -> None:
    assert {s.value for s in Status} == {
        "qr_generated",
        "connected",
        "disconnected",
        "expired",
        "destroyed",
    }
    assert set(ALLOWED) == set(Status)
    assert len(ALL_PAIRS) == 25


def test_table_matches_contract_diagram() -> None:
    # CONTRACT §2: the transitions the diagram draws, plus the documented self-loops.
    expected = {
        ("qr_generated", "qr_generated"),
        ("qr_generated", "connected"),
        ("qr_generated", "expired"),
        ("qr_generated", "disconnected"),
        ("qr_generated", "destroyed"),
        ("connected", "connected"),
        ("connected", "disconnected"),
        ("connected", "destroyed"),
        ("disconnected", "qr_generated"),
        ("disconnected", "destroyed"),
        ("expired", "qr_generated"),
        ("expired", "destroyed"),
    }
    assert {(a.value, b.value) for a, b in ALLOWED_PAIRS} == expected


@pytest.mark.parametrize("pair", ALLOWED_PAIRS, ids=_id)
def test_allowed_transition_passes(pair: tuple[Status, Status]) -> None:
    current, target = pair
    assert can_transition(current.value, target.value) is True
    result = check_transition(current.value, target.value)
    assert result is target
    assert isinstance(result, Status)


@pytest.mark.parametrize("pair", FORBIDDEN_PAIRS, ids=_id)
def test_forbidden_transition_raises(pair: tuple[Status, Status]) -> None:
    current, target = pair
    assert can_transition(current.value, target.value) is False
    with pytest.raises(IllegalTransition) as excinfo:
        check_transition(current.value, target.value)
    assert excinfo.value.current == current.value
    assert excinfo.value.target == target.value
    assert current.value in str(excinfo.value)
    assert target.value in str(excinfo.value)


@pytest.mark.parametrize("source", [s for s in Status if s is not Status.DESTROYED])
def test_every_live_status_can_be_destroyed(source: Status) -> None:
    # "DELETE from any state ──► destroyed"
    assert check_transition(source.value, "destroyed") is Status.DESTROYED


@pytest.mark.parametrize("target", list(Status))
def test_destroyed_is_terminal(target: Status) -> None:
    assert ALLOWED[Status.DESTROYED] == frozenset()
    with pytest.raises(IllegalTransition):
        check_transition("destroyed", target.value)


def test_unknown_status_is_rejected() -> None:
    with pytest.raises(ValueError):
        check_transition("qr_generated", "banned")
    with pytest.raises(ValueError):
        check_transition("banned", "connected")
