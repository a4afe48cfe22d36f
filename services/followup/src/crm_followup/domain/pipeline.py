"""Time spent in each stage; the stages and the moves between them are crm_runtime.pipeline."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from crm_runtime.pipeline import DEFAULT_PIPELINE, LOST, WON, Pipeline, Stage

__all__ = ["DEFAULT_PIPELINE", "LOST", "WON", "Pipeline", "Stage", "StageVisit", "time_in_stages"]


@dataclass(frozen=True)
class StageVisit:
    stage: str
    entered_at: datetime


def time_in_stages(history: Sequence[StageVisit], now: datetime) -> dict[str, float]:
    """Seconds spent in each stage, summed over visits; the current stage counts until `now`,
    a final stage counts nothing (the opportunity is over)."""
    spent: dict[str, float] = {}
    if not history:
        return spent
    for visit, following in zip(history, [*history[1:], None], strict=True):
        if following is None and visit.stage in (WON, LOST):
            spent.setdefault(visit.stage, 0.0)
            continue
        until = following.entered_at if following else now
        spent[visit.stage] = spent.get(visit.stage, 0.0) + max(
            0.0, (until - visit.entered_at).total_seconds()
        )
    return spent
