"""Every event of the CRM, version 1. A new major version is a new class with its own
schema_version."""

from crm_contracts.common import Channel, CustomerNature, DecisionInfluence, Tier
from crm_contracts.customer_events import (
    CandidateVerdict,
    CompetitorRecorded,
    CompetitorRecordedPayload,
    Contact,
    ContactAdded,
    ContactPayload,
    ContactRemoved,
    ContactRemovedPayload,
    ContactUpdated,
    CreditSummary,
    CustomerArchived,
    CustomerArchivedPayload,
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerFields,
    CustomerRestored,
    CustomerRestoredPayload,
    CustomersMerged,
    CustomersMergedPayload,
    CustomersUnmerged,
    CustomersUnmergedPayload,
    CustomerUpdated,
    CustomerUpdatedPayload,
    FinancialRatios,
    FinancialsRecorded,
    FinancialsRecordedPayload,
    FinancialStatement,
    ImportantDate,
)
from crm_contracts.followup_events import (
    DealClosed,
    DealClosedPayload,
    DealFacts,
    FollowupRevoked,
    FollowupRevokedPayload,
    FollowupUpdated,
    FollowupUpdatedPayload,
    ProposalAccepted,
    ProposalContent,
    ProposalCreated,
    ProposalDecisionPayload,
    ProposalPayload,
    ProposalRejected,
    ProposalRevised,
    ProposalWithdrawn,
    SiteObservations,
    VisitFacts,
    VisitLogged,
    VisitLoggedPayload,
)
from crm_contracts.opportunity_events import (
    LinePrice,
    OpportunityOpened,
    OpportunityOpenedPayload,
    OpportunityTerms,
    OpportunityUpdated,
    OpportunityUpdatedPayload,
    ServiceLine,
    StageChanged,
    StageChangedPayload,
)
from crm_contracts.salesperson_events import (
    QuotaPayload,
    QuotaSet,
    SalespersonPayload,
    SalespersonRegistered,
    SalespersonUpdated,
)
from crm_contracts.scoring_events import (
    CustomerScored,
    CustomerScoredPayload,
    ProbabilityContribution,
    RecommendedStrategy,
    ScoreContribution,
)
from crm_contracts.user_events import UserAccessChanged, UserAccessChangedPayload

CUSTOMER_SERVICE_EVENTS = (
    CustomerCreated,
    CustomerUpdated,
    CustomerArchived,
    CustomerRestored,
    ContactAdded,
    ContactUpdated,
    ContactRemoved,
    CompetitorRecorded,
    FinancialsRecorded,
    CustomerAssigned,
    CustomersMerged,
    CustomersUnmerged,
)
SALESPERSON_EVENTS = (SalespersonRegistered, SalespersonUpdated, QuotaSet)
FOLLOWUP_EVENTS = (
    VisitLogged,
    DealClosed,
    FollowupUpdated,
    FollowupRevoked,
    OpportunityOpened,
    OpportunityUpdated,
    StageChanged,
    ProposalCreated,
    ProposalRevised,
    ProposalWithdrawn,
    ProposalAccepted,
    ProposalRejected,
)
SCORING_EVENTS = (CustomerScored,)
USER_EVENTS = (UserAccessChanged,)
ALL_EVENTS = (
    *CUSTOMER_SERVICE_EVENTS,
    *SALESPERSON_EVENTS,
    *FOLLOWUP_EVENTS,
    *SCORING_EVENTS,
    *USER_EVENTS,
)
