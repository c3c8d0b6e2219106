from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_this_batch(got, lure, X):
    assert tuple(got.shape) == (len(X),), 'one boolean per image'
    assert int(got.sum()) >= int((lure.occupancy(X) == 1).sum()), 'every image alone in its bin comes back exactly'

