"""Family: R6, one decision for all ranks, under DDP on 2 CPU processes.

Rank 0's val dataloader has batches, rank 1's has none (no distributed sampler, zero-length
dataloaders allowed): the per-rank inputs of "is this a run without validation?" differ. The run
has validation (rank 0 validates every epoch), so no rank may fire the new hook. The run has no
ModelCheckpoint or EarlyStopping: with one, 2.6.6 itself cannot run this case (rank 0 saves or
reduces after its validation, which rank 1 skips, and the ranks' collectives no longer match), so
the decision is shown by the hook that the series dispatches on it. The run is the DDP family's
`one_decision` (`ddp.FAMILY`), fitted last in the family's launch: a fourth Trainer in both ranks, in
the process group the family's first fit set up, as the family's own later fits are.
"""
import pytest

from conformance import ddp as core
from conformance.lightning_2_6 import ddp
from conformance.scenario import NEW_HOOK

UNEVEN = ddp.FAMILY.one_decision


@pytest.mark.clause("ddp-one-decision")
def test_ranks_decide_alike_when_only_one_has_validation_batches(ddp_family):
    run = core.as_run(ddp_family()[UNEVEN])
    assert run.finished(), run.output[-4000:]
    validated = [len(core.events(run, rank, "on_validation_end")) for rank in range(core.WORLD_SIZE)]
    assert validated == [UNEVEN.max_epochs, 0], "the per-rank inputs are not the ones this test is about"
    for rank in range(core.WORLD_SIZE):
        assert core.events(run, rank, NEW_HOOK) == [], f"rank {rank} took the run to be without validation"
