from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_small_example(gradient_matching_loss):
    import torch
    a = [torch.tensor([1.0, 2.0]), torch.tensor([[0.0, 1.0]])]
    b = [torch.tensor([0.0, 2.0]), torch.tensor([[1.0, 1.0]])]
    d = gradient_matching_loss(a, b)
    assert isinstance(d, torch.Tensor) and d.ndim == 0, 'return a scalar tensor'
    assert abs(float(d) - 2.0) < 1e-06, f'expected 2.0, got {float(d)}'

