from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = [0]

@test_case(points=None, hidden=False)
def test_q5_matches_the_participant(fedavg_update, net, images, labels):
    import torch
    from dlgtut.fl import Participant, PrivateBatch
    want = Participant(net).fedavg(PrivateBatch(images, labels), local_steps=2, lr=0.1)
    got = fedavg_update(net, images, labels, 2, 0.1)
    assert len(got) == len(want.tensors), 'one tensor per parameter'
    for g, w in zip(got, want.tensors, strict=True):
        assert torch.allclose(g.detach(), w, atol=1e-06), "not the participant's weight change"

