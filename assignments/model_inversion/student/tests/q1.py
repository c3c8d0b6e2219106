from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_small_example(inversion_cost):
    import torch
    from torch import nn
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, 1, -1, -1], [-1, -1, 1, 1]]))
        net[1].bias.zero_()
    x = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]], [[[1.0, 1.0], [0.0, 0.0]]]])
    got = inversion_cost(net, x, torch.tensor([0, 0]), 0.5)
    want = torch.tensor([1 - 0.5 + 0.5, 1 - torch.sigmoid(torch.tensor(4.0)).item() + 0.5])
    assert got.shape == (2,), 'one cost per image'
    assert torch.allclose(got.detach().float(), want, atol=1e-05), f'got {got}, expected {want}'

