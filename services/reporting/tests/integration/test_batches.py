"""A partition batch is applied in one transaction with its writes coalesced: whatever the batches a
history is cut into, the read models end in the same state as with one event per batch."""

import itertools
import json
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from crm_contracts import (
    CompetitorRecorded,
    CompetitorRecordedPayload,
    Contact,
    ContactAdded,
    ContactPayload,
    ContactRemoved,
    ContactRemovedPayload,
    ContactUpdated,
    CustomerArchived,
    CustomerArchivedPayload,
    CustomerAssigned,
    CustomerAssignedPayload,
    CustomerCreated,
    CustomerCreatedPayload,
    CustomerFields,
    CustomerRestored,
    CustomerRestoredPayload,
    CustomerScored,
    CustomerScoredPayload,
    CustomersMerged,
    CustomersMergedPayload,
    CustomersUnmerged,
    CustomersUnmergedPayload,
    CustomerUpdated,
    CustomerUpdatedPayload,
    DealClosed,
    DealClosedPayload,
    Event,
    FinancialRatios,
    FinancialsRecorded,
    FinancialsRecordedPayload,
    FinancialStatement,
    FollowupRevoked,
    FollowupRevokedPayload,
    FollowupUpdated,
    FollowupUpdatedPayload,
    OpportunityOpened,
    OpportunityOpenedPayload,
    OpportunityTerms,
    OpportunityUpdated,
    OpportunityUpdatedPayload,
    ProposalAccepted,
    ProposalCreated,
    ProposalDecisionPayload,
    ProposalPayload,
    ProposalRevised,
    ServiceLine,
    StageChanged,
    StageChangedPayload,
    VisitLogged,
    VisitLoggedPayload,
)
from crm_reporting import adapters, at_once, counters, forecasts, plan, queries
from crm_reporting.bootstrap import spec
from crm_reporting.counting import owner_of, segment_of
from crm_reporting.measures import (
    churn,
    churn_by_month,
    forecast,
    funnel,
    funnel_of,
    latest_prices,
    lifecycle_of,
    scorecard,
)
from crm_reporting.queries import Segment
from crm_runtime.handlers import wire
from crm_runtime.periods import month_of, months_of
from crm_runtime.store import Store
from pymongo import AsyncMongoClient
from targets import in_team, quota_set

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STAGES = ["qualified", "needs_analysed", "proposal", "negotiation"]
# Periods of the reports: whole days, whole hours, and parts of hours at either end.
PERIODS = [
    (T0 - timedelta(days=1), T0 + timedelta(days=2)),
    (T0, T0 + timedelta(hours=10)),
    (T0 + timedelta(minutes=30), T0 + timedelta(hours=7, minutes=20)),
    (T0 + timedelta(hours=1, minutes=17), T0 + timedelta(hours=1, minutes=50)),
]
CUSTOMERS = [f"b-{n}" for n in range(10)]
# No CustomerCreated (as for a customer another system updates): the profile stays None, or holds
# what updates set.
NEVER_CREATED = CUSTOMERS[-2:]
BUSY = CUSTOMERS[0]  # scored more than the 100 scores a profile keeps
READ_MODELS = (
    adapters.PROFILES,
    adapters.TIMELINE,
    *adapters.FACTS,
    adapters.QUOTAS,
    adapters.SALESPEOPLE,
)
# Events of the follow-up and scoring topics may come late: only one topic's order is promised.
MAY_COME_LATE = (
    VisitLogged,
    FollowupUpdated,
    FollowupRevoked,
    DealClosed,
    OpportunityOpened,
    OpportunityUpdated,
    StageChanged,
    ProposalCreated,
    ProposalRevised,
    ProposalAccepted,
    CustomerScored,
)
PEOPLE = {"sp-1": "east-1", "sp-2": "east-1", "sp-3": None}  # salespeople and their teams
PLAN_PERIODS = ("2024-01", "2024-Q1", "2024")
CHOSEN = (
    forecasts.Chosen(),
    forecasts.Chosen(team="east-1"),
    forecasts.Chosen(salesperson_id="sp-3"),
    forecasts.Chosen("sp-1", "east-1"),
)


class History:
    """A random history of a few customers: each thing's events in its own order, every time
    distinct (so that time-sorted lists have one order)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = itertools.count(1)
        self.events: list[Event] = []
        self.created: set[str] = set()
        self.merged: set[str] = set()
        self.followups: dict[str, tuple[str, int]] = {}  # id: customer, version
        self.opportunities: list[tuple[str, str]] = []
        self.proposals: list[tuple[str, str, int]] = []

    def at(self) -> datetime:
        return T0 + timedelta(minutes=next(self.clock))

    def visit(self, followup_id: str, at: datetime) -> VisitLoggedPayload:
        return VisitLoggedPayload(
            followup_id=followup_id,
            salesperson_id=self.rng.choice(["sp-1", "sp-2"]),
            channel=self.rng.choice(["visit", "call", "email"]),
            subject="s",
            started_at=at,
            ended_at=at + timedelta(minutes=30),
        )

    def step(self) -> None:
        rng, at = self.rng, self.at()
        customer = rng.choice(CUSTOMERS)
        kinds = {
            self.customer: 4,
            self.score: 6,
            self.visit_logged: 5,
            self.followup: 3,
            self.deal: 1,
            self.pipeline: 3,
            self.terms: 2,
            self.proposal: 2,
            self.merge: 1,
        }
        [kind] = rng.choices(list(kinds), list(kinds.values()))
        self.events.extend(kind(customer, at))

    def customer(self, customer: str, at: datetime) -> list[Event]:
        rng = self.rng
        if customer in NEVER_CREATED:
            fields = CustomerFields(region=rng.choice(["north", "south"]), website="x.example")
            changed = rng.choice([["region"], ["website"], ["region", "website"]])
            payload = CustomerUpdatedPayload(version=2, changed=changed, fields=fields)
            updated = CustomerUpdated(
                producer="t", customer_id=customer, occurred_at=at, payload=payload
            )
            return [updated] if rng.random() < 0.3 else []
        if customer not in self.created:
            self.created.add(customer)
            payload = CustomerCreatedPayload(name=customer, region=rng.choice(["east", "west"]))
            return [
                CustomerCreated(producer="t", customer_id=customer, occurred_at=at, payload=payload)
            ]
        contact = Contact(contact_id=f"k-{rng.randrange(3)}", name=rng.choice(["Li", "Wang"]))
        fields = CustomerFields(
            region=rng.choice(["north", "south"]), monthly_freight_volume_tons=rng.uniform(0, 900)
        )
        return [
            rng.choice(
                [
                    CustomerUpdated(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=CustomerUpdatedPayload(
                            version=2,
                            changed=rng.choice([["region"], ["monthly_freight_volume_tons"]]),
                            fields=fields,
                        ),
                    ),
                    CustomerAssigned(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=CustomerAssignedPayload(
                            owner_id=rng.choice(["sp-1", "sp-2"]),
                            trigger="manual",
                            reason="r",
                            why="w",
                        ),
                    ),
                    ContactAdded(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=ContactPayload(contact=contact),
                    ),
                    ContactUpdated(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=ContactPayload(contact=contact),
                    ),
                    ContactRemoved(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=ContactRemovedPayload(contact_id=contact.contact_id),
                    ),
                    CompetitorRecorded(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=CompetitorRecordedPayload(
                            competitor_id=f"r-{rng.randrange(2)}", name="Rival", share=rng.random()
                        ),
                    ),
                    FinancialsRecorded(
                        producer="t",
                        customer_id=customer,
                        # Some recorded long ago and delivered only now.
                        occurred_at=at - timedelta(days=rng.choice([0, 400])),
                        payload=FinancialsRecordedPayload(
                            statements=[FinancialStatement(year=2023)],
                            ratios=[FinancialRatios(year=2023, current_ratio=rng.random())],
                        ),
                    ),
                    CustomerArchived(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=CustomerArchivedPayload(version=3, reason="r"),
                    ),
                    CustomerRestored(
                        producer="t",
                        customer_id=customer,
                        occurred_at=at,
                        payload=CustomerRestoredPayload(version=4, reason="r"),
                    ),
                ]
            )
        ]

    def score(self, customer: str, at: datetime) -> list[Event]:
        customer = BUSY if self.rng.random() < 0.8 else customer
        return [
            CustomerScored(
                producer="t",
                customer_id=customer,
                occurred_at=at,
                payload=CustomerScoredPayload(
                    score=self.rng.randrange(101),
                    tier=self.rng.choice("ABCD"),
                    win_probability=self.rng.random(),
                    reasons=["r"],
                    rule_version="t",
                ),
            )
        ]

    def visit_logged(self, customer: str, at: datetime) -> list[Event]:
        followup_id = f"f-{len(self.followups)}"
        self.followups[followup_id] = (customer, 0)
        payload = self.visit(followup_id, at)
        return [VisitLogged(producer="t", customer_id=customer, occurred_at=at, payload=payload)]

    def followup(self, customer: str, at: datetime) -> list[Event]:
        if not self.followups:
            return self.visit_logged(customer, at)
        followup_id = self.rng.choice(list(self.followups)[-4:])  # corrected soon after
        customer, version = self.followups[followup_id]
        if self.rng.random() < 0.25:
            return [
                FollowupRevoked(
                    producer="t",
                    customer_id=customer,
                    occurred_at=at,
                    payload=FollowupRevokedPayload(followup_id=followup_id, reason="wrong"),
                )
            ]
        self.followups[followup_id] = (customer, version + 1)
        return [
            FollowupUpdated(
                producer="t",
                customer_id=customer,
                occurred_at=at,
                payload=FollowupUpdatedPayload(
                    followup_id=followup_id,
                    version=version + 1,
                    changed=["channel"],
                    followup=self.visit(followup_id, at),
                ),
            )
        ]

    def deal(self, customer: str, at: datetime) -> list[Event]:
        won = self.rng.random() < 0.5
        lines = [["road"], ["rail"], ["road", "sea"]][at.minute % 3]  # no draw: histories stay
        won_facts = {"amount": "10.00", "currency": "CNY", "product_lines": lines}
        if at.minute % 2:  # and some with their service lines and salesperson
            won_facts |= {"lines": self.lines(), "salesperson_id": self.rng.choice(list(PEOPLE))}
        facts = won_facts if won else {"lost_reason": "price"}
        return [
            DealClosed(
                producer="t",
                customer_id=customer,
                occurred_at=at,
                payload=DealClosedPayload(
                    deal_id=f"d-{next(self.clock)}", outcome="won" if won else "lost", **facts
                ),
            )
        ]

    def pipeline(self, customer: str, at: datetime) -> list[Event]:
        if not self.opportunities or self.rng.random() < 0.3:
            opportunity = f"o-{len(self.opportunities)}"
            self.opportunities.append((customer, opportunity))
            payload = OpportunityOpenedPayload(
                **self.opportunity_terms().model_dump(),
                opportunity_id=opportunity,
                stage="qualified",
                win_probability=0.1,
            )
            return [
                OpportunityOpened(
                    producer="t", customer_id=customer, occurred_at=at, payload=payload
                )
            ]
        customer, opportunity = self.rng.choice(self.opportunities)
        return [
            StageChanged(
                producer="t",
                customer_id=customer,
                occurred_at=at,
                payload=StageChangedPayload(
                    opportunity_id=opportunity,
                    from_stage="qualified",
                    to_stage=self.rng.choice(["proposal", "negotiation", "won"]),
                    win_probability=self.rng.random(),
                    seconds_in_previous_stage=60,
                ),
            )
        ]

    def lines(self) -> list[ServiceLine]:
        rng = self.rng
        return [
            ServiceLine(
                line_id=f"l{n}",
                origin=rng.choice(["Shanghai", "Ningbo"]),
                mode=rng.choice(["ftl", "cold_chain"]),
                monthly_tons=rng.choice([None, 10.0, 35.5]),
            )
            for n in range(rng.randrange(3))
        ]

    def opportunity_terms(self) -> OpportunityTerms:
        rng = self.rng
        amount = rng.choice([None, "1000.00", "2500.50"])
        close = rng.choice([None, "2024-01-20", "2024-02-03", "2024-04-30", "2023-12-31"])
        return OpportunityTerms(
            amount=amount,
            currency=rng.choice(["CNY", "USD"]) if amount else None,
            expected_close_date=close,
            owner_id=rng.choice([None, *PEOPLE]),
            lines=self.lines(),
        )

    def terms(self, customer: str, at: datetime) -> list[Event]:
        if not self.opportunities:
            return self.pipeline(customer, at)
        customer, opportunity = self.rng.choice(self.opportunities)
        payload = OpportunityUpdatedPayload(
            opportunity_id=opportunity,
            changed=["amount"],
            terms=self.opportunity_terms(),
            win_probability=self.rng.choice([0.3, 0.5, 0.8]),
            override_reason="r",
        )
        return [
            OpportunityUpdated(producer="t", customer_id=customer, occurred_at=at, payload=payload)
        ]

    def proposal(self, customer: str, at: datetime) -> list[Event]:
        def content(proposal: str, revision: int) -> ProposalPayload:
            return ProposalPayload(
                proposal_id=proposal,
                revision=revision,
                needs=["lane"],
                solution="trucks",
                price=f"{self.rng.randrange(100, 999)}.00",
                currency="CNY",
            )

        if not self.proposals or self.rng.random() < 0.4:
            proposal = f"p-{len(self.proposals)}"
            self.proposals.append((customer, proposal, 1))
            return [
                ProposalCreated(
                    producer="t", customer_id=customer, occurred_at=at, payload=content(proposal, 1)
                )
            ]
        index = self.rng.randrange(len(self.proposals))
        customer, proposal, revision = self.proposals[index]
        if self.rng.random() < 0.3:
            return [
                ProposalAccepted(
                    producer="t",
                    customer_id=customer,
                    occurred_at=at,
                    payload=ProposalDecisionPayload(proposal_id=proposal, revision=revision),
                )
            ]
        self.proposals[index] = (customer, proposal, revision + 1)
        return [
            ProposalRevised(
                producer="t",
                customer_id=customer,
                occurred_at=at,
                payload=content(proposal, revision + 1),
            )
        ]

    def merge(self, customer: str, at: datetime) -> list[Event]:
        if self.merged and self.rng.random() < 0.4:
            restored = self.rng.choice(sorted(self.merged))
            self.merged.discard(restored)
            return [
                CustomersUnmerged(
                    producer="t",
                    customer_id=customer,
                    occurred_at=at,
                    payload=CustomersUnmergedPayload(restored_id=restored, reason="r"),
                )
            ]
        merged = self.rng.choice([c for c in CUSTOMERS if c != customer])
        self.merged.add(merged)
        return [
            CustomersMerged(
                producer="t",
                customer_id=customer,
                occurred_at=at,
                payload=CustomersMergedPayload(merged_id=merged, reason="r"),
            )
        ]

    def delivered(self) -> list[Event]:
        """In delivery order: some events of other topics late, some delivered twice."""
        rng = self.rng
        late = [
            index
            + (
                rng.randrange(1, 60)
                if isinstance(event, MAY_COME_LATE) and rng.random() < 0.3
                else 0
            )
            for index, event in enumerate(self.events)
        ]
        order = [event for _, _, event in sorted(zip(late, itertools.count(), self.events))]
        for event in rng.sample(self.events, 15):  # again, after it came the first time
            order.insert(rng.randrange(order.index(event) + 1, len(order) + 1), event)
        return order


def targets() -> list[Event]:
    """The salespeople and their teams, and quotas: some set for a period, some for its parts,
    one changed (its versions delivered in the wrong order)."""
    return [
        *(in_team(person, team, T0) for person, team in PEOPLE.items()),
        quota_set("salesperson", "sp-1", "2024-Q1", "30000.00", 50.0, version=2, at=T0),
        quota_set("salesperson", "sp-1", "2024-Q1", "1.00", 1.0, version=1, at=T0),  # late
        *(quota_set("salesperson", "sp-2", f"2024-0{m}", f"{m}000.00", at=T0) for m in (1, 2, 3)),
        quota_set("team", "east-1", "2024", "90000.00", 400.0, at=T0),
    ]


def history(seed: int, steps: int) -> list[Event]:
    made = History(seed)
    made.events.extend(targets())
    for _ in range(steps):
        made.step()
    made.events = [  # the same history every run, to its ids
        event.model_copy(update={"event_id": uuid.UUID(int=made.rng.getrandbits(128))})
        for event in made.events
    ]
    return made.delivered()


async def projecting(client, name: str):
    """A database of its own (dropped first), with its indexes, and the service's handlers."""
    store = Store(client, name)
    await client.drop_database(name)
    await store.ensure_indexes()
    await adapters.create_indexes(store)
    handlers = wire(spec().handlers, spec().dependencies)

    async def apply(event, uow):
        for handler in handlers[type(event)]:
            await handler(event, uow)

    return store, apply


async def projected(client, name: str, events: list[Event], cuts: list[int]) -> dict[str, list]:
    """The read models after applying `events` in batches ending at `cuts`, in a database of its
    own."""
    store, apply = await projecting(client, name)

    start = 0
    for end in [*cuts, len(events)]:
        if end > start:
            await store.run_batch(events[start:end], apply)
            start = end
    state = {
        collection: await store.db[collection].find().sort("_id").to_list()
        for collection in READ_MODELS
    }
    await client.drop_database(name)
    return state


@pytest.fixture
async def client(infra):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield client
    await client.close()


@pytest.mark.parametrize("seed", [20, 21])
async def test_a_batch_of_many_events_of_the_same_customers_ends_as_one_event_per_batch_does(
    client, namespace, seed
):
    events = history(seed, steps=600)
    rng = random.Random(seed)
    name = f"{namespace}_batches_{uuid.uuid4().hex[:6]}"
    one_each = await projected(client, f"{name}_1", events, list(range(1, len(events))))
    all_in_one = await projected(client, f"{name}_a", events, [])
    cuts = sorted(rng.sample(range(1, len(events)), 12))
    some = await projected(client, f"{name}_s", events, cuts)
    assert all_in_one == one_each
    assert some == one_each

    # The history exercised what batches could get wrong.
    profiles = {profile["_id"]: profile for profile in one_each[adapters.PROFILES]}
    busy = profiles[BUSY]
    scored = {e.event_id: e for e in events if isinstance(e, CustomerScored)}
    scores = sorted(
        (e.occurred_at, e.payload.score) for e in scored.values() if e.customer_id == BUSY
    )
    assert len(scores) > 100
    assert [(p["at"], p["score"]) for p in busy["score_history"]] == scores[-100:]
    assert busy["latest_score"]["score"] == scores[-1][1]
    assert any(p.get("merged_into") for p in profiles.values())
    assert any(entry.get("revoked") for entry in one_each[adapters.TIMELINE])
    assert any(entry.get("version", 0) > 0 for entry in one_each[adapters.TIMELINE])
    accounts = {fact["account_id"] != fact["customer_id"] for fact in one_each[adapters.DEALS]}
    assert accounts == {True, False}
    # Updates of customers never created make profiles of their own (MongoDB cannot set a field
    # inside the null profile other events left).
    described = [profiles[c]["profile"] for c in NEVER_CREATED if c in profiles]
    assert described and all(set(p) <= {"region", "website"} and p for p in described)


async def test_the_batch_decides_unless_later_as_mongodb_does_to_the_millisecond(client, namespace):
    from crm_reporting.batch import kept

    base = datetime(2025, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    times = [base + timedelta(microseconds=d) for d in (-1000, -1, 0, 1, 499, 500, 1000)]
    stored = [*times, None, "not a time"]
    documents = client[f"{namespace}_kept"]["times"]
    await documents.drop()
    await documents.insert_many([{"_id": n, "t": value} for n, value in enumerate(stored)])
    await documents.insert_one({"_id": "no time"})
    for at in times:
        for ties_kept in (True, False):
            unless = {"t": {"$not": {"$gte" if ties_kept else "$gt": at}}}
            applied = {d["_id"] for d in await documents.find(unless, {"_id": 1}).to_list()}
            decided = {
                n for n, value in enumerate(stored) if not kept(value, at, ties_kept=ties_kept)
            } | {"no time"}
            assert decided == applied, (at, ties_kept)
    await client.drop_database(f"{namespace}_kept")


async def _by_hand(db, segment: Segment, now: datetime, dormant_after: timedelta) -> dict:
    """The lifecycle report computed from the read models themselves, customer by customer."""
    profiles = (
        await db[adapters.PROFILES]
        .find({"merged_into": None, "created_at": {"$exists": True}, **segment.filter()})
        .to_list()
    )
    last: dict[str, datetime] = {}
    for fact in await db[adapters.FOLLOWUPS].find({"revoked": False}).to_list():
        last[fact["account_id"]] = max(fact["at"], last.get(fact["account_id"], fact["at"]))
    opened = {
        o["account_id"]
        for o in await db[adapters.OPPORTUNITIES].find().to_list()
        if not o.get("closed")
    }
    outcomes: dict[str, set[str]] = {}
    for deal in await db[adapters.DEALS].find().to_list():
        outcomes.setdefault(deal["account_id"], set()).add(deal["outcome"])
    stages = {
        p["_id"]: lifecycle_of(
            {**p, "last_followup_at": last.get(p["_id"])},
            p["_id"] in opened,
            "won" in outcomes.get(p["_id"], ()),
            outcomes.get(p["_id"]) == {"lost"},
            now,
            dormant_after,
        )
        for p in profiles
    }
    return churn(stages, {p["_id"]: p["created_at"] for p in profiles})


async def _value_by_hand(db, by: list[str], segment: Segment) -> list:
    groups: dict[tuple, list] = {}
    match = {"merged_into": None, "status": {"$ne": "archived"}, "created_at": {"$exists": True}}
    for p in await db[adapters.PROFILES].find({**match, **segment.filter()}).to_list():
        group = groups.setdefault(tuple(p["segment"].get(name) for name in by), [0, 0.0])
        group[0] += 1
        group[1] += p["segment"].get("monthly_freight_volume_tons") or 0
    return sorted(((key, n, round(tons, 6)) for key, (n, tons) in groups.items()), key=repr)


async def _forecast_by_hand(db, segment: Segment) -> list:
    opportunities = await db[adapters.OPPORTUNITIES].find({"closed": False}).to_list()
    profiles = {p["_id"]: p for p in await db[adapters.PROFILES].find().to_list()}
    chosen = segment.chosen()
    # Under the account's segment; an account without a profile has none, nor has one merged
    # into another (what is still filed under it counts in no segment).
    segments = {
        account: {} if p.get("merged_into") else p.get("segment") or {}
        for account, p in profiles.items()
    }
    opportunities = [
        o
        for o in opportunities
        if all(segments.get(o["account_id"], {}).get(n) == v for n, v in chosen.items())
    ]
    owners = {account: p.get("owner_id") for account, p in profiles.items()}
    return forecast(opportunities, await db[adapters.PROPOSALS].find().to_list(), owners)


async def _plan_by_hand(
    db, period: str, segment: Segment, group: str | None, by: str | None, chosen: forecasts.Chosen
) -> list:
    """The period forecast computed from the facts themselves, opportunity by opportunity and
    deal by deal."""
    months = months_of(period)
    profiles = {p["_id"]: p for p in await db[adapters.PROFILES].find().to_list()}

    def in_segment(account: str) -> bool:
        found = segment_of(profiles.get(account, {}))
        return all(found.get(name) == value for name, value in segment.chosen().items())

    team_of = {p["_id"]: p.get("team") for p in await db[adapters.SALESPEOPLE].find().to_list()}
    label = "salesperson_id" if group == "salesperson" else "team"

    def grouped(owner: str) -> str | None:
        if group is None:  # per line only: everyone's summed
            return None
        return owner if group == "salesperson" else team_of.get(owner)

    def counted(owner: str) -> bool:
        of_team = chosen.team is None or team_of.get(owner) == chosen.team
        return of_team and chosen.salesperson_id in (None, owner)

    price_of = latest_prices(await db[adapters.PROPOSALS].find().to_list())
    amounts: dict[tuple, Counter] = {}
    waiting: Counter = Counter()
    for o in await db[adapters.OPPORTUNITIES].find({"closed": False}).to_list():
        profile = profiles.get(o["account_id"], {})
        if not in_segment(o["account_id"]):
            continue
        owner = o.get("owner_id") or profile.get("owner_id") or "unassigned"
        if not counted(owner):
            continue
        owner = grouped(owner)
        month = plan.close_month(o)
        if month is None:
            waiting[owner] += 1
        if month not in months:
            continue
        value = plan.value_of(o, price_of)
        if by:
            for line, n in plan.lines_of_open(o, value):
                amounts.setdefault((owner, line[by]), Counter()).update(n)
            continue
        tons = sum(line.get("monthly_tons") or 0 for line in o.get("lines") or [])
        n = plan.open_amounts(o.get("win_probability") or 0.0, value, tons)
        amounts.setdefault((owner,), Counter()).update(n)
    for deal in await db[adapters.DEALS].find({"outcome": "won"}).to_list():
        profile = profiles.get(deal["account_id"], {})
        if month_of(deal["closed_at"]) not in months or not in_segment(deal["account_id"]):
            continue
        owner = deal.get("salesperson_id") or owner_of(profile) or "unassigned"
        if not counted(owner):
            continue
        owner = grouped(owner)
        if by:
            for line, n in plan.lines_of_won(deal):
                amounts.setdefault((owner, line[by]), Counter()).update(n)
            continue
        n = plan.won_amounts(
            deal.get("amount"), deal.get("currency"), deal.get("freight_tons") or 0
        )
        amounts.setdefault((owner,), Counter()).update(n)
    amounts = {key: +n for key, n in amounts.items()}
    if by:
        if group is None:
            amounts = {(key[1],): n for key, n in amounts.items()}
        labels = ([label] if group else []) + [by]
        return [
            {**dict(zip(labels, key, strict=True)), "period": period, **plan.line_row(n)}
            for key, n in sorted(amounts.items(), key=lambda item: repr(item[0]))
            if n
        ]
    quotas = await forecasts.quotas_of(Store(db.client, db.name), period, group)
    names = {key[0] for key, n in amounts.items() if n}
    if not segment.chosen():
        names |= {name for name in quotas if chosen.holds(group, name, team_of)}
    return [
        {
            label: name,
            "period": period,
            **plan.row(amounts.get((name,), Counter()), quotas.get(name or "")),
            "unscheduled_opportunities": waiting.get(name, 0),
        }
        for name in sorted(names, key=lambda name: (name is None, name or ""))
    ]


async def _funnel_by_hand(db, since: datetime, until: datetime, segment: Segment) -> dict:
    opened = await db[adapters.OPPORTUNITIES].find().to_list()
    opened = [o for o in opened if o.get("opened_at") and since <= o["opened_at"] < until]
    if segment.narrowed:
        chosen = {"merged_into": None, **segment.filter()}
        accounts = set(await db[adapters.PROFILES].distinct("_id", chosen))
        opened = [o for o in opened if o["account_id"] in accounts]
    return funnel(opened, STAGES, T0 + timedelta(hours=12))


async def _scorecard_by_hand(
    db, since: datetime, until: datetime, segment: Segment, dormant_after: timedelta
) -> list:
    chosen = {"merged_into": None, **segment.filter()}
    profiles = await db[adapters.PROFILES].find(chosen).to_list()
    accounts = {p["_id"] for p in profiles}

    async def in_period(collection: str, field: str, **also) -> list:
        facts = await db[collection].find(also).to_list()
        return [
            f
            for f in facts
            if f.get(field)
            and since <= f[field] < until
            and (not segment.narrowed or f["account_id"] in accounts)
        ]

    followups = await in_period(adapters.FOLLOWUPS, "at", revoked=False)
    last: dict[str, datetime] = {}
    for fact in await db[adapters.FOLLOWUPS].find({"revoked": False}).to_list():
        last[fact["account_id"]] = max(fact["at"], last.get(fact["account_id"], fact["at"]))
    return scorecard(
        [{**p, "last_followup_at": last.get(p["_id"])} for p in profiles],
        followups,
        await in_period(adapters.PROPOSALS, "created_at"),
        await in_period(adapters.DEALS, "closed_at"),
        since,
        until,
        dormant_after,
    )


async def test_the_counters_answer_as_the_read_models_counted_by_hand_do(client, namespace):
    """Every report from the counters (counted, dormancy recounted, counted from scratch), over
    periods, filters, times and thresholds, against the same computed from the read models
    customer by customer; histories with merges in any order (even in circles)."""
    seen: set[str] = set()
    counts = Counter[str]()
    for seed in (24, 25, 28, 29):
        found, made = await _counted_as_by_hand(client, f"{namespace}_counters_{seed}", seed)
        seen |= found
        counts.update(made)
    assert seen >= {"dormant", "churned", "client", "opportunity"}, seen  # the histories made them
    assert counts.keys() == {
        "forecasts",
        "opportunities",
        "cross-selling",
        "period forecasts",
    }, counts


async def _counting_of(store) -> dict[str, list]:
    """What the counting collections hold, in a form both ways of counting must end equal in:
    the counters' amounts that are not 0 (taken away again), spans without their ids."""
    found = {}
    for collection in (adapters.COUNTERS, adapters.COUNTED, adapters.CROSS_SPANS):
        documents = await counters.integers(store.db, collection).find().to_list()
        for document in documents:
            if collection == adapters.COUNTERS:
                document["n"] = {name: n for name, n in document["n"].items() if n}
            if collection == adapters.CROSS_SPANS:
                del document["_id"]
        kept = [d for d in documents if d.get("n") != {} and d.get("_id") != counters.COUNTED_ALL]
        found[collection] = sorted(kept, key=lambda d: json.dumps(d, sort_keys=True, default=str))
    return found


async def _counted_as_by_hand(client, name: str, seed: int) -> tuple[set[str], Counter[str]]:
    events = history(seed, steps=600)
    store, apply = await projecting(client, name)

    for start in range(0, len(events), 37):
        await store.run_batch(events[start : start + 37], apply)
    assert await counters.pending(store) > 0  # each batch noted what it changed
    await counters.count_all_noted(store)
    assert await counters.pending(store) == 0
    segments = [Segment(), Segment(region="east"), Segment(region="north"), Segment(tier="A")]
    times = [T0 + timedelta(hours=h) for h in (2, 5, 9)] + [datetime.now(UTC)]
    seen: set[str] = set()
    made = Counter[str]()
    for step in ("counted", "recounted", "counted from scratch", "counted at once"):
        if step == "recounted":
            await counters.recount_turned_dormant(store)
        if step == "counted from scratch":  # as read models kept before the counters are
            for collection in adapters.COUNTING:
                await store.db[collection].drop()
            accounts = set(await store.db[adapters.PROFILES].distinct("_id"))
            for collection in adapters.FACTS:  # and those of facts alone
                accounts |= set(await store.db[collection].distinct("account_id"))
            assert await counters.recount_all(store) == len(accounts)  # each once
            assert await counters.recount_all(store) == 0  # once per database
            await counters.count_all_noted(store)
            one_at_a_time = await _counting_of(store)
        if step == "counted at once":  # as a rebuild's fresh database is, and the bench's
            for collection in adapters.COUNTING:
                await store.db[collection].drop()
            await store.db[adapters.TO_COUNT].insert_one({"accounts": ["b-1"], "facts": {}})
            units = await at_once.count_at_once(store)
            assert await _counting_of(store) == one_at_a_time
            assert units == len(one_at_a_time[adapters.COUNTED]) > len(accounts)
            assert await counters.pending(store) == 0 and await counters.recount_all(store) == 0
            with pytest.raises(at_once.NotFresh):
                await at_once.count_at_once(store)
        for segment in segments:
            for by in (["tier", "region"], ["band"], ["region", "industry", "tier", "band"]):
                groups = await queries.value_groups(store, by, segment)
                found = sorted(
                    [
                        (
                            tuple(g["_id"].get(name) for name in by),
                            g["customers"],
                            round(g["freight_tons"], 6),
                        )
                        for g in groups
                    ],
                    key=repr,
                )
                assert found == await _value_by_hand(store.db, by, segment), (step, segment, by)
            if segment.tier:
                continue
            for since, until in PERIODS:
                for dormant_after in (timedelta(hours=1), timedelta(days=90)):
                    found = await queries.scorecard(store, since, until, segment, dormant_after)
                    expected = await _scorecard_by_hand(
                        store.db, since, until, segment, dormant_after
                    )
                    assert found == expected, (step, segment, since, until, dormant_after)
                    made["cross-selling"] += sum(r["cross_selling_customers"] for r in expected)
                amounts = await queries.funnel(store, since, until, segment)
                found = funnel_of(amounts, STAGES, T0 + timedelta(hours=12))
                expected = await _funnel_by_hand(store.db, since, until, segment)
                assert found == expected, (step, segment, since, until)
                made["opportunities"] += expected["opportunities"]
            found = await queries.forecast(store, segment)
            assert found == await _forecast_by_hand(store.db, segment), (step, segment)
            made["forecasts"] += len(found)
            for period, group, by, chosen in itertools.product(
                PLAN_PERIODS, (None, "salesperson", "team"), (None, "mode", "origin"), CHOSEN
            ):
                if by and segment.narrowed:  # per line, the forecast is not filtered
                    continue
                if by:
                    found = await forecasts.line_forecast(store, period, by, group, chosen)
                elif group:
                    found = await forecasts.period_forecast(store, period, segment, group, chosen)
                else:
                    continue
                expected = await _plan_by_hand(store.db, period, segment, group, by, chosen)
                assert found == expected, (step, segment, period, group, by, chosen)
                made["period forecasts"] += sum(1 for row in found if row.get("attainment"))
            for now in times:
                for dormant_after in (timedelta(hours=1), timedelta(hours=3), timedelta(days=90)):
                    counts = await queries.lifecycles(store, segment, now, dormant_after)
                    expected = await _by_hand(store.db, segment, now, dormant_after)
                    assert churn_by_month(counts) == expected, (step, segment, now, dormant_after)
                    seen |= set(expected["by_lifecycle"])
    await client.drop_database(store.db.name)
    return seen, +made
