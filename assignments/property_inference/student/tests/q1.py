from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_this_round(seen, truth):
    import torch
    assert len(seen) == len(truth), 'one tensor per parameter'
    for a, b in zip(seen, truth, strict=True):
        assert torch.allclose(torch.as_tensor(a), b, atol=0.0001), "not the others' mean update"

