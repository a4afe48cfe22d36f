"""Tokens that stop working within seconds of a user's access changing, in every service, without
asking the customer service: each service keeps the latest access version of each user from the
UserAccessChanged events, and refuses tokens issued at an older one."""

from crm_contracts import UserAccessChanged

from crm_runtime.store import Store, UnitOfWork

USER_ACCESS = "user_access"


async def on_user_access_changed(event: UserAccessChanged, uow: UnitOfWork) -> None:
    # $max: events may repeat or come out of order after a redelivery; the newest version wins.
    await uow.db[USER_ACCESS].update_one(
        {"_id": event.payload.user_id},
        {"$max": {"access_version": event.payload.access_version}},
        upsert=True,
        session=uow.session,
    )


async def access_version(store: Store, user_id: str) -> int:
    """The latest access version this service has seen for the user; 0 when it has seen none."""
    found = await store.db[USER_ACCESS].find_one({"_id": user_id}, {"access_version": 1})
    return int(found["access_version"]) if found else 0
