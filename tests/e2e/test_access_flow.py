"""Issue 9: a user's tokens stop working in every service within seconds of their access changing
(deactivated, another role), without any service asking the customer service."""

import uuid


def test_deactivating_a_user_revokes_their_tokens_in_every_service(admin, log_in, until_equal):
    password = uuid.uuid4().hex
    name = f"ops-{uuid.uuid4().hex[:6]}"
    user = admin.post("customer", "/users", {"username": name, "password": password, "role": "ops"})
    assert user.status_code == 201, user.text
    ops = log_in(name, password)
    # One read each service lets ops do, so that only the token decides the answer.
    reads = {
        "customer": "/customers?limit=1",
        "followup": "/pipeline",
        "scoring": "/customers/none/features",
        "reporting": "/reports/lifecycle",
    }

    def answers():
        return {service: ops.get(service, path).status_code for service, path in reads.items()}

    before = answers()
    assert 401 not in before.values(), before

    changed = admin.call("PATCH", "customer", f"/users/{user.json()['id']}", json={"active": False})
    assert changed.status_code == 200, changed.text
    until_equal(answers, dict.fromkeys(reads, 401), timeout_s=30, what="the token revoked")
