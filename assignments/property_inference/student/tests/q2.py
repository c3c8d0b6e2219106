from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_this_round(roc_seen):
    assert roc_seen.auc >= 0.7, f'AUC {roc_seen.auc:.3f}: below 0.7'

