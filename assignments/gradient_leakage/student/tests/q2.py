from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_hand_made_gradient(idlg_label):
    import torch
    a = torch.tensor([0.2, 0.7, 0.1])
    p = torch.tensor([0.1, 0.6, 0.3])
    grad = (p - torch.tensor([0.0, 0.0, 1.0]))[:, None] * a
    assert int(idlg_label(grad)) == 2

