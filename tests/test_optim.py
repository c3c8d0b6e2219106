"""The compact-representation L-BFGS against torch's two-loop recursion."""

import pytest
import torch

from dlgtut.errors import ConfigError, WrongTypeError
from dlgtut.optim import CompactLBFGS


def _two_loop(S, Y, g):
    """Nocedal and Wright's two-loop recursion: the reference for the L-BFGS direction."""
    q = g.clone()
    rho = [1.0 / float(y @ s) for s, y in zip(S, Y, strict=True)]
    alpha = []
    for s, y, r in reversed(list(zip(S, Y, rho, strict=True))):
        a = r * float(s @ q)
        alpha.append(a)
        q -= a * y
    gamma = float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
    z = gamma * q
    for (s, y, r), a in zip(zip(S, Y, rho, strict=True), reversed(alpha), strict=True):
        b = r * float(y @ z)
        z += (a - b) * s
    return -z


@pytest.mark.parametrize("pairs,history", [(3, 10), (12, 5), (40, 40)])
def test_direction_equals_the_two_loop_recursion(pairs, history):
    torch.manual_seed(pairs)
    n = 30
    A = torch.randn(n, n, dtype=torch.float64)
    H = A @ A.T + n * torch.eye(n, dtype=torch.float64)  # curvature pairs from an SPD matrix
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = CompactLBFGS([x], history_size=history)
    mem = opt._memory(n, x.detach())
    S, Y = [], []
    for _ in range(pairs):
        s = torch.randn(n, dtype=torch.float64)
        y = H @ s
        k = len(mem["order"])
        St, Yt = mem["S"][:k], mem["Y"][:k]
        opt._push(mem, s, y, St @ y, Yt @ y, Yt @ s)
        S, Y = (S + [s])[-history:], (Y + [y])[-history:]
    g = torch.randn(n, dtype=torch.float64)
    a, b = CompactLBFGS._products(mem, g)
    ours, y_dot_d = CompactLBFGS._direction(mem, g, a, b)
    assert torch.allclose(ours, _two_loop(S, Y, g), rtol=1e-8, atol=1e-10)
    k = len(mem["order"])
    assert torch.allclose(y_dot_d, mem["Y"][:k] @ ours, rtol=1e-8, atol=1e-10)


def test_cached_products_match_a_direct_computation():
    """After many steps the incrementally built SY and YY equal S Y^T and Y Y^T recomputed."""
    torch.manual_seed(0)
    n = 50
    A = torch.randn(n, n, dtype=torch.float64)
    H = A @ A.T / n + 0.1 * torch.eye(n, dtype=torch.float64)
    x = torch.randn(n, dtype=torch.float64, requires_grad=True)
    opt = CompactLBFGS([x], history_size=7, max_iter=30, tolerance_grad=0, tolerance_change=0)

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ H @ x + torch.sin(x).sum()
        loss.backward()
        return loss

    for _ in range(3):  # enough pairs to wrap the ring and compact the window
        opt.step(closure)
    mem = opt.state["memory"]
    order = mem["order"]
    assert len(order) == 7
    S, Y = mem["S"][order], mem["Y"][order]  # oldest first
    SY, YY = CompactLBFGS._window(mem)
    assert torch.allclose(SY, S @ Y.T, rtol=1e-6, atol=1e-9)
    assert torch.allclose(YY, Y @ Y.T, rtol=1e-6, atol=1e-9)


def test_minimises_rosenbrock_like_torch_lbfgs():
    def run(cls):
        x = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        opt = cls([x], line_search_fn="strong_wolfe", max_iter=200, tolerance_grad=1e-12,
                  tolerance_change=1e-14)

        def closure():
            opt.zero_grad()
            loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
            loss.backward()
            return loss

        for _ in range(5):
            opt.step(closure)
        return x.detach()

    ours, theirs = run(CompactLBFGS), run(torch.optim.LBFGS)
    assert torch.allclose(ours, torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_records_the_loss_it_ends_on():
    x = torch.tensor([2.0, -3.0], dtype=torch.float64, requires_grad=True)
    opt = CompactLBFGS([x], max_iter=3)

    def closure():
        opt.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert opt.state["loss"] == pytest.approx(float((x.detach() ** 2).sum()))


def test_rejects_bad_options():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError):
        CompactLBFGS([x], line_search_fn="backtracking")
    with pytest.raises(ValueError):
        CompactLBFGS([x], history_size=0)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"lr": float("nan")}, "lr must be a finite number"),
    ({"lr": 0.0}, "lr must be positive"),
    ({"history_size": 2.5}, "history_size must be a positive integer, got 2.5"),
    ({"max_iter": True}, "max_iter must be a positive integer, got True"),
    ({"max_eval": 0}, "max_eval must be a positive integer"),
    ({"tolerance_grad": -1.0}, "tolerance_grad must be non-negative"),
    ({"tolerance_change": float("inf")}, "tolerance_change must be a finite number"),
    ({"line_search_fn": ["strong_wolfe"]}, "line_search_fn must be None or 'strong_wolfe'"),
])
def test_rejects_bad_options_in_one_line(refused, kwargs, fragment):
    x = torch.zeros(2, requires_grad=True)
    refused(ConfigError, fragment, CompactLBFGS, [x], **kwargs)


def test_rejects_params_that_are_not_tensors(refused):
    refused(WrongTypeError, "params must be tensors to optimise", CompactLBFGS, [1.0])
    refused(ConfigError, "empty parameter list", CompactLBFGS, [])
