"""Users, login and the token check, on a running customer service."""

import uuid

import pytest
from crm_customer.bootstrap import CustomerSettings, bootstrap

ADMIN_PASSWORD = uuid.uuid4().hex


@pytest.fixture
async def service(settings_for, running):
    settings = settings_for(
        CustomerSettings,
        admin_username="first-admin",
        admin_password=ADMIN_PASSWORD,
        login_max_failures=3,
    )
    return await running(bootstrap(settings))


async def test_the_first_admin_from_settings_logs_in_and_gets_a_token_that_works(service, http):
    async with http(service, role=None) as anonymous:
        login = await anonymous.post(
            "/auth/login", json={"username": "first-admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200
        token = login.json()["access_token"]
        users = await anonymous.get("/users", headers={"Authorization": f"Bearer {token}"})
    assert users.status_code == 200
    assert "password_hash" not in users.text and ADMIN_PASSWORD not in users.text


async def test_without_a_token_every_endpoint_is_a_401(service, http):
    async with http(service, role=None) as anonymous:
        answers = [
            await anonymous.get("/customers"),
            await anonymous.post("/customers", json={"name": "X"}),
            await anonymous.get("/salespeople"),
            await anonymous.get(
                "/customers", headers={"Authorization": "Bearer forged.token.here"}
            ),
        ]
    assert [answer.status_code for answer in answers] == [401, 401, 401, 401]
    assert answers[0].headers["WWW-Authenticate"] == "Bearer"


async def test_a_salesperson_sees_and_changes_only_their_own_customers(service, http):
    region = f"access-{uuid.uuid4().hex[:6]}"
    async with http(service) as manager:
        for salesperson_id in (f"{region}-a", f"{region}-b"):
            await manager.post(
                "/salespeople",
                json={
                    "salesperson_id": salesperson_id,
                    "name": salesperson_id,
                    "regions": [region],
                    "capacity": 1,
                    "seniority": 2,
                },
            )
        first = (await manager.post("/customers", json={"name": "First", "region": region})).json()
        second = (
            await manager.post("/customers", json={"name": "Second", "region": region})
        ).json()
    owners = {first["assignment"]["owner_id"], second["assignment"]["owner_id"]}
    assert owners == {f"{region}-a", f"{region}-b"}, "capacity 1 each: one customer each"
    mine = first["customer"]["id"]
    theirs = second["customer"]["id"]
    me = first["assignment"]["owner_id"]

    async with http(service, role="salesperson", salesperson_id=me) as salesperson:
        own = await salesperson.get(f"/customers/{mine}")
        other = await salesperson.get(f"/customers/{theirs}")
        other_update = await salesperson.patch(
            f"/customers/{theirs}", json={"address": "x", "version": 1}
        )
        listed = (
            await salesperson.get(
                "/customers", params={"region": region, "owner_id": "someone-else"}
            )
        ).json()
        reassign = await salesperson.post(
            f"/customers/{mine}/assignment", json={"salesperson_id": me, "reason": "x"}
        )
    assert own.status_code == 200
    assert other.status_code == 403 and other_update.status_code == 403
    assert [c["id"] for c in listed["items"]] == [mine]
    assert reassign.status_code == 403


async def test_ops_may_not_touch_customer_records(service, http):
    async with http(service, role="ops") as ops:
        assert (await ops.get("/customers")).status_code == 403


async def test_failed_logins_are_throttled_and_tell_when_to_retry(service, http):
    async with http(service) as admin:
        created = await admin.post(
            "/users",
            json={"username": "throttled", "password": "a-long-password-1", "role": "manager"},
        )
        assert created.status_code == 201
    async with http(service, role=None) as anonymous:
        wrong = [
            await anonymous.post("/auth/login", json={"username": "throttled", "password": "nope"})
            for _ in range(3)
        ]
        locked = await anonymous.post(
            "/auth/login", json={"username": "throttled", "password": "a-long-password-1"}
        )
        unknown = await anonymous.post(
            "/auth/login", json={"username": "nobody", "password": "nope"}
        )
    assert [answer.status_code for answer in wrong] == [401, 401, 401]
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert unknown.status_code == 401 and unknown.json() == wrong[0].json()


async def test_a_weak_password_is_refused_and_not_echoed(service, http):
    async with http(service) as admin:
        refused = await admin.post(
            "/users", json={"username": "weak", "password": "tiny-pw", "role": "ops"}
        )
    assert refused.status_code == 422 and "tiny-pw" not in refused.text
