from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_small_example(lira_score):
    import numpy as np
    phi = np.array([[1.0, 5.0], [3.0, 7.0], [0.0, 0.0], [2.0, 2.0]])
    keep = np.array([[1, 1], [1, 1], [0, 0], [0, 0]], dtype=bool)
    got = np.asarray(lira_score(np.array([2.0, 1.0]), phi, keep), dtype=np.float64)
    assert got.shape == (2,), 'one score per candidate'
    assert np.allclose(got, [0.25, -6.25]), f'got {got}; expected [0.25, -6.25]'

