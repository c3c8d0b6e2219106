from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = [0]

@test_case(points=None, hidden=False)
def test_q3_recovers_this_digit(rec_image, rec_label, images, labels):
    from dlgtut.metrics import psnr
    assert tuple(rec_image.shape) == tuple(images.shape), 'return a 1 x C x H x W image'
    assert rec_label == int(labels), 'wrong label'
    got = float(psnr(rec_image.float().clamp(0, 1), images))
    assert got > 25, f'PSNR {got:.1f} dB: not recovered yet'

