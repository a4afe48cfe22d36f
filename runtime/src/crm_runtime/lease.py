"""A lease in MongoDB: where exactly one instance of a service must do something (publish the
outbox, build a model snapshot), the holder renews it and the others wait until it ends. Its end
is compared with the database server's clock ($$NOW), so hosts whose clocks differ never hold it
together."""

import os
import socket
import uuid
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

LEASES = "leases"


class Lease:
    def __init__(self, db: AsyncDatabase[Any], name: str, seconds: float) -> None:
        self.db = db
        self.name = name
        self.seconds = seconds
        # Says which process holds it (host or pod, PID), for whoever reads the leases at 3 a.m.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def hold(self) -> bool:
        """Takes or renews the lease; False while another holder's lease runs. The test of the
        holder is in the update, not the filter: MongoDB refuses $expr in an upsert's filter."""
        ours = {
            "$or": [
                {"$eq": ["$holder", self.holder]},
                {"$lt": ["$expires_at", "$$NOW"]},  # also true of a new lease (no expires_at)
            ]
        }
        ends_at = {"$add": ["$$NOW", int(self.seconds * 1000)]}
        try:
            lease = await self.db[LEASES].find_one_and_update(
                {"_id": self.name},
                [
                    {
                        "$set": {
                            "holder": {"$cond": [ours, self.holder, "$holder"]},
                            "expires_at": {"$cond": [ours, ends_at, "$expires_at"]},
                        }
                    }
                ],
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # another instance created the lease at the same moment
        return lease is not None and lease["holder"] == self.holder

    async def release(self) -> None:
        """On a clean stop, so that another instance takes over at once."""
        await self.db[LEASES].delete_one({"_id": self.name, "holder": self.holder})
