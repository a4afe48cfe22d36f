"""Field types and vocabularies shared by the events."""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

TEXT_MAX_LENGTH = 500
LABEL_MAX_LENGTH = 100
Text = Annotated[str, Field(min_length=1, max_length=TEXT_MAX_LENGTH)]
# A name from a vocabulary, such as a region or an industry. 100 characters hold the longest real
# ones ("Bayingolin Mongol Autonomous Prefecture, Xinjiang Uygur Autonomous Region" is 75), and
# keep a list of them, and a reason that quotes one, short.
Label = Annotated[str, Field(min_length=1, max_length=LABEL_MAX_LENGTH)]
LongText = Annotated[str, Field(max_length=4000)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
SignedMoney = Annotated[Decimal, Field(max_digits=18, decimal_places=2)]
# Tons a month. A billion is far above any shipper's: 1e308 tons once stalled the reports'
# counting (their sums are now Decimal128, but a volume past any ship's is a mistake to refuse).
MAX_FREIGHT_TONS = 1_000_000_000
FreightTons = Annotated[float, Field(ge=0, le=MAX_FREIGHT_TONS)]
Size = Literal["micro", "small", "medium", "large"]
Lifecycle = Literal["lead", "prospect", "opportunity", "client", "dormant", "churned"]


class CustomerNature(StrEnum):
    FINANCE_COMPANY = "finance_company"
    STATE_OWNED = "state_owned"
    JOINT_VENTURE_OR_FOREIGN = "joint_venture_or_foreign"
    GROUP_COMPANY = "group_company"
    LISTED_COMPANY = "listed_company"
    PUBLIC_INSTITUTION = "public_institution"
    PRIVATE_ENTERPRISE = "private_enterprise"
    INVESTMENT_COMPANY = "investment_company"
    ORDINARY_COMPANY = "ordinary_company"
    OTHER = "other"


class Channel(StrEnum):
    VISIT = "visit"
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    MATERIAL_MAILED = "material_mailed"
    MARKETING_EVENT = "marketing_event"
    SURVEY = "survey"
    GIFT = "gift"
    MESSAGE = "message"
    SCHEDULED_MEETING = "scheduled_meeting"


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


class DecisionInfluence(StrEnum):
    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    USER = "user"
    GATEKEEPER = "gatekeeper"
