from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_this_target(inv_images, inv_scores):
    assert float(inv_images.min()) >= 0 and float(inv_images.max()) <= 1, 'pixels in [0, 1]'
    assert inv_scores.eval_accuracy >= 0.8, f'the judge recognises {inv_scores.eval_accuracy:.0%}: below 80 %'
    assert inv_scores.correlation >= 0.5, f'correlation {inv_scores.correlation:.2f}: below 0.5'

