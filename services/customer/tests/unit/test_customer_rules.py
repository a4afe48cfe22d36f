from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from crm_contracts import FinancialStatement
from crm_customer.domain.customers import REQUIRED_FIELDS, CustomerChange, changes, completeness
from crm_customer.domain.financials import problem, ratios
from crm_customer.domain.users import (
    Throttle,
    access_changed,
    hash_password,
    password_matches,
    stops_being_an_admin,
)
from crm_runtime.auth import InvalidToken, Principal, Role, issue_token, read_token

NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)


def statement(year: int, **figures) -> FinancialStatement:
    return FinancialStatement(year=year, **{k: Decimal(str(v)) for k, v in figures.items()})


def test_the_five_ratios_come_from_one_years_statement():
    (r,) = ratios(
        [
            statement(
                2025,
                current_assets=150,
                current_liabilities=100,
                total_assets=400,
                total_liabilities=240,
                revenue=1000,
                net_profit=45,
                accounts_receivable=125,
                operating_cash_flow=-30,
            )
        ]
    )
    assert (
        r.current_ratio,
        r.debt_to_asset_ratio,
        r.sales_profit_margin,
        r.receivables_turnover,
    ) == (1.5, 0.6, 0.045, 8.0)
    assert r.operating_cash_flow == Decimal("-30")


def test_receivables_turnover_uses_the_average_with_the_previous_year():
    _, latest = ratios(
        [
            statement(2025, revenue=1200, accounts_receivable=100),
            statement(2024, revenue=900, accounts_receivable=200),
        ]
    )
    assert latest.year == 2025 and latest.receivables_turnover == 8.0  # 1200 / ((100 + 200) / 2)


def test_a_missing_or_zero_figure_gives_no_ratio_rather_than_a_wrong_one():
    (r,) = ratios([statement(2025, current_assets=10, current_liabilities=0, revenue=100)])
    assert (
        r.current_ratio is None and r.debt_to_asset_ratio is None and r.sales_profit_margin is None
    )


@pytest.mark.parametrize(
    ("years", "reason"),
    [([2024, 2024], "one statement per year"), ([2020, 2024], "at most three consecutive years")],
)
def test_statements_are_one_per_year_within_three_years(years, reason):
    assert reason in problem([statement(year) for year in years])


def test_completeness_counts_required_and_useful_fields_separately():
    document = {"name": "Acme", "industry": "retail", "region": "east", "phone": "021-1234567"}
    result = completeness(document, contact_count=1)
    assert result["required"] == {
        "filled": 3,
        "of": 7,
        "missing": ["credit_code", "address", "size", "nature"],
    }
    assert result["useful"]["filled"] == 2 and "contacts" not in result["useful"]["missing"]
    assert result["complete"] is False


def test_a_customer_with_every_required_field_is_complete():
    document = dict.fromkeys(REQUIRED_FIELDS, "x")
    assert completeness(document, contact_count=0)["complete"] is True


def test_an_update_changes_only_what_it_sends_and_what_differs():
    document = {"name": "Acme", "region": "east", "website": "acme.com"}
    change = CustomerChange(name="Acme", region="west", website=None)
    assert changes(document, change) == {"region": "west", "website": None}


def test_a_password_is_stored_hashed_and_checked():
    stored = hash_password("correct horse battery")
    assert "correct" not in stored
    assert password_matches(stored, "correct horse battery")
    assert not password_matches(stored, "wrong")
    assert not password_matches(None, "anything")


def test_a_locked_name_is_told_when_to_retry_and_an_expired_lock_is_none():
    throttle = Throttle()
    assert throttle.retry_after_s({"locked_until": NOW + timedelta(seconds=90)}, NOW) == 91
    assert throttle.retry_after_s({"locked_until": NOW - timedelta(seconds=1)}, NOW) is None
    assert throttle.retry_after_s({"failures": 2, "locked_until": None}, NOW) is None
    assert throttle.retry_after_s(None, NOW) is None


@pytest.mark.parametrize(
    ("change", "ends_tokens"),
    [
        ({"active": False}, True),
        ({"role": "ops"}, True),
        ({"salesperson_id": "sp-2"}, True),
        ({"role": "manager"}, False),
        ({"password_hash": "new"}, False),
    ],
)
def test_only_a_change_of_what_the_user_may_do_ends_their_tokens(change, ends_tokens):
    user = {"active": True, "role": "manager", "salesperson_id": None, "password_hash": "old"}
    assert access_changed(user, {**user, **change}) is ends_tokens


def test_an_active_admin_stops_being_one_when_deactivated_or_demoted():
    admin = {"role": "admin", "active": True}
    assert stops_being_an_admin(admin, {**admin, "active": False})
    assert stops_being_an_admin(admin, {**admin, "role": "manager"})
    assert not stops_being_an_admin(admin, admin)
    assert not stops_being_an_admin({**admin, "active": False}, {**admin, "role": "manager"})


def test_a_token_carries_the_role_and_whose_customers():
    token = issue_token(Principal("u-1", Role.SALESPERSON, "sp-1"), "s" * 32, ttl_s=60)
    assert read_token(token, "s" * 32) == Principal("u-1", Role.SALESPERSON, "sp-1")


@pytest.mark.parametrize("tamper", ["other secret", "expired"])
def test_a_token_signed_elsewhere_or_expired_is_refused(tamper):
    issued_at = NOW - timedelta(hours=1) if tamper == "expired" else datetime.now(UTC)
    token = issue_token(Principal("u-1", Role.ADMIN), "s" * 32, ttl_s=60, now=issued_at)
    with pytest.raises(InvalidToken):
        read_token(token, "t" * 32 if tamper == "other secret" else "s" * 32)


def test_only_managers_and_admins_see_every_customer():
    assert Principal("u", Role.MANAGER).may_see("sp-9")
    assert Principal("u", Role.SALESPERSON, "sp-1").may_see("sp-1")
    assert not Principal("u", Role.SALESPERSON, "sp-1").may_see("sp-9")
    assert not Principal("u", Role.SALESPERSON, "sp-1").may_see(None)
    assert not Principal("u", Role.OPS).may_see("sp-1")
