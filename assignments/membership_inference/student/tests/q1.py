from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_small_example(loss_score):
    import numpy as np
    got = np.asarray(loss_score(np.array([[0.0, 0.0], [3.0, 1.0]]), np.array([0, 1])))
    assert got.shape == (2,), 'one score per example'
    assert np.allclose(got, [-0.693147, -2.126928], atol=1e-05), f'got {got}'

