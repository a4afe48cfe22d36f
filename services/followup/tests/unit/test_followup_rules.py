"""Logging a follow-up and changing it. Pure: no I/O."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from crm_contracts import Channel, SiteObservations, VisitLoggedPayload
from crm_followup.domain.followups import FollowupChange, LogFollowup, changed, new_followup
from pydantic import ValidationError

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
END = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)

CALL = {
    "customer_id": "c-1",
    "salesperson_id": "sp-1",
    "channel": "call",
    "subject": "quarterly volumes",
    "started_at": START,
    "ended_at": END,
}
VISIT = {**CALL, "channel": "visit", "subject": "site tour"}
SITE = {"production": "busy", "orderliness": "good", "owner_plans": "a second warehouse next year"}


def logged(**facts) -> VisitLoggedPayload:
    return new_followup(LogFollowup(**{**VISIT, **facts}), "sp-1")


# --- logging a follow-up -----------------------------------------------------------------------


def test_a_follow_up_with_its_facts_is_accepted():
    command = LogFollowup(
        **CALL,
        outcome="agreed to a trial shipment",
        stage="proposal",
        contact_ids=["ct-1", "ct-2"],
        next_step="send the rate card",
        next_step_due=date(2026, 12, 1),
    )
    assert command.channel is Channel.CALL
    assert (command.started_at, command.ended_at) == (START, END)
    assert command.contact_ids == ["ct-1", "ct-2"]
    assert command.next_step_due == date(2026, 12, 1)


def test_a_follow_up_has_no_contacts_unless_given():
    assert LogFollowup(**CALL).contact_ids == []


def test_a_follow_up_ending_before_it_starts_is_refused():
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        LogFollowup(**{**CALL, "ended_at": START - timedelta(minutes=1)})


def test_a_follow_up_ending_the_moment_it_starts_is_accepted():
    assert LogFollowup(**{**CALL, "ended_at": START}).ended_at == START


def test_start_and_end_are_compared_as_instants_across_time_zones():
    # 17:30 in Shanghai is 09:30 UTC: after a 09:00 UTC start, though the clock reads earlier
    # than 10:30.
    command = LogFollowup(**{**CALL, "ended_at": datetime(2026, 11, 27, 17, 30, tzinfo=SHANGHAI)})
    assert command.ended_at - command.started_at == timedelta(minutes=30)
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        LogFollowup(**{**CALL, "ended_at": datetime(2026, 11, 27, 16, 30, tzinfo=SHANGHAI)})


@pytest.mark.parametrize("field", ["started_at", "ended_at"])
def test_a_time_without_a_time_zone_is_refused(field):
    with pytest.raises(ValidationError, match="timezone") as refused:
        LogFollowup(**{**CALL, field: "2026-11-27T09:45:00"})
    assert field in str(refused.value)


@pytest.mark.parametrize("channel", ["carrier pigeon", "Visit", "phone", ""])
def test_an_unknown_channel_is_refused(channel):
    with pytest.raises(ValidationError, match="channel"):
        LogFollowup(**{**CALL, "channel": channel})


@pytest.mark.parametrize("channel", list(Channel))
def test_every_channel_of_the_vocabulary_is_accepted(channel):
    assert LogFollowup(**{**CALL, "channel": channel.value}).channel is channel


def test_a_next_step_due_date_without_a_next_step_is_refused():
    with pytest.raises(ValidationError, match="next_step_due without a next_step"):
        LogFollowup(**CALL, next_step_due=date(2026, 12, 1))


def test_a_next_step_due_before_the_follow_up_started_is_refused():
    with pytest.raises(ValidationError, match="next_step_due is before the follow-up started"):
        LogFollowup(**CALL, next_step="send the rate card", next_step_due=date(2026, 11, 26))


def test_a_next_step_due_the_day_the_follow_up_started_is_accepted():
    command = LogFollowup(**CALL, next_step="send the rate card", next_step_due=date(2026, 11, 27))
    assert command.next_step_due == date(2026, 11, 27)


def test_a_next_step_is_dated_from_the_day_where_the_follow_up_started():
    # 01:00 on the 27th in Shanghai is still the 26th in UTC: the local day counts.
    early = {
        **CALL,
        "started_at": datetime(2026, 11, 27, 1, 0, tzinfo=SHANGHAI),
        "ended_at": datetime(2026, 11, 27, 2, 0, tzinfo=SHANGHAI),
        "next_step": "call back",
    }
    assert LogFollowup(**early, next_step_due=date(2026, 11, 27)).next_step_due == date(
        2026, 11, 27
    )
    with pytest.raises(ValidationError, match="next_step_due is before the follow-up started"):
        LogFollowup(**early, next_step_due=date(2026, 11, 26))


def test_a_next_step_without_a_due_date_is_accepted():
    command = LogFollowup(**CALL, next_step="send the rate card")
    assert command.next_step == "send the rate card" and command.next_step_due is None


@pytest.mark.parametrize("channel", [c.value for c in Channel if c is not Channel.VISIT])
def test_site_observations_are_refused_on_anything_but_a_visit(channel):
    with pytest.raises(ValidationError, match="site observations belong to a visit"):
        LogFollowup(**{**CALL, "channel": channel}, site=SITE)


def test_site_observations_on_a_call_are_refused():
    with pytest.raises(ValidationError, match="site observations belong to a visit"):
        LogFollowup(**CALL, site=SITE)


def test_site_observations_on_a_visit_are_accepted():
    command = LogFollowup(**VISIT, site=SITE)
    assert command.site == SiteObservations(**SITE)
    assert command.site.production == "busy"


@pytest.mark.parametrize(
    ("site", "field"),
    [
        ({"production": "frantic"}, "production"),
        ({"orderliness": "excellent"}, "orderliness"),
        ({"owner_plans": "x" * 4001}, "owner_plans"),
    ],
)
def test_site_observations_use_their_own_vocabulary(site, field):
    with pytest.raises(ValidationError, match=field):
        LogFollowup(**VISIT, site=site)


@pytest.mark.parametrize("field", ["followup_id", "location", "customer_name", "version"])
def test_an_unknown_field_is_refused(field):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        LogFollowup(**CALL, **{field: "x"})


@pytest.mark.parametrize("missing", ["customer_id", "channel", "subject", "started_at", "ended_at"])
def test_a_follow_up_without_one_of_its_required_facts_is_refused(missing):
    with pytest.raises(ValidationError, match=missing):
        LogFollowup(**{k: v for k, v in CALL.items() if k != missing})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_id", "c 1"),
        ("subject", ""),
        ("subject", "x" * 501),
        ("outcome", "x" * 2001),
        ("contact_ids", [f"ct-{i}" for i in range(51)]),
        ("contact_ids", [""]),
    ],
)
def test_a_follow_up_with_a_malformed_fact_is_refused(field, value):
    with pytest.raises(ValidationError, match=field):
        LogFollowup(**{**CALL, field: value})


def test_a_follow_up_may_leave_out_whom_it_is_credited_to():
    # The handler credits the caller; whether the caller may credit someone else is its check.
    command = LogFollowup(**{k: v for k, v in CALL.items() if k != "salesperson_id"})
    assert command.salesperson_id is None
    assert new_followup(command, "sp-7").salesperson_id == "sp-7"


def test_a_new_follow_up_is_credited_to_whom_the_handler_says():
    assert new_followup(LogFollowup(**CALL), "sp-2").salesperson_id == "sp-2"


@pytest.mark.parametrize("field", ["started_at", "ended_at"])
def test_a_time_with_no_instant_in_utc_is_refused_not_stored(field):
    # 0001-01-01 00:00 at +01:00 is before the first instant a UTC datetime can hold.
    times = {"started_at": START, "ended_at": END, field: "0001-01-01T00:00:00+01:00"}
    with pytest.raises(ValidationError, match="out of range"):
        LogFollowup(**{**CALL, **times})
    with pytest.raises(ValidationError, match="out of range"):
        FollowupChange(**{field: "0001-01-01T00:00:00+01:00"})


@pytest.mark.parametrize("field", ["channel", "subject", "started_at", "ended_at", "version"])
def test_a_change_may_not_clear_a_field_a_follow_up_cannot_be_without(field):
    with pytest.raises(ValidationError, match=f"{field} may not be null"):
        FollowupChange.model_validate({field: None})


@pytest.mark.parametrize(
    "field", ["outcome", "stage", "contact_ids", "next_step", "next_step_due", "site"]
)
def test_a_change_may_clear_an_optional_field(field):
    assert field in FollowupChange.model_validate({field: None}).model_fields_set


def test_a_logged_follow_up_cannot_be_altered():
    command = LogFollowup(**CALL)
    with pytest.raises(ValidationError, match="frozen"):
        command.subject = "another"  # type: ignore[misc]


# --- a new follow-up ---------------------------------------------------------------------------


def test_a_new_follow_up_gets_a_fresh_id_each_time():
    command = LogFollowup(**VISIT)
    ids = {new_followup(command, "sp-1").followup_id for _ in range(20)}
    assert len(ids) == 20
    assert all(str(uuid.UUID(followup_id)) == followup_id for followup_id in ids)


def test_a_new_follow_up_keeps_the_facts_of_its_command():
    command = LogFollowup(
        **VISIT,
        outcome="saw the loading docks",
        stage="needs_analysed",
        contact_ids=["ct-1"],
        next_step="quote",
        next_step_due=date(2026, 12, 3),
        site=SITE,
    )
    payload = new_followup(command, "sp-1")
    assert isinstance(payload, VisitLoggedPayload)
    assert payload.model_dump(exclude={"followup_id"}) == command.model_dump(
        exclude={"customer_id"}
    )


def test_a_new_follow_up_leaves_the_customer_to_the_envelope():
    assert "customer_id" not in new_followup(LogFollowup(**VISIT), "sp-1").model_dump()


# --- changing a follow-up ----------------------------------------------------------------------


def test_a_change_names_only_what_changed_and_keeps_the_rest():
    current = logged(outcome="saw the docks")
    after, names = changed(current, FollowupChange(subject="warehouse tour"))
    assert names == ["subject"]
    assert after.subject == "warehouse tour"
    assert after.model_dump(exclude={"subject"}) == current.model_dump(exclude={"subject"})


def test_a_change_keeps_the_follow_up_id():
    current = logged()
    after, _ = changed(current, FollowupChange(subject="warehouse tour"))
    assert after.followup_id == current.followup_id


def test_a_change_to_the_current_values_changes_nothing():
    current = logged(outcome="saw the docks", contact_ids=["ct-1"])
    after, names = changed(
        current,
        FollowupChange(
            subject=current.subject,
            outcome="saw the docks",
            contact_ids=["ct-1"],
            channel=Channel.VISIT,
            started_at=current.started_at,
            ended_at=current.ended_at,
        ),
    )
    assert names == []
    assert after == current


def test_only_the_fields_that_really_change_are_named_in_order():
    current = logged(outcome="saw the docks")
    after, names = changed(
        current,
        FollowupChange(
            subject=current.subject,
            outcome="saw the docks and the yard",
            stage="proposal",
            contact_ids=["ct-9"],
        ),
    )
    assert names == ["contact_ids", "outcome", "stage"]
    assert (after.outcome, after.stage, after.contact_ids) == (
        "saw the docks and the yard",
        "proposal",
        ["ct-9"],
    )


def test_an_empty_change_changes_nothing():
    current = logged()
    after, names = changed(current, FollowupChange())
    assert names == [] and after == current


def test_the_version_is_never_a_change():
    current = logged()
    after, names = changed(current, FollowupChange(version=3))
    assert names == [] and after == current


def test_the_version_is_left_out_of_the_changes_named():
    _, names = changed(logged(), FollowupChange(subject="warehouse tour", version=7))
    assert names == ["subject"]


def test_clearing_an_optional_field_is_a_change():
    current = logged(outcome="saw the docks", stage="proposal")
    after, names = changed(current, FollowupChange(outcome=None))
    assert names == ["outcome"]
    assert after.outcome is None and after.stage == "proposal"


def test_clearing_a_field_that_is_already_empty_changes_nothing():
    current = logged()
    after, names = changed(current, FollowupChange(outcome=None, stage=None))
    assert names == [] and after == current


def test_a_field_left_out_of_the_change_is_not_cleared():
    current = logged(outcome="saw the docks")
    after, names = changed(current, FollowupChange(stage="proposal"))
    assert names == ["stage"]
    assert after.outcome == "saw the docks"


def test_moving_the_end_before_the_start_is_refused():
    current = logged()
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        changed(current, FollowupChange(ended_at=current.started_at - timedelta(minutes=1)))


def test_moving_the_start_after_the_end_is_refused():
    current = logged()
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        changed(current, FollowupChange(started_at=current.ended_at + timedelta(minutes=1)))


def test_moving_both_times_together_is_one_consistent_change():
    current = logged()
    later = timedelta(days=1)
    after, names = changed(current, FollowupChange(started_at=START + later, ended_at=END + later))
    assert names == ["ended_at", "started_at"]
    assert (after.started_at, after.ended_at) == (START + later, END + later)


def test_clearing_the_next_step_while_it_has_a_due_date_is_refused():
    current = logged(next_step="quote", next_step_due=date(2026, 12, 3))
    with pytest.raises(ValidationError, match="next_step_due without a next_step"):
        changed(current, FollowupChange(next_step=None))


def test_clearing_the_next_step_with_its_due_date_is_accepted():
    current = logged(next_step="quote", next_step_due=date(2026, 12, 3))
    after, names = changed(current, FollowupChange(next_step=None, next_step_due=None))
    assert names == ["next_step", "next_step_due"]
    assert after.next_step is None and after.next_step_due is None


def test_moving_the_start_after_the_next_step_due_date_is_refused():
    current = logged(next_step="quote", next_step_due=date(2026, 11, 28))
    with pytest.raises(ValidationError, match="next_step_due is before the follow-up started"):
        changed(
            current,
            FollowupChange(started_at=START + timedelta(days=2), ended_at=END + timedelta(days=2)),
        )


def test_turning_a_visit_with_site_observations_into_a_call_is_refused():
    current = logged(site=SITE)
    with pytest.raises(ValidationError, match="site observations belong to a visit"):
        changed(current, FollowupChange(channel=Channel.CALL))


def test_a_visit_becomes_a_call_once_its_site_observations_are_cleared():
    current = logged(site=SITE)
    after, names = changed(current, FollowupChange(channel=Channel.CALL, site=None))
    assert names == ["channel", "site"]
    assert after.channel is Channel.CALL and after.site is None


def test_site_observations_may_be_added_to_a_visit():
    current = logged()
    after, names = changed(current, FollowupChange(site=SiteObservations(production="slow")))
    assert names == ["site"]
    assert after.site == SiteObservations(production="slow")


def test_site_observations_rewritten_the_same_are_no_change():
    current = logged(site=SITE)
    _, names = changed(current, FollowupChange(site=SITE))
    assert names == []


def test_changing_leaves_the_current_follow_up_as_it_was():
    current = logged(outcome="saw the docks")
    changed(current, FollowupChange(outcome="something else", subject="another"))
    assert current.outcome == "saw the docks" and current.subject == "site tour"


@pytest.mark.parametrize("field", ["followup_id", "customer_id", "salesperson_id", "location"])
def test_a_change_to_a_field_that_cannot_change_is_refused(field):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        FollowupChange(**{field: "x"})


@pytest.mark.parametrize("version", [0, -1])
def test_a_change_names_a_version_from_one(version):
    with pytest.raises(ValidationError, match="version"):
        FollowupChange(version=version)


def test_a_change_without_a_time_zone_is_refused():
    with pytest.raises(ValidationError, match="timezone"):
        FollowupChange(started_at="2026-11-27T09:00:00")


def test_a_change_to_an_unknown_channel_is_refused():
    with pytest.raises(ValidationError, match="channel"):
        FollowupChange(channel="carrier pigeon")


def test_clearing_the_contacts_leaves_none_recorded():
    current = new_followup(
        LogFollowup(
            customer_id="c-1",
            salesperson_id="sp-1",
            channel="call",
            subject="s",
            started_at="2026-11-27T09:00:00Z",
            ended_at="2026-11-27T09:10:00Z",
            contact_ids=["ct-1"],
        ),
        "sp-1",
    )
    after, names = changed(current, FollowupChange(contact_ids=None))
    assert after.contact_ids == [] and names == ["contact_ids"]
