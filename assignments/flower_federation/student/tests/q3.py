from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = [0]

@test_case(points=None, hidden=False)
def test_q3_the_aggregate_of_this_round(everyone, updates):
    import torch
    assert everyone.batch_size == len(updates), 'the aggregate holds every example'
    for i, t in enumerate(everyone.tensors):
        want = sum((u.tensors[i] for u in updates)) / len(updates)
        assert torch.allclose(t, want, atol=1e-07), 'not the mean of the updates'

