"""Events of the customer service: master data, contacts, competitors, financials, assignment,
merges. All are keyed by customer_id."""

from datetime import date
from typing import Annotated, Literal

from pydantic import EmailStr, Field

from crm_contracts.common import (
    CustomerNature,
    DecisionInfluence,
    FreightTons,
    Id,
    Label,
    Lifecycle,
    LongText,
    Money,
    SignedMoney,
    Size,
    Text,
    Tier,
)
from crm_contracts.credit_code import CreditCode
from crm_contracts.envelope import Event, Payload

Phone = Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[0-9+()\- ]+$")]

# Caps on the lists that grow with the data, so that no event nears the 1 MiB of a Kafka record
# (worst cases below count 6 bytes a character, a JSON escape):
# - a customer keeps at most this many contacts and competitors, so a merge moves at most that
#   many ids (600 ids of 64 characters: under 240 kB);
MAX_CONTACTS_PER_CUSTOMER = 500
MAX_COMPETITORS_PER_CUSTOMER = 100
# - an assignment lists the winner and the runners-up, not the whole sales force (the rule gives
#   five reasons a candidate; 10 x 8 reasons of 500 characters: about 250 kB);
MAX_CANDIDATES_LISTED = 10
MAX_REASONS_PER_CANDIDATE = 8
# - an update names the fields it changed (a customer has 14).
MAX_CHANGED_FIELDS = 50


class CreditSummary(Payload):
    """From a credit report (part 5): past defaults, liabilities, guarantees, lawsuits."""

    defaults: int | None = Field(default=None, ge=0, description="Past defaults on record.")
    current_liabilities: Money | None = None
    contingent_liabilities: Money | None = None
    guarantees: Money | None = Field(default=None, description="Guarantees given for others.")
    lawsuits: int | None = Field(default=None, ge=0, description="Lawsuits pending.")


class CustomerFields(Payload):
    """Every field of a customer's basic, value and credit data; all optional here."""

    name: Text | None = None
    credit_code: CreditCode | None = Field(
        default=None, description="Unified social credit code, check digit verified."
    )
    industry: Text | None = None
    region: Text | None = None
    address: Text | None = None
    size: Size | None = None
    nature: CustomerNature | None = None
    phone: Phone | None = None
    website: Text | None = None
    annual_revenue: Money | None = None
    staff: int | None = Field(default=None, ge=0)
    monthly_freight_volume_tons: FreightTons | None = None
    credit: CreditSummary | None = None
    lifecycle: Lifecycle | None = None


class CustomerCreatedPayload(CustomerFields):
    name: Text
    nature: CustomerNature = CustomerNature.OTHER
    owner_id: Id | None = Field(
        default=None, description="Owner at creation, if any; CustomerAssigned follows."
    )


class CustomerCreated(Event):
    event_type: Literal["CustomerCreated"] = "CustomerCreated"
    schema_version: Literal[1] = 1
    payload: CustomerCreatedPayload


class CustomerUpdatedPayload(Payload):
    version: int = Field(ge=1, description="The customer's version after this change.")
    changed: list[Label] = Field(
        min_length=1, max_length=MAX_CHANGED_FIELDS, description="Names of the fields that changed."
    )
    fields: CustomerFields = Field(
        description="The new values of the changed fields (null: cleared)."
    )


class CustomerUpdated(Event):
    event_type: Literal["CustomerUpdated"] = "CustomerUpdated"
    schema_version: Literal[1] = 1
    payload: CustomerUpdatedPayload


class CustomerArchivedPayload(Payload):
    version: int = Field(ge=1)
    reason: Text
    merged_into: Id | None = Field(default=None, description="Set when archived by a merge.")


class CustomerArchived(Event):
    event_type: Literal["CustomerArchived"] = "CustomerArchived"
    schema_version: Literal[1] = 1
    payload: CustomerArchivedPayload


class CustomerRestoredPayload(Payload):
    version: int = Field(ge=1)
    reason: Text


class CustomerRestored(Event):
    event_type: Literal["CustomerRestored"] = "CustomerRestored"
    schema_version: Literal[1] = 1
    payload: CustomerRestoredPayload


class ImportantDate(Payload):
    label: Text
    date: date


class Contact(Payload):
    contact_id: Id
    name: Text
    title: Text | None = None
    phone: Phone | None = None
    email: EmailStr | None = None
    decision_influence: DecisionInfluence | None = None
    important_dates: list[ImportantDate] = Field(default_factory=list, max_length=20)
    hobbies: list[Text] = Field(default_factory=list, max_length=20)
    career: LongText | None = Field(default=None, description="Career history.")
    email_consent: bool = False
    sms_consent: bool = False


class ContactPayload(Payload):
    contact: Contact


class ContactAdded(Event):
    event_type: Literal["ContactAdded"] = "ContactAdded"
    schema_version: Literal[1] = 1
    payload: ContactPayload


class ContactUpdated(Event):
    event_type: Literal["ContactUpdated"] = "ContactUpdated"
    schema_version: Literal[1] = 1
    payload: ContactPayload


class ContactRemovedPayload(Payload):
    contact_id: Id


class ContactRemoved(Event):
    event_type: Literal["ContactRemoved"] = "ContactRemoved"
    schema_version: Literal[1] = 1
    payload: ContactRemovedPayload


class CompetitorRecordedPayload(Payload):
    competitor_id: Id
    name: Text
    share: float | None = Field(
        default=None, ge=0, le=1, description="Share of the customer's freight, 0 to 1."
    )
    contract_end: date | None = None
    notes: LongText | None = None


class CompetitorRecorded(Event):
    event_type: Literal["CompetitorRecorded"] = "CompetitorRecorded"
    schema_version: Literal[1] = 1
    payload: CompetitorRecordedPayload


class FinancialStatement(Payload):
    """One year's figures from the statements, in the customer's currency."""

    year: int = Field(ge=1900, le=2200)
    current_assets: Money | None = None
    current_liabilities: Money | None = None
    total_assets: Money | None = None
    total_liabilities: Money | None = None
    revenue: Money | None = None
    net_profit: SignedMoney | None = None
    accounts_receivable: Money | None = None
    operating_cash_flow: SignedMoney | None = None


class FinancialRatios(Payload):
    """Computed by the customer service from the statements; null where a figure is missing."""

    year: int
    current_ratio: float | None = None
    debt_to_asset_ratio: float | None = None
    sales_profit_margin: float | None = None
    receivables_turnover: float | None = None
    operating_cash_flow: SignedMoney | None = None


class FinancialsRecordedPayload(Payload):
    statements: list[FinancialStatement] = Field(min_length=1, max_length=3)
    ratios: list[FinancialRatios] = Field(max_length=3)


class FinancialsRecorded(Event):
    event_type: Literal["FinancialsRecorded"] = "FinancialsRecorded"
    schema_version: Literal[1] = 1
    payload: FinancialsRecordedPayload


class CandidateVerdict(Payload):
    salesperson_id: Id
    eligible: bool
    reasons: list[Text] = Field(max_length=MAX_REASONS_PER_CANDIDATE)


class CustomerAssignedPayload(Payload):
    owner_id: Id | None = Field(
        description="null: no eligible salesperson, the customer waits in the queue."
    )
    previous_owner_id: Id | None = None
    trigger: Literal["created", "manual", "tier_up", "salesperson_available", "merge", "unmerge"]
    reason: Text = Field(description="Why the assignment was run (a manager's reason when manual).")
    why: Text = Field(description="Why the winner won, or why nobody could be assigned.")
    candidates: list[CandidateVerdict] = Field(
        default_factory=list,
        max_length=MAX_CANDIDATES_LISTED,
        description=f"At most {MAX_CANDIDATES_LISTED} of the salespeople weighed: the eligible in "
        "ranking order (the winner first), then those passed over, the ones who cover the "
        "customer's region and industry first.",
    )
    candidates_considered: int | None = Field(
        default=None,
        ge=0,
        description="How many salespeople the rule weighed; more than `candidates` lists when "
        "they did not all fit. null: not run by the rule, or sent before this field existed.",
    )
    assigned_by: Id | None = Field(default=None, description="The user who reassigned by hand.")
    tier: Tier | None = None


class CustomerAssigned(Event):
    event_type: Literal["CustomerAssigned"] = "CustomerAssigned"
    schema_version: Literal[1] = 1
    payload: CustomerAssignedPayload


class CustomersMergedPayload(Payload):
    """Keyed by the survivor. The merged customer is archived (CustomerArchived, merged_into)."""

    merged_id: Id
    moved_contact_ids: list[Id] = Field(default_factory=list, max_length=MAX_CONTACTS_PER_CUSTOMER)
    moved_competitor_ids: list[Id] = Field(
        default_factory=list, max_length=MAX_COMPETITORS_PER_CUSTOMER
    )
    reason: Text


class CustomersMerged(Event):
    event_type: Literal["CustomersMerged"] = "CustomersMerged"
    schema_version: Literal[1] = 1
    payload: CustomersMergedPayload


class CustomersUnmergedPayload(Payload):
    """Keyed by the survivor of the undone merge; the merged customer is restored."""

    restored_id: Id
    returned_contact_ids: list[Id] = Field(
        default_factory=list, max_length=MAX_CONTACTS_PER_CUSTOMER
    )
    returned_competitor_ids: list[Id] = Field(
        default_factory=list, max_length=MAX_COMPETITORS_PER_CUSTOMER
    )
    reason: Text


class CustomersUnmerged(Event):
    event_type: Literal["CustomersUnmerged"] = "CustomersUnmerged"
    schema_version: Literal[1] = 1
    payload: CustomersUnmergedPayload
