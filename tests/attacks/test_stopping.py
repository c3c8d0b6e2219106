"""The one stop rule of the optimisation attacks: converged, stalled, out of time."""

import time

import pytest

from dlgtut.attacks import StopRule
from dlgtut.errors import ConfigError


def _run(rule: StopRule, distances):
    for step, d in enumerate(distances, start=1):
        ended = rule.check(step, d)
        if ended is not None:
            return step, ended
    return None


def test_converged_is_judged_on_the_relative_scale():
    rule = StopRule(stop_distance=1e-3, stall_steps=5)
    assert rule.check(1, 5.0, relative=1e-4) == ("converged", "gradient distance 0.0001 < 0.001")


def test_any_fall_is_progress_without_a_tolerance():
    # DLG's rule: stalled only if the distance did not fall at all in stall_steps steps.
    falling = [1.0 - 1e-9 * k for k in range(30)]
    assert _run(StopRule(None, stall_steps=3), falling) is None
    flat = [1.0, 0.5, 0.5, 0.5, 0.5]
    assert _run(StopRule(None, stall_steps=3), flat) == (
        5, ("stalled", "no progress in 3 steps (distance 0.5)"))


def test_a_tolerance_asks_for_a_relative_fall():
    # Text DLG's rule: less than 0.1 % lower than stall_steps ago is a stall.
    creeping = [1.0, 0.9999, 0.9998, 0.9997]
    assert _run(StopRule(None, stall_steps=2, stall_tolerance=1e-3), creeping)[1][0] == "stalled"
    assert _run(StopRule(None, stall_steps=2), creeping) is None


def test_the_time_limit_ends_a_run_that_still_progresses():
    rule = StopRule(None, stall_steps=100, deadline=time.perf_counter() - 1)
    assert rule.check(7, 1.0) == ("max_iterations", "time limit reached at step 7")


def test_every_distance_is_recorded_in_order():
    rule = StopRule(None, stall_steps=100)
    _run(rule, [3.0, 2.0, 1.0])
    assert rule.distances == [3.0, 2.0, 1.0]
    assert StopRule.exhausted(300, 0.25) == "ran all 300 steps; final distance 0.25"


@pytest.mark.parametrize("kwargs,fragment", [
    ({"stop_distance": float("nan"), "stall_steps": 2}, "stop_distance must be a finite number"),
    ({"stop_distance": -1.0, "stall_steps": 2}, "stop_distance must be non-negative"),
    ({"stop_distance": None, "stall_steps": 0}, "stall_steps must be a positive integer"),
    ({"stop_distance": None, "stall_steps": 2.5}, "stall_steps must be a positive integer"),
    ({"stop_distance": None, "stall_steps": 2, "stall_tolerance": 1.0},
     "stall_tolerance must lie in [0, 1)"),
    ({"stop_distance": None, "stall_steps": 2, "deadline": float("nan")},
     "deadline must be a finite number"),
])
def test_a_stop_rule_that_could_never_fire_right_is_refused(refused, kwargs, fragment):
    refused(ConfigError, fragment, StopRule, **kwargs)
