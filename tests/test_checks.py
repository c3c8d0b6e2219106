"""The shared argument checks: what each accepts unchanged, and the one line it refuses with."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from dlgtut import checks
from dlgtut.errors import ConfigError, DataError, WrongTypeError


@pytest.mark.parametrize("value,expected", [(3, 3), (np.int64(3), 3), (np.uint8(3), 3)])
def test_integer_accepts_integers_of_any_library(value, expected):
    out = checks.integer(value, "n", low=1)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("value,fragment", [
    (2.0, "n must be a positive integer, got 2.0"),
    (True, "n must be a positive integer, got True"),
    (np.bool_(True), "n must be a positive integer"),
    ("3", "n must be a positive integer, got '3'"),
    (0, "n must be a positive integer, got 0"),
    (torch.zeros(3, 3), "got tensor of shape (3, 3)"),
])
def test_integer_refuses_what_is_not_a_positive_integer(refused, value, fragment):
    refused(ConfigError, fragment, checks.integer, value, "n", low=1)


@pytest.mark.parametrize("value,kwargs,fragment", [
    (float("nan"), {}, "x must be a finite number, got nan"),
    (float("-inf"), {}, "x must be a finite number, got -inf"),
    (True, {}, "x must be a number, got True"),
    (None, {}, "x must be a number, got None"),
    (0.0, {"low": 0, "low_open": True}, "x must be positive, got 0.0"),
    (-1, {"low": 0}, "x must be non-negative, got -1"),
    (1.0, {"low": 0, "high": 1, "high_open": True}, "x must lie in [0, 1), got 1.0"),
    (0.5, {"low": 1}, "x must be >= 1, got 0.5"),
])
def test_number_refuses_nan_inf_bools_and_values_out_of_range(refused, value, kwargs, fragment):
    refused(ConfigError, fragment, checks.number, value, "x", **kwargs)


def test_number_accepts_ints_and_numpy_floats():
    assert checks.number(np.float32(0.5), "x", low=0, high=1) == 0.5
    assert checks.number(2, "x", low=0, low_open=True) == 2.0


@pytest.mark.parametrize("value", [-1, 2**63, 1.0, True, "0"])
def test_seed_is_a_non_negative_integer_below_2_to_the_63(refused, value):
    refused(ConfigError, "seed must be a non-negative integer below 2**63", checks.seed, value)


def test_flag_choice_and_instance(refused):
    assert checks.flag(np.bool_(False), "f") is False
    refused(ConfigError, "f must be True or False, got 1", checks.flag, 1, "f")
    refused(ConfigError, "d must be one of l2, cosine, got ['l2']", checks.choice, ["l2"],
            ("l2", "cosine"), "d")
    refused(WrongTypeError, "m must be a Module, got dict", checks.instance, {}, nn.Module, "m")
    refused(WrongTypeError, "f must be callable or None, got int", checks.function, 3, "f")


@pytest.mark.parametrize("value,kwargs,fragment", [
    ([1.0], {}, "x must be a tensor, got [1.0]"),
    (torch.zeros(2, 3), {"ndim": 4, "shape": "N x C x H x W"},
     "x must be a tensor of shape N x C x H x W, got shape (2, 3)"),
    (torch.zeros(2, dtype=torch.long), {"floating": True}, "must be a floating-point tensor"),
    (torch.zeros(0, 3), {}, "x must not be empty"),
    (torch.tensor([0.0, float("nan")]), {"finite": True}, "x contains NaN or inf"),
    (torch.tensor([0.0, 2.0]), {"unit": True}, "x must lie in [0, 1], got values in [0, 2]"),
])
def test_tensor_checks(refused, value, kwargs, fragment):
    refused(DataError, fragment, checks.tensor, value, "x", **kwargs)


@pytest.mark.parametrize("value,fragment", [
    (["a", "b"], "s must be numbers"),
    ([[1.0], [1.0, 2.0]], "s must be a rectangular array of numbers"),
    ([True, False], "s must be numbers"),
    ([1.0, float("nan")], "s contains NaN or inf"),
    ({"a": 1}, "s must be numbers"),
])
def test_array_refuses_what_is_not_finite_numbers(refused, value, fragment):
    refused(DataError, fragment, checks.array, value, "s")


def test_indices_and_flags_refuse_floats(refused):
    assert checks.indices(np.array([2, 0]), "i").tolist() == [2, 0]
    refused(DataError, "i must be integers, got dtype torch.float32", checks.indices,
            torch.tensor([1.5]), "i")
    refused(DataError, "i must be integers, got dtype torch.bool", checks.indices,
            torch.tensor([True]), "i")
    assert checks.flags(np.array([True, False]), "f").tolist() == [True, False]
    refused(DataError, "f must be booleans (or 0 and 1), got 2", checks.flags, [0, 2], "f")
    refused(DataError, "got nan", checks.flags, [0.0, float("nan")], "f")
    assert checks.flags([1.0, 0.0], "f").tolist() == [True, False]


def test_replace_names_an_unknown_setting(refused):
    @dataclasses.dataclass(frozen=True)
    class Cfg:
        steps: int = 1

    assert checks.replace(Cfg(), {"steps": 2}).steps == 2
    refused(ConfigError, "Cfg has no setting 'step'; its settings are steps", checks.replace,
            Cfg(), {"step": 2})


def test_model_output_turns_a_torch_shape_error_into_one_line(refused):
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    refused(DataError, "the model cannot take images of shape (1, 3, 3)", checks.model_output,
            net, torch.rand(2, 1, 3, 3))
    assert checks.as_model_input(net.double(), torch.rand(1, 4)).dtype == torch.float64
    refused(DataError, "has no parameters", checks.model_parameters, nn.Flatten())
    refused(WrongTypeError, "ax must be a matplotlib Axes or None, got str", checks.axes, "ax")


def test_a_0d_tensor_is_the_number_it_holds(refused):
    assert checks.integer(torch.tensor(3), "label", low=0) == 3
    assert checks.number(torch.tensor(0.5), "lr") == 0.5
    assert checks.seed(np.array(7)) == 7
    refused(ConfigError, "label must be a non-negative integer, got 2.5", checks.integer,
            torch.tensor(2.5), "label", low=0)
    refused(ConfigError, "must be a number", checks.number, torch.tensor(True), "lr")
