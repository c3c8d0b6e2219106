from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_the_readings_of_this_update(readings, X, lure):
    import torch
    occupied = int((lure.occupancy(X) > 0).sum())
    assert readings.shape == (occupied, 3 * 32 * 32), f'{tuple(readings.shape)}: one reading of C H W numbers per bin that holds an image ({occupied} here)'
    x = X.double().flatten(1)
    best = ((x[:, None] - readings.double().clamp(0, 1)[None]) ** 2).mean(-1).amin(1)
    alone = (lure.occupancy(X) == 1)[lure.bin_of(X)]
    assert bool((best[alone] < 0.0001).all()), 'an image alone in its bin did not come back'

