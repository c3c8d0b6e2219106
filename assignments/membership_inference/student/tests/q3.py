from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = [0]

@test_case(points=None, hidden=False)
def test_q3_reaches_the_target_rate(roc_pooled, roc_lira):
    assert roc_pooled.negatives >= 3000, 'pool the scores of every shadow playing the target'
    assert roc_pooled.tpr_at_1pct_fpr >= 0.05, f'TPR {roc_pooled.tpr_at_1pct_fpr:.1%} at 1 % FPR, pooled: below 5 %'
    assert roc_lira.auc > 0.6, f'AUC {roc_lira.auc:.3f} on the target'

