from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = [0]

@test_case(points=None, hidden=False)
def test_q4_chosen_here(chosen, baseline):
    assert chosen is not None, 'no defence chosen'
    assert chosen.psnr < 12 and chosen.ssim < 0.3, 'the chosen defence does not stop the attack'
    assert chosen.accuracy >= baseline.accuracy - 0.05, 'the chosen defence costs too much'

