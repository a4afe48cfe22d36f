"""The customer service's commands and reactions: load, decide with the domain, save and emit in
one transaction. Command handlers take `(command, context)`; event handlers are declared here."""

from crm_contracts import CustomerScored
from crm_runtime.handlers import EventHandlers

from crm_customer.handlers.assignment import on_customer_scored

EVENT_HANDLERS: EventHandlers = {CustomerScored: [on_customer_scored]}
