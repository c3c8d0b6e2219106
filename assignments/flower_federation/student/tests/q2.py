from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = [0]

@test_case(points=None, hidden=False)
def test_q2_the_updates_of_this_run(updates, truths, task, global_model):
    import torch
    for update, truth in zip(updates, truths, strict=True):
        assert update.kind == 'weight_delta' and update.batch_size == 1
        assert update.local_steps == 1 and abs(update.lr - 0.1) < 1e-12
        want = task.honest_update(task.build_model(), truth)
        for got, w in zip(update.tensors, want.tensors, strict=True):
            assert got.shape == w.shape and torch.allclose(got, w, atol=1e-06), "the update is not the participant's new weights minus the global ones"
    assert all((torch.equal(a, b) for a, b in zip(global_model.parameters(), task.build_model().parameters()))), 'the global model was changed'

