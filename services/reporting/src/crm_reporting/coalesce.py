"""A batch's writes to the read models, coalesced per document before they are sent in bulk.

The updates of one document merge into one where a single update does what the sequence does
($set and $unset of the same path: the last; $inc: the sum; $push with the same modifiers: the
elements in order); where it cannot say the same, the next update stays apart, in order. A
conditional update (a filter beyond the _id, such as "not newer") is never merged: it stays in
its place, and an unconditional update jumps it only when they touch different fields.

Documents of one collection are independent of each other, so each one's writes go where its first
write was; a write that may touch many documents (an update_many) keeps its place, and nothing
merges across it."""

from dataclasses import dataclass, field
from typing import Any

from pymongo import InsertOne, UpdateOne

Update = dict[str, dict[str, Any]]  # {"$set": {"path": value}, "$inc": {...}, ...}
WriteModel = Any  # pymongo's InsertOne, UpdateOne, UpdateMany...
OVERRIDES = ("$set", "$unset")  # what the path held before does not matter to them


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def merged(first: Update, then: Update) -> Update | None:
    """One update doing what `first` (an upsert) and then `then` do to a document, or None when
    one update cannot say it."""
    result = {operator: dict(fields) for operator, fields in first.items()}
    taken = {path: operator for operator, fields in first.items() for path in fields}
    for operator, fields in then.items():
        if operator == "$setOnInsert":
            continue  # the document exists once `first` has run
        for path, value in fields.items():
            if not _merge_into(result, taken, operator, path, value):
                return None
    return {operator: fields for operator, fields in result.items() if fields}


def _merge_into(
    result: Update, taken: dict[str, str], operator: str, path: str, value: Any
) -> bool:
    below = path + "."
    clashes = [p for p in taken if p == path or p.startswith(below) or path.startswith(p + ".")]
    if not clashes:
        result.setdefault(operator, {})[path] = value
        taken[path] = operator
        return True
    if operator in OVERRIDES and all(p == path or p.startswith(below) for p in clashes):
        for p in clashes:
            del result[taken.pop(p)][p]
        result.setdefault(operator, {})[path] = value
        taken[path] = operator
        return True
    if clashes != [path] or taken[path] != operator:
        return False
    before = result[operator][path]
    if operator == "$inc":
        result[operator][path] = before + value
        return True
    modifiers = _modifiers(value)
    if operator == "$push" and modifiers is not None and _modifiers(before) == modifiers:
        result[operator][path] = {**before, "$each": [*before["$each"], *value["$each"]]}
        return True
    return False


def _modifiers(push: Any) -> dict[str, Any] | None:
    if not isinstance(push, dict) or "$each" not in push:
        return None
    return {name: modifier for name, modifier in push.items() if name != "$each"}


@dataclass
class Write:
    """An update of one document: `condition` is the filter beyond its _id ({} for none); `new`
    when the document is known not to exist before it (then sent as an insert where it can be:
    cheaper than an upsert, which looks the document up first)."""

    update: Update
    upsert: bool = True
    condition: dict[str, Any] = field(default_factory=dict)
    new: bool = False

    def independent_of(self, other: "Write") -> bool:
        """Whether the two touch different fields, so that their order does not matter."""
        mine = [*self.condition, *(path for fields in self.update.values() for path in fields)]
        theirs = [path for fields in other.update.values() for path in fields]
        return not any(_overlap(a, b) for a in mine for b in theirs)


@dataclass
class DocumentWrites:
    key: Any
    writes: list[Write] = field(default_factory=list)

    def add(self, write: Write) -> None:
        if not write.condition:
            for index in range(len(self.writes) - 1, -1, -1):
                earlier = self.writes[index]
                if not earlier.condition:
                    if earlier.upsert and (update := merged(earlier.update, write.update)):
                        self.writes[index] = Write(update, new=earlier.new)
                        return
                    break
                if not earlier.independent_of(write):
                    break
        self.writes.append(write)

    def models(self) -> list[WriteModel]:
        return [self._model(write) for write in self.writes]

    def _model(self, write: Write) -> WriteModel:
        if write.new and (document := inserted(write.update)) is not None:
            return InsertOne({"_id": self.key, **document})
        return UpdateOne({"_id": self.key, **write.condition}, write.update, upsert=write.upsert)


def inserted(update: Update) -> dict[str, Any] | None:
    """The document an upsert that finds none creates, where it only sets top-level fields."""
    if not set(update) <= {"$set", "$setOnInsert"}:
        return None
    document = {**update.get("$setOnInsert", {}), **update.get("$set", {})}
    if any("." in path or path.startswith("$") for path in document):
        return None
    return document


class CollectionWrites:
    """One collection's queued writes, in order."""

    def __init__(self) -> None:
        self._queue: list[DocumentWrites | WriteModel] = []
        self._open: dict[Any, DocumentWrites] = {}  # documents later writes may merge into

    def update(self, key: Any, write: Write) -> None:
        document = self._open.get(key)
        if document is None:
            document = self._open[key] = DocumentWrites(key)
            self._queue.append(document)
        document.add(write)

    def add(self, *models: WriteModel) -> None:
        """Writes kept as they are, in their place: nothing merges across them."""
        self._queue.extend(models)
        self._open.clear()

    def take(self) -> list[WriteModel]:
        """The writes to send, in order; the queue is empty after."""
        queue, self._queue = self._queue, []
        self._open.clear()
        return [
            model
            for item in queue
            for model in (item.models() if isinstance(item, DocumentWrites) else [item])
        ]
