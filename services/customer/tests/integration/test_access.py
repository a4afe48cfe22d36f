"""Users, login and the token check, on a running customer service."""

import asyncio
import json
import time
import uuid

import pytest
from crm_contracts.topics import USER_EVENTS
from crm_customer.bootstrap import bootstrap
from crm_customer.settings import CustomerSettings

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


async def make_user(http, service, role: str = "manager", **fields) -> tuple[str, str, str]:
    """A new user: (id, username, password)."""
    username, password = f"{role}-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    async with http(service) as admin:
        created = await admin.post(
            "/users", json={"username": username, "password": password, "role": role, **fields}
        )
    assert created.status_code == 201, created.text
    return created.json()["id"], username, password


async def log_in(http, service, username: str, password: str) -> dict:
    async with http(service, role=None) as anonymous:
        answer = await anonymous.post(
            "/auth/login", json={"username": username, "password": password}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_fifty_wrong_passwords_at_once_all_count_and_lock_the_name(
    settings_for, running, http
):
    # Locked at the 50th failure: only a count that loses none of the 50 gets there.
    settings = settings_for(
        CustomerSettings, service_name=f"customer-{uuid.uuid4().hex[:6]}", login_max_failures=50
    )
    service = await running(bootstrap(settings))
    _, username, password = await make_user(http, service)
    async with http(service, role=None) as anonymous:
        wrong = await asyncio.gather(
            *(
                anonymous.post("/auth/login", json={"username": username, "password": "nope"})
                for _ in range(50)
            )
        )
        right = await anonymous.post(
            "/auth/login", json={"username": username, "password": password}
        )
    assert {answer.status_code for answer in wrong} <= {401, 429}
    assert right.status_code == 429, "50 failures lock the name, however fast they come"


async def until_refused(client, path: str, timeout_s: float = 15.0) -> float:
    """Seconds until `path` answers 401 to the client's token."""
    started = time.monotonic()
    while (answer := await client.get(path)).status_code != 401:
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < timeout_s, f"the token still works after {timeout_s} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_a_deactivated_users_token_stops_working_within_seconds(service, http, kafka):
    user_id, username, password = await make_user(http, service)
    token = (await log_in(http, service, username, password))["access_token"]
    async with http(service) as admin:
        changed = await admin.patch(f"/users/{user_id}", json={"active": False})
    assert changed.status_code == 200 and changed.json()["access_version"] == 2
    async with http(service, role=None) as user:
        user.headers["Authorization"] = f"Bearer {token}"
        await until_refused(user, "/customers")
    (event,) = await kafka.read(USER_EVENTS, kafka.where(customer_id=user_id))
    assert json.loads(event.value)["payload"] == {
        "user_id": user_id,
        "access_version": 2,
        "active": False,
        "role": "manager",
        "salesperson_id": None,
    }


async def test_after_a_role_change_the_old_token_stops_and_a_new_login_has_the_new_role(
    service, http
):
    user_id, username, password = await make_user(http, service)
    old = (await log_in(http, service, username, password))["access_token"]
    async with http(service) as admin:
        unchanged = await admin.patch(f"/users/{user_id}", json={"role": "manager"})
        changed = await admin.patch(f"/users/{user_id}", json={"role": "ops"})
    assert unchanged.json()["access_version"] == 1, "no change of access, no new version"
    assert changed.json()["access_version"] == 2
    async with http(service, role=None) as user:
        user.headers["Authorization"] = f"Bearer {old}"
        await until_refused(user, "/customers")
    fresh = await log_in(http, service, username, password)
    async with http(service, role=None) as user:
        user.headers["Authorization"] = f"Bearer {fresh['access_token']}"
        as_ops = await user.get("/customers")
    assert fresh["role"] == "ops" and as_ops.status_code == 403


async def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(
    settings_for, running, http
):
    # A database of its own: other tests' admins would not leave this one the last.
    settings = settings_for(
        CustomerSettings,
        service_name=f"customer-{uuid.uuid4().hex[:6]}",
        admin_username="only-admin",
        admin_password=ADMIN_PASSWORD,
    )
    service = await running(bootstrap(settings))
    async with http(service) as admin:
        (only,) = [user for user in (await admin.get("/users")).json() if user["role"] == "admin"]
        deactivated = await admin.patch(f"/users/{only['id']}", json={"active": False})
        demoted = await admin.patch(f"/users/{only['id']}", json={"role": "manager"})
        second_id, _, _ = await make_user(http, service, role="admin")
        once_another_exists = await admin.patch(f"/users/{only['id']}", json={"role": "manager"})
        last_again = await admin.patch(f"/users/{second_id}", json={"active": False})
    assert deactivated.status_code == 409 and "last active admin" in deactivated.text
    assert demoted.status_code == 409
    assert once_another_exists.status_code == 200
    assert last_again.status_code == 409


async def test_a_user_change_refuses_null_where_a_user_cannot_lack_it(service, http):
    user_id, _, _ = await make_user(http, service)
    async with http(service) as admin:
        refused = await admin.patch(f"/users/{user_id}", json={"role": None, "active": None})
        shown = [user for user in (await admin.get("/users")).json() if user["id"] == user_id]
    assert refused.status_code == 422
    assert {tuple(error["loc"]) for error in refused.json()["detail"]} == {
        ("body", "role"),
        ("body", "active"),
    }
    assert shown[0]["role"] == "manager" and shown[0]["active"] is True


async def test_a_new_password_ends_the_sessions_of_the_old_one(service, http):
    user_id, username, password = await make_user(http, service)
    old = (await log_in(http, service, username, password))["access_token"]
    new_password = uuid.uuid4().hex
    async with http(service) as admin:
        reset = await admin.patch(f"/users/{user_id}", json={"password": new_password})
    assert reset.status_code == 200 and reset.json()["access_version"] == 2
    async with http(service, role=None) as user:
        user.headers["Authorization"] = f"Bearer {old}"
        await until_refused(user, "/customers")
    assert (await log_in(http, service, username, new_password))["access_token"]
