"""When an optimisation-based attack stops, and the one line it says about why.

Every optimisation attack (DLG on images, DLG on text) ends the same ways: the gradient distance
fell below the stop distance (``"converged"``), it made no progress for a while (``"stalled"``),
a time limit passed, or the iterations ran out (``"max_iterations"``). :class:`StopRule` decides
that once, for all of them; divergence (NaN, exploding pixels) is the attack's own to detect,
since only it knows its variables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..checks import integer, number
from .result import Status

__all__ = ["StopRule"]


@dataclass
class StopRule:
    """The stop rule of an optimisation attack, fed the distance after every step.

    Args:
        stop_distance: converged once the distance (on the attack's relative scale) is below
            this; None never converges early.
        stall_steps: stalled when the distance has not improved in this many steps.
        stall_tolerance: what counts as improvement: a fall by more than this fraction of the
            distance ``stall_steps`` ago (0: any fall at all).
        deadline: a ``time.perf_counter()`` value after which the run stops; None for no limit.

    Example:
        >>> rule = StopRule(stop_distance=1e-3, stall_steps=2)
        >>> [rule.check(step, d) for step, d in enumerate([1.0, 0.5, 0.5, 0.5], start=1)]
        [None, None, None, ('stalled', 'no progress in 2 steps (distance 0.5)')]
        >>> StopRule(stop_distance=1e-3, stall_steps=2).check(1, 1e-4)
        ('converged', 'gradient distance 0.0001 < 0.001')
    """

    stop_distance: float | None
    stall_steps: int
    stall_tolerance: float = 0.0
    deadline: float | None = None
    distances: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.stop_distance is not None:
            number(self.stop_distance, "stop_distance", low=0)
        integer(self.stall_steps, "stall_steps", low=1)
        number(self.stall_tolerance, "stall_tolerance", low=0, high=1, high_open=True)
        if self.deadline is not None:
            number(self.deadline, "deadline")

    def check(
        self, step: int, distance: float, relative: float | None = None
    ) -> tuple[Status, str] | None:
        """Record ``distance`` after ``step``; return ``(status, message)`` if the run ends.

        Args:
            step: the step just taken (from 1).
            distance: the distance after it (what stalls are judged on).
            relative: the same distance on the stop rule's scale, if it differs.
        """
        self.distances.append(distance)
        rel = distance if relative is None else relative
        if self.stop_distance is not None and rel < self.stop_distance:
            return "converged", f"gradient distance {rel:.3g} < {self.stop_distance:g}"
        past = self.distances[-1 - self.stall_steps] if len(self.distances) > self.stall_steps \
            else None
        if past is not None and distance >= (1 - self.stall_tolerance) * past:
            return "stalled", f"no progress in {self.stall_steps} steps (distance {distance:.3g})"
        if self.deadline is not None and time.perf_counter() > self.deadline:
            return "max_iterations", f"time limit reached at step {step}"
        return None

    @staticmethod
    def exhausted(iterations: int, best: float) -> str:
        """The message of a run that used all its iterations."""
        return f"ran all {iterations} steps; final distance {best:.3g}"
