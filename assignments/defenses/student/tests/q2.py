from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_small_example(dp_sgd_gradient):
    import torch
    rows = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    got = dp_sgd_gradient(rows, 1.0, 0.0, torch.Generator().manual_seed(0))
    assert torch.allclose(torch.as_tensor(got).float(), torch.tensor([0.45, 0.6]), atol=1e-05), f'got {got}; expected the mean of [0.6, 0.8] and [0.3, 0.4]'

