"""One small state machine for every stateful row: orders, tickets, payments, pipeline jobs
and tasks each declare their (state, event) -> state table and move through `move`."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from app import audit
from app.errors import Conflict

S = TypeVar("S", bound=enum.StrEnum)


class StateMachine(Generic[S]):
    """Moves an object's state column along a table of legal moves, refuses every other move
    with one `illegal_transition` conflict, and writes each move to the audit log."""

    def __init__(
        self,
        *,
        kind: str,
        states: type[S],
        moves: Mapping[tuple[S, str], S],
        column: str = "state",
        noun: str | None = None,
        label: Callable[[Any], Any] = lambda row: row.id,
        history: Callable[[Any, str, str, str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.kind = kind  # audit object type and action prefix: "order" -> "order.pay"
        self.states = states
        self.moves = dict(moves)
        self.column = column
        self.noun = noun or kind  # how refusals name the object: "job 7 is failed; ..."
        self.label = label
        # Where moves are written: the audit log (people's actions), or the object's own
        # history for machine moves (a pipeline task's lease, retry, wait for a model).
        self.history = history

    def target(self, row: Any, event: str) -> tuple[S, S]:
        """The row's current state and where `event` takes it; a Conflict when it cannot."""
        current = self.states(getattr(row, self.column))
        target = self.moves.get((current, event))
        if target is None:
            raise Conflict(
                f"{self.noun} {self.label(row)} is {current.value}; "
                f"it cannot {event.replace('_', ' ')}",
                reason="illegal_transition",
                errors={self.column: [current.value], "event": [event]},
            )
        return current, target

    def move(
        self, row: Any, event: str, *, changes: Mapping[str, Any] | None = None
    ) -> audit.AuditLog | None:
        """Apply `event` to the row, or refuse; the audit row of the move (None when the
        machine keeps its own history)."""
        current, target = self.target(row, event)
        setattr(row, self.column, target.value)
        if self.history is not None:
            self.history(row, event, current.value, target.value, changes or {})
            return None
        return audit.record(
            action=f"{self.kind}.{event}",
            object_type=self.kind,
            object_id=self.label(row),
            changes={self.column: [current.value, target.value], **(changes or {})},
        )

    def can(self, row: Any, event: str) -> bool:
        """Whether `event` is a legal move from the row's current state."""
        return (self.states(getattr(row, self.column)), event) in self.moves
