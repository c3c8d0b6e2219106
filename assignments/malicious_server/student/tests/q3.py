from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = [0]

@test_case(points=None, hidden=False)
def test_q3_small_cases(bins_for):
    assert bins_for(1, 0.9) == 1, 'a single image is always alone'
    assert bins_for(2, 0.5) == 2, 'two images, two bins: alone with probability 1/2'
    assert bins_for(3, 0.5) == 4, '(3/4)^2 = 0.5625 >= 0.5, and (2/3)^2 < 0.5'

