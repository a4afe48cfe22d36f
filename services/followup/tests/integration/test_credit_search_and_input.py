"""Over HTTP on real mongod: whom work is credited to, searching page by page, and input that
must be refused (422) rather than fail (500)."""

import base64
import json

import pytest

WON = {"outcome": "won", "amount": "1000.00", "currency": "CNY"}


async def test_a_salesperson_cannot_credit_a_followup_to_someone_else(
    service, known_customer, visit, http
):
    customer_id = await known_customer("sp-1")
    own = visit(customer_id)
    del own["salesperson_id"]
    async with http(service, role="salesperson", salesperson_id="sp-1") as salesperson:
        someone_else = await salesperson.post(
            "/followups", json=visit(customer_id, salesperson_id="sp-2")
        )
        left_out = await salesperson.post("/followups", json=own)
    async with http(service, role="manager") as manager:
        by_manager = await manager.post(
            "/followups", json=visit(customer_id, salesperson_id="sp-2")
        )
    assert someone_else.status_code == 403 and "credit only themselves" in someone_else.text
    assert left_out.status_code == 201 and left_out.json()["salesperson_id"] == "sp-1"
    assert by_manager.status_code == 201 and by_manager.json()["salesperson_id"] == "sp-2"


async def test_a_salesperson_cannot_change_a_followup_credited_to_someone_else(
    service, known_customer, visit, http
):
    customer_id = await known_customer("sp-1")
    async with http(service, role="manager") as manager:
        logged = await manager.post("/followups", json=visit(customer_id, salesperson_id="sp-2"))
    followup_id = logged.json()["id"]
    async with http(service, role="salesperson", salesperson_id="sp-1") as salesperson:
        changed = await salesperson.patch(
            f"/followups/{followup_id}", json={"outcome": "mine now", "version": 1}
        )
        revoked = await salesperson.post(f"/followups/{followup_id}/revoke", json={"reason": "x"})
    assert (changed.status_code, revoked.status_code) == (403, 403)


async def test_a_salesperson_cannot_credit_a_deal_to_someone_else(service, known_customer, http):
    customer_id = await known_customer("sp-1")
    async with http(service, role="salesperson", salesperson_id="sp-1") as salesperson:
        someone_else = await salesperson.post(
            "/deals", json={"customer_id": customer_id, "salesperson_id": "sp-2", **WON}
        )
        left_out = await salesperson.post("/deals", json={"customer_id": customer_id, **WON})
    other_customer = await known_customer("sp-1")
    async with http(service, role="manager") as manager:
        by_manager = await manager.post(
            "/deals", json={"customer_id": other_customer, "salesperson_id": "sp-2", **WON}
        )
    assert someone_else.status_code == 403 and "credit only themselves" in someone_else.text
    assert left_out.status_code == 201 and left_out.json()["salesperson_id"] == "sp-1"
    assert by_manager.status_code == 201 and by_manager.json()["salesperson_id"] == "sp-2"


async def test_a_text_search_keeps_its_filter_on_every_page(service, known_customer, visit, http):
    customer_id = await known_customer()
    async with http(service) as client:
        for day in range(10, 16):  # tender on even days, other subjects in between
            subject = "tender talk" if day % 2 == 0 else "small talk"
            await client.post(
                "/followups",
                json=visit(
                    customer_id,
                    subject=subject,
                    outcome=None,
                    started_at=f"2026-11-{day}T09:00:00Z",
                    ended_at=f"2026-11-{day}T10:00:00Z",
                ),
            )
        subjects, cursor = [], None
        for _ in range(4):
            params = {"customer_id": customer_id, "q": "TENDER", "limit": 2}
            page = (await client.get("/followups", params={**params, "cursor": cursor})).json()
            subjects += [item["subject"] for item in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
    assert subjects == ["tender talk"] * 3


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor([{"$gt": ""}, {"$ne": None}]),
        _cursor([{"$dt": "2026-11-27T09:00:00+00:00"}, {"$where": "sleep(1000)"}]),
        _cursor(["2026-11-27", "x", "one too many"]),
        "not base64 at all!",
        base64.urlsafe_b64encode(b"{not json").decode(),
    ],
    ids=["operators", "operator-after-a-date", "another-sort", "garbled", "not-json"],
)
async def test_a_forged_or_garbled_cursor_is_refused_never_a_server_error(service, http, cursor):
    async with http(service) as client:
        answer = await client.get("/followups", params={"cursor": cursor, "q": "tender"})
    assert answer.status_code == 422 and "invalid cursor" in answer.text


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
@pytest.mark.parametrize("name", ["since", "until"])
async def test_a_date_filter_out_of_range_is_refused_with_the_reason(service, http, name, moment):
    async with http(service) as client:
        answer = await client.get("/followups", params={name: moment})
    assert answer.status_code == 422, answer.text
    assert name in answer.text and "out of range" in answer.text


async def test_a_followup_time_with_no_utc_instant_is_refused_not_a_server_error(
    service, known_customer, visit, http
):
    customer_id = await known_customer()
    async with http(service) as client:
        logged = await client.post(
            "/followups", json=visit(customer_id, started_at="0001-01-01T00:00:00+01:00")
        )
    assert logged.status_code == 422 and "started_at" in logged.text


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/deals", '{{"customer_id": "c-x", "outcome": "won", "currency": "CNY", "amount": {n}}}'),
        (
            "/deals",
            '{{"customer_id": "c-x", "outcome": "won", "currency": "CNY", '
            '"amount": "1.00", "monthly_freight_volume_tons": {n}}}',
        ),
        (
            "/proposals",
            '{{"customer_id": "c-x", "needs": ["a lane"], "solution": "trucks", "price": {n}}}',
        ),
        ("/proposals/p-x/revisions", '{{"price": {n}, "note": "cheaper"}}'),
    ],
    ids=["deal-amount", "freight-volume", "proposal-price", "revised-price"],
)
async def test_infinity_or_nan_in_an_amount_volume_or_price_is_refused(
    service, http, path, body, number
):
    async with http(service) as client:
        answer = await client.post(
            path, content=body.format(n=number), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 422, answer.text
    assert "finite number" in answer.text


@pytest.mark.parametrize("field", ["channel", "subject", "started_at", "ended_at"])
async def test_a_change_cannot_null_a_field_a_followup_cannot_be_without(
    service, known_customer, visit, http, field
):
    customer_id = await known_customer()
    async with http(service) as client:
        logged = (await client.post("/followups", json=visit(customer_id))).json()
        cleared = await client.patch(
            f"/followups/{logged['id']}", json={field: None}, headers={"If-Match": '"1"'}
        )
        cleared_outcome = await client.patch(
            f"/followups/{logged['id']}", json={"outcome": None}, headers={"If-Match": '"1"'}
        )
    assert cleared.status_code == 422 and f"{field} may not be null" in cleared.text
    assert cleared_outcome.status_code == 200 and cleared_outcome.json()["outcome"] is None
