from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_small_example(prune):
    import torch
    t = torch.tensor([0.5, -3.0, 0.25, 4.0])
    got = prune([t], 0.5)
    assert got[0].tolist() == [0.0, -3.0, 0.0, 4.0], f'got {got[0].tolist()}'
    assert t.tolist() == [0.5, -3.0, 0.25, 4.0], 'the input was changed'

