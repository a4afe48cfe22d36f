"""The follow-up service's commands and reactions; EVENT_HANDLERS is what it reacts to."""

from crm_contracts import (
    CustomerArchived,
    CustomerAssigned,
    CustomerCreated,
    CustomerRestored,
    DealClosed,
    VisitLogged,
)
from crm_runtime.handlers import EventHandlers

from crm_followup.handlers.deals import close_from_outside
from crm_followup.handlers.learned import (
    on_customer_archived,
    on_customer_assigned,
    on_customer_created,
    on_customer_restored,
    on_deal_closed,
    on_visit_logged,
)

EVENT_HANDLERS: EventHandlers = {
    CustomerCreated: [on_customer_created],
    CustomerAssigned: [on_customer_assigned],
    CustomerArchived: [on_customer_archived],
    CustomerRestored: [on_customer_restored],
    VisitLogged: [on_visit_logged],
    DealClosed: [on_deal_closed, close_from_outside],
}
