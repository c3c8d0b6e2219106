from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = [0]

@test_case(points=None, hidden=False)
def test_q4_the_models_here(decisions):
    assert decisions == {'the agreed LeNet': False, 'the imprint lure': True, "an imprint hidden in the MLP's first layer": True, "trap weights in the MLP's first layer": False}, decisions

