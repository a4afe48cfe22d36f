"""The sales pipeline's definition, one for every service (CRM_PIPELINE): the open stages in
order with their win probabilities, and the moves allowed between them. Follow-up moves
opportunities by it; reporting orders its funnel by it."""

from pydantic import BaseModel, ConfigDict, Field, model_validator

WON, LOST = "won", "lost"


class Stage(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    win_probability: float = Field(ge=0, le=1)
    may_win: bool = Field(default=False, description="A deal may be won from this stage.")


class Pipeline(BaseModel):
    """Open stages in order; `won` and `lost` always follow and are final."""

    model_config = ConfigDict(frozen=True)
    stages: tuple[Stage, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _sound(self) -> "Pipeline":
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names repeat: {names}")
        if {WON, LOST} & set(names):
            raise ValueError("won and lost are added by the pipeline itself")
        if not any(stage.may_win for stage in self.stages):
            raise ValueError("at least one stage must allow winning")
        return self

    @property
    def first(self) -> str:
        return self.stages[0].name

    def open_stages(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def probability(self, name: str) -> float:
        if name == WON:
            return 1.0
        if name == LOST:
            return 0.0
        for stage in self.stages:
            if stage.name == name:
                return stage.win_probability
        raise ValueError(f"no stage {name!r}")

    def is_final(self, name: str) -> bool:
        return name in (WON, LOST)

    def move_problem(self, from_stage: str, to_stage: str) -> str | None:
        """Why the move is not allowed, or None. Open stages move one step forward or back, or skip
        forward; `lost` from any open stage; `won` only from a stage that allows winning."""
        names = self.open_stages()
        known = [*names, WON, LOST]
        if to_stage not in known:
            return f"no stage {to_stage!r}: the stages are {', '.join(known)}"
        if self.is_final(from_stage):
            return (
                f"the opportunity is {from_stage}: a final stage; "
                "reopen a lost one as a new opportunity"
            )
        if from_stage not in names:
            # The configuration changed under an open opportunity: only closing it stays possible.
            return (
                None
                if to_stage == LOST
                else f"stage {from_stage!r} is no longer configured: close it as lost"
            )
        if to_stage == from_stage:
            return f"the opportunity is already in {to_stage}"
        if to_stage == LOST:
            return None
        if to_stage == WON:
            stage = next(s for s in self.stages if s.name == from_stage)
            winnable = [s.name for s in self.stages if s.may_win]
            return (
                None
                if stage.may_win
                else f"a deal is won only from {', '.join(winnable)}, not {from_stage}"
            )
        back = names.index(from_stage) - names.index(to_stage)
        return (
            None
            if back <= 1
            else f"back more than one stage ({from_stage} to {to_stage}): requalify step by step"
        )


DEFAULT_PIPELINE = Pipeline(
    stages=(
        Stage(name="qualified", win_probability=0.1),
        Stage(name="needs_analysed", win_probability=0.25),
        Stage(name="proposal", win_probability=0.5, may_win=True),
        Stage(name="negotiation", win_probability=0.75, may_win=True),
    )
)

# What a logistics sales force sells, one name per mode of a service line (CRM_SERVICE_MODES).
DEFAULT_SERVICE_MODES = (
    "ftl",
    "ltl",
    "express",
    "cold_chain",
    "warehousing",
    "customs",
    "multimodal",
    "rail",
    "sea",
    "air",
)
