"""Leader and followers: work that arrives while the same kind of work is running waits, and is
then done together in one go (one transaction instead of one each), each item keeping its own
outcome.

The first caller runs alone at once (no waiting when there is no contention); callers that
arrive meanwhile queue, and when the running group is done the first of them leads the next
group with all of them. Used for the event store's group commit and for numbering concurrent
filings together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Waiting(Generic[T, R]):
    """One item in the queue: what to do, and then its result or its error."""

    item: T
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: R | None = None
    error: BaseException | None = None


class Batcher(Generic[T, R]):
    """Runs ``run(items)`` for groups of the items submitted concurrently.

    ``run`` returns one outcome per item, in order: a result, or an exception that is raised
    to that item's caller alone. If ``run`` itself raises, every item of its group gets that
    error.
    """

    #: the most items in one group (the rest wait for the next)
    max_group = 256

    def __init__(
        self, run: Callable[[list[T]], Sequence[R | BaseException]], max_group: int | None = None
    ) -> None:
        self._run = run
        if max_group is not None:
            self.max_group = max_group
        self._lock = threading.Lock()
        self._queue: list[_Waiting[T, R]] = []
        self._busy = False

    def submit(self, item: T) -> R | None:
        waiting: _Waiting[T, R] = _Waiting(item)
        with self._lock:
            self._queue.append(waiting)
            if not self._busy:
                self._busy = True
                waiting.lead = True
        if not waiting.lead:
            waiting.done.wait()
        if waiting.lead:
            self._lead()
        if waiting.error is not None:
            raise waiting.error
        return waiting.result

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
        try:
            outcomes = list(self._run([waiting.item for waiting in group]))
        except BaseException as error:  # the whole group failed: every item failed
            outcomes = [error] * len(group)
        for waiting, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                waiting.error = outcome
            else:
                waiting.result = outcome
        with self._lock:
            if self._queue:
                self._queue[0].lead = True  # hand over: it runs the next group
                self._queue[0].done.set()
            else:
                self._busy = False
        for waiting in group:
            waiting.lead = False
            waiting.done.set()
