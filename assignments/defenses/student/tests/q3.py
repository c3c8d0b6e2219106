from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = [0]

@test_case(points=None, hidden=False)
def test_q3_small_example(choose_defense):
    from dlgtut.tradeoff import TradeoffPoint
    points = [TradeoffPoint('a', 1, 1.0, 30.0, 0.9, 1.0, 0.8), TradeoffPoint('b', 2, 1.0, 10.0, 0.1, 1.0, 0.7), TradeoffPoint('c', 3, 1.0, 11.0, 0.5, 1.0, 0.75), TradeoffPoint('d', 4, 1.0, 5.0, 0.0, 0.0, 0.6)]
    assert choose_defense(points) is points[1], 'b stops the attack at the least cost'
    assert choose_defense(points[:1]) is None, 'nothing stops the attack: None'

