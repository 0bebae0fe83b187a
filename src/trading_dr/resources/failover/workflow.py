"""The failover workflow's modes, and the order of its steps.

Input `{"mode": ..., "accept_data_loss": ...}`; what each mode does is one row of
`MODE_PROFILES`. Steps, in the order of `definition`: check the input -> take the lock
(one run at a time) -> by mode: either skip if the writer is already here, validate
readiness, fence the old primary, promote Aurora, poll until the writer is here (bounded),
verify this region serves; or release the fence -> release the lock -> notify. Every
failure releases the lock and notifies, naming the failed state.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading_dr.resources.failover import recovery, run
from trading_dr.resources.failover.asl import Asl, catch_every_task, choose
from trading_dr.resources.vocabulary.context import StackContext

STATE_MACHINE_TIMEOUT_S = 900


@dataclass(frozen=True)
class ModeProfile:
    """What one input mode does once the run holds the lock."""

    # The first state after the lock: release leaves the writer and Aurora alone.
    path: str
    # The Aurora API that moves the writer here, with AllowDataLoss; None: no promotion.
    promotion: tuple[str, bool] | None


MOVE_WRITER = "DescribeStartingWriter"
RELEASE_FENCE = "RecordFenceReleased"
# The first row is each mode Choice's Default.
MODE_PROFILES = {
    # EventBridge, on the peer-down quorum alarm: the old primary may be gone.
    "unplanned": ModeProfile(MOVE_WRITER, ("failoverGlobalCluster", True)),
    # `trading-dr failover --drill`, failback: no loss, needs both regions healthy.
    "planned": ModeProfile(MOVE_WRITER, ("switchoverGlobalCluster", False)),
    # Lift the fence this region holds on its peer (first step of a failback).
    "release": ModeProfile(RELEASE_FENCE, None),
}
MODES = tuple(MODE_PROFILES)


def definition(ctx: StackContext) -> Asl:
    """The workflow's ASL with `${...}` placeholders for the SUBSTITUTIONS."""
    promotions = {m: p.promotion for m, p in MODE_PROFILES.items() if p.promotion}
    states_ = {
        **run.check_input(MODES),
        **run.acquire_lock(ctx.region, "ChooseMode"),
        **choose("ChooseMode", {m: p.path for m, p in MODE_PROFILES.items()}),
        **recovery.skip_if_writer_here(ctx.region, "ValidateReadiness"),
        **recovery.check_readiness("RecordFence"),
        **recovery.fence(ctx, "ChoosePromotion"),
        **recovery.promote(promotions, "StartWriterPoll"),
        **recovery.poll_writer(ctx.region, "VerifyServes"),
        **recovery.verify_serves(ctx),
        **recovery.release_fence(ctx),
        **run.release_lock("NotifySuccess"),
        **run.notify_success(ctx),
        **run.fail(ctx),
    }
    catch_every_task(states_, run.FAILURE_TASKS)
    return {
        "Comment": f"trading-dr {ctx.env.suffix}: move the Aurora writer and traffic to "
        f"{ctx.region}",
        "StartAt": "InitRun",
        "TimeoutSeconds": STATE_MACHINE_TIMEOUT_S,
        "States": states_,
    }
