from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = [0]

@test_case(points=None, hidden=False)
def test_q6_recovers_this_digit(rec_fedavg, rec_fedavg_label, images, labels):
    from dlgtut.metrics import psnr
    assert rec_fedavg_label == int(labels), 'wrong label'
    got = float(psnr(rec_fedavg.float().clamp(0, 1).reshape(images.shape), images))
    assert got > 20, f'PSNR {got:.1f} dB: not recovered yet'

