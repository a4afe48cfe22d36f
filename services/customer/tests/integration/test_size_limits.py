"""One salesperson with 2,200 long regions once blocked the outbox (an event over Kafka's 1 MiB)
and broke every customer's creation (a reason over the contract's 500 characters). Lists are now
capped, reasons summarised, and the largest request the caps allow makes events far below the
size at which the runtime refuses one (PayloadTooLarge, 413).

Each test runs on a database of its own, so that the salespeople of other tests do not compete."""

import json
import uuid
from datetime import date

import pytest
from crm_contracts import (
    CandidateVerdict,
    Contact,
    ContactAdded,
    ContactPayload,
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomersMerged,
    CustomersMergedPayload,
    ImportantDate,
    SalespersonPayload,
    SalespersonUpdated,
    parse_event,
    topic_of,
)
from crm_contracts.common import LABEL_MAX_LENGTH, TEXT_MAX_LENGTH
from crm_contracts.customer_events import (
    MAX_CANDIDATES_LISTED,
    MAX_COMPETITORS_PER_CUSTOMER,
    MAX_CONTACTS_PER_CUSTOMER,
    MAX_REASONS_PER_CANDIDATE,
)
from crm_contracts.salesperson_events import MAX_COVERAGE
from crm_customer.adapters import CONTACTS
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings
from crm_runtime.store import MAX_EVENT_BYTES, OUTBOX

# The character that takes the most bytes in an event: a control character, written \u001f.
WORST = "\x1f"
ID_MAX_LENGTH = 64


@pytest.fixture
async def service(settings_for, running, namespace):
    own = f"{namespace}{uuid.uuid4().hex[:6]}"
    return await running(
        bootstrap(settings_for(CustomerSettings).model_copy(update={"namespace": own}))
    )


def labels(prefix: str, char: str = "x") -> list[str]:
    """As many regions (or industries) as a salesperson may cover, each as long as it may be."""
    return [f"{prefix} {i:03} ".ljust(LABEL_MAX_LENGTH, char) for i in range(MAX_COVERAGE)]


def widest(salesperson_id: str, char: str = "x", **fields) -> dict:
    return {
        "salesperson_id": salesperson_id,
        "name": salesperson_id,
        "regions": labels("region", char),
        "industries": labels("industry", char),
        "capacity": 10,
        "seniority": 3,
        **fields,
    }


def fields_named(answer) -> set[str]:
    return {str(part) for detail in answer.json()["detail"] for part in detail["loc"]}


async def outbox_values(service, key: str) -> dict[str, bytes]:
    found = await service.store.db[OUTBOX].find({"key": key.encode()}).to_list()
    return {document["event_type"]: document["value"] for document in found}


# --- 1. requests over a cap are refused, naming the field, and nothing is stored -----------------


async def test_a_salesperson_over_the_caps_is_refused_naming_the_field_and_nothing_is_stored(
    service, http
):
    too_many = widest("sp-too-many", regions=[*labels("region"), "one more"])
    too_long = widest("sp-too-long", industries=["x" * (LABEL_MAX_LENGTH + 1)])
    async with http(service) as manager:
        refused = {
            "regions": await manager.post("/salespeople", json=too_many),
            "industries": await manager.post("/salespeople", json=too_long),
        }
        assert (
            await manager.post("/salespeople", json=widest("sp-at-the-caps"))
        ).status_code == 201
        change = await manager.patch(
            "/salespeople/sp-at-the-caps", json={"industries": [*labels("industry"), "one more"]}
        )
        kept = {p["salesperson_id"]: p for p in (await manager.get("/salespeople")).json()}
    for field, answer in refused.items():
        assert answer.status_code == 422 and field in fields_named(answer), answer.text
    assert change.status_code == 422 and "industries" in fields_named(change)
    assert set(kept) == {"sp-at-the-caps"}
    assert kept["sp-at-the-caps"]["industries"] == labels("industry")
    assert set(await outbox_values(service, "sp-at-the-caps")) == {"SalespersonRegistered"}
    assert not await outbox_values(service, "sp-too-many")


# --- 2. a customer is created whatever the salespeople look like ---------------------------------


async def test_a_customer_is_created_and_assigned_whatever_the_salespeople_look_like(
    service, http, kafka
):
    run = uuid.uuid4().hex[:6]
    wide = [f"sp-{run}-wide-{i:02}" for i in range(MAX_CANDIDATES_LISTED + 2)]
    customer = {"name": "Far Away Ltd", "region": "r" * TEXT_MAX_LENGTH, "industry": "i" * 500}
    async with http(service) as manager:
        for salesperson_id in wide:
            registered = await manager.post("/salespeople", json=widest(salesperson_id))
            assert registered.status_code == 201, registered.text
        created = await manager.post("/customers", json=customer)
    assert created.status_code == 201, created.text
    customer_id, assignment = created.json()["customer"]["id"], created.json()["assignment"]
    assert assignment["owner_id"] is None
    assert assignment["candidates_considered"] == len(wide)
    assert len(assignment["candidates"]) == MAX_CANDIDATES_LISTED
    reasons = [r for c in assignment["candidates"] for r in c["reasons"]]
    assert all(len(reason) <= TEXT_MAX_LENGTH for reason in reasons)
    assert f"not covered (covers: {MAX_COVERAGE} regions: region 000 " in reasons[0]

    def about(customer_id: str):
        return lambda record: json.loads(record.value).get("customer_id") == customer_id

    published = await kafka.read(topic_of("CustomerAssigned"), about(customer_id), expect=2)
    salesperson = await kafka.read(topic_of("SalespersonRegistered"), about(wide[0]))
    events = [parse_event(record.value) for record in [*published, *salesperson]]
    assert [event.event_type for event in events] == [
        "CustomerCreated",
        "CustomerAssigned",
        "SalespersonRegistered",
    ]


# --- 3. the largest request the caps allow makes events far below the size limit ------------------
# Through the API no event can reach MAX_EVENT_BYTES any more, so the 413 cannot be provoked:
# instead, the worst case each capped event may reach is computed from the contract, and the
# largest requests are shown to stay within it.


def worst_salesperson_event() -> SalespersonUpdated:
    longest_id = WORST * ID_MAX_LENGTH
    return SalespersonUpdated(
        producer="customer",
        customer_id="i" * ID_MAX_LENGTH,
        payload=SalespersonPayload(
            salesperson_id=longest_id,
            name=WORST * TEXT_MAX_LENGTH,
            regions=[WORST * LABEL_MAX_LENGTH] * MAX_COVERAGE,
            industries=[WORST * LABEL_MAX_LENGTH] * MAX_COVERAGE,
            capacity=10**18,
            seniority=3,
        ),
    )


def worst_assignment_event() -> CustomerAssigned:
    longest_id, longest_text = WORST * ID_MAX_LENGTH, WORST * TEXT_MAX_LENGTH
    verdict = CandidateVerdict(
        salesperson_id=longest_id,
        eligible=False,
        reasons=[longest_text] * MAX_REASONS_PER_CANDIDATE,
    )
    return CustomerAssigned(
        producer="customer",
        customer_id="i" * ID_MAX_LENGTH,
        payload=CustomerAssignedPayload(
            owner_id=longest_id,
            previous_owner_id=longest_id,
            trigger="salesperson_available",
            reason=longest_text,
            why=longest_text,
            candidates=[verdict] * MAX_CANDIDATES_LISTED,
            candidates_considered=10**18,
            assigned_by=longest_id,
            tier="A",
        ),
    )


def worst_contact_event() -> ContactAdded:
    """Not capped here: its lists were capped before (20 dates, 20 hobbies)."""
    longest_text = WORST * TEXT_MAX_LENGTH
    return ContactAdded(
        producer="customer",
        customer_id="i" * ID_MAX_LENGTH,
        payload=ContactPayload(
            contact=Contact(
                contact_id=WORST * ID_MAX_LENGTH,
                name=longest_text,
                title=longest_text,
                important_dates=[ImportantDate(label=longest_text, date=date.max)] * 20,
                hobbies=[longest_text] * 20,
                career=WORST * 4000,
            )
        ),
    )


def worst_merge_event() -> CustomersMerged:
    longest_id = WORST * ID_MAX_LENGTH
    return CustomersMerged(
        producer="customer",
        customer_id="i" * ID_MAX_LENGTH,
        payload=CustomersMergedPayload(
            merged_id=longest_id,
            moved_contact_ids=[longest_id] * MAX_CONTACTS_PER_CUSTOMER,
            moved_competitor_ids=[longest_id] * MAX_COMPETITORS_PER_CUSTOMER,
            reason=WORST * TEXT_MAX_LENGTH,
        ),
    )


async def test_the_largest_requests_the_caps_allow_make_events_within_the_worst_case(service, http):
    run = uuid.uuid4().hex[:6]
    wide = [f"sp-{run}-{i:02}" for i in range(MAX_CANDIDATES_LISTED + 2)]
    worst_customer_text = WORST * TEXT_MAX_LENGTH
    async with http(service) as manager:
        for salesperson_id in wide:
            registered = await manager.post(
                "/salespeople", json=widest(salesperson_id, WORST, name=worst_customer_text)
            )
            assert registered.status_code == 201, registered.text
        changed = await manager.patch(
            f"/salespeople/{wide[0]}", json={"regions": labels("moved", WORST), "capacity": 20}
        )
        created = await manager.post(
            "/customers",
            json={
                "name": worst_customer_text,
                "region": worst_customer_text,
                "industry": worst_customer_text,
            },
        )
    assert changed.status_code == 200 and created.status_code == 201, created.text
    salesperson = await outbox_values(service, wide[0])
    customer = await outbox_values(service, created.json()["customer"]["id"])
    worst = {
        make.__name__: len(make().to_bytes())
        for make in (
            worst_salesperson_event,
            worst_assignment_event,
            worst_merge_event,
            worst_contact_event,
        )
    }
    sizes = {
        "SalespersonRegistered": len(salesperson["SalespersonRegistered"]),
        "SalespersonUpdated": len(salesperson["SalespersonUpdated"]),
        "CustomerAssigned": len(customer["CustomerAssigned"]),
    }
    # Even the worst case is a third of the limit at most: nothing through the API can reach it.
    assert max(worst.values()) < MAX_EVENT_BYTES // 3, worst
    # The largest salesperson comes close to its worst case (its labels start with plain text).
    assert 0.9 * worst["worst_salesperson_event"] < sizes["SalespersonUpdated"]
    assert sizes["SalespersonRegistered"] <= worst["worst_salesperson_event"]
    assert sizes["SalespersonUpdated"] <= worst["worst_salesperson_event"]
    assert sizes["CustomerAssigned"] <= worst["worst_assignment_event"]


# --- a merge never moves more than a customer may hold -------------------------------------------


async def test_a_merge_that_would_exceed_the_contacts_a_customer_may_hold_is_refused(service, http):
    async with http(service) as manager:
        full = (await manager.post("/customers", json={"name": "Full House Ltd"})).json()
        other = (await manager.post("/customers", json={"name": "Full House Trading"})).json()
        full_id, other_id = full["customer"]["id"], other["customer"]["id"]
        await service.store.db[CONTACTS].insert_many(
            [
                {"_id": f"{full_id}-{i}", "customer_id": full_id, "removed": False, "name": "n"}
                for i in range(MAX_CONTACTS_PER_CUSTOMER)
            ]
        )
        one_more = await manager.post(f"/customers/{full_id}/contacts", json={"name": "Wang"})
        contact = await manager.post(f"/customers/{other_id}/contacts", json={"name": "Li"})
        merge = await manager.post(
            f"/customers/{full_id}/merge", json={"merged_id": other_id, "reason": "same firm"}
        )
        after = (await manager.get(f"/customers/{other_id}")).json()
        others_contacts = (await manager.get(f"/customers/{other_id}/contacts")).json()
    assert one_more.status_code == 409, one_more.text
    assert f"more than the {MAX_CONTACTS_PER_CUSTOMER} a customer may have" in one_more.text
    assert contact.status_code == 201 and merge.status_code == 409, merge.text
    assert f"{MAX_CONTACTS_PER_CUSTOMER + 1} contacts" in merge.json()["detail"]["reason"]
    assert after["status"] == "active"
    assert [c["contact_id"] for c in others_contacts] == [contact.json()["contact_id"]]
    assert "CustomersMerged" not in await outbox_values(service, full_id)
