from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = [0]

@test_case(points=None, hidden=False)
def test_q1_kept_every_reply_of_this_run(strategy, CLIENTS, run):
    assert len(strategy.kept) == CLIENTS, f'kept {len(strategy.kept)} replies, not {CLIENTS}'
    for server_round, node_id, content in strategy.kept:
        assert server_round == 1 and isinstance(node_id, int)
        assert 'arrays' in content and 'metrics' in content, "keep the reply's content"
    assert len({node for _, node, _ in strategy.kept}) == CLIENTS, 'one reply per node'
    assert len(run.test_accuracy) == 2, 'the round produced no global model'

