"""A batch's updates of one document merge only where one update says what the sequence does."""

from crm_reporting.coalesce import CollectionWrites, DocumentWrites, Write, merged
from pymongo import InsertOne, UpdateMany, UpdateOne


def test_sets_keep_the_last_value_and_increments_add_up():
    first = {"$set": {"owner_id": "a"}, "$inc": {"counts.followups": 1}}
    then = {"$set": {"owner_id": "b"}, "$inc": {"counts.followups": 2, "facts_filed": 1}}
    assert merged(first, then) == {
        "$set": {"owner_id": "b"},
        "$inc": {"counts.followups": 3, "facts_filed": 1},
    }


def test_a_later_insert_only_value_changes_nothing_once_the_first_upsert_ran():
    first = {"$set": {"profile": {"name": "A"}}}
    then = {"$setOnInsert": {"profile": None}, "$set": {"status": "active"}}
    assert merged(first, then) == {"$set": {"profile": {"name": "A"}, "status": "active"}}


def test_a_set_or_unset_replaces_what_came_before_on_its_path_and_below():
    first = {"$setOnInsert": {"profile": None}, "$set": {"contacts.k1": {"name": "x"}}}
    then = {"$set": {"profile": {"name": "A"}}, "$unset": {"contacts": ""}}
    assert merged(first, then) == {"$set": {"profile": {"name": "A"}}, "$unset": {"contacts": ""}}


def test_pushes_with_the_same_sort_and_slice_push_their_elements_together():
    push = {"$sort": {"at": 1}, "$slice": -100}
    first = {"$push": {"score_history": {"$each": [1], **push}}}
    then = {"$push": {"score_history": {"$each": [2], **push}}}
    assert merged(first, then) == {"$push": {"score_history": {"$each": [1, 2], **push}}}
    other = {"$push": {"score_history": {"$each": [2], "$sort": {"at": 1}}}}
    assert merged(first, other) is None


def test_updates_one_update_cannot_say_stay_apart():
    assert merged({"$set": {"profile": None}}, {"$set": {"profile.name": "A"}}) is None
    assert merged({"$set": {"n": 1}}, {"$inc": {"n": 1}}) is None
    assert merged({"$min": {"created_at": 2}}, {"$min": {"created_at": 1}}) is None


def test_an_update_jumps_a_conditional_one_only_when_they_touch_different_fields():
    document = DocumentWrites("c-1")
    document.add(Write({"$inc": {"counts.followups": 1}}))
    document.add(Write({"$set": {"tier": "A"}}, upsert=False, condition={"tier_at": {"$lt": 5}}))
    document.add(Write({"$inc": {"counts.followups": 1}}))
    document.add(Write({"$set": {"tier": "B"}}))
    assert [write.update for write in document.writes] == [
        {"$inc": {"counts.followups": 2}},
        {"$set": {"tier": "A"}},
        {"$set": {"tier": "B"}},
    ]


def test_nothing_merges_across_an_update_of_many_documents():
    queue = CollectionWrites()
    queue.update("f-1", Write({"$set": {"account_id": "a"}}))
    queue.update("f-2", Write({"$set": {"account_id": "a"}}))
    move = UpdateMany({"account_id": "a"}, {"$set": {"account_id": "b"}})
    queue.add(move)
    queue.update("f-1", Write({"$set": {"account_id": "a"}}))
    assert queue.take() == [
        UpdateOne({"_id": "f-1"}, {"$set": {"account_id": "a"}}, upsert=True),
        UpdateOne({"_id": "f-2"}, {"$set": {"account_id": "a"}}, upsert=True),
        move,
        UpdateOne({"_id": "f-1"}, {"$set": {"account_id": "a"}}, upsert=True),
    ]
    assert queue.take() == []


def test_a_document_known_to_be_new_is_inserted_while_it_only_sets_fields():
    document = DocumentWrites("f-1")
    document.add(Write({"$setOnInsert": {"revoked": False}, "$set": {"version": 0}}, new=True))
    document.add(Write({"$set": {"account_id": "a"}}))
    assert document.models() == [
        InsertOne({"_id": "f-1", "revoked": False, "version": 0, "account_id": "a"})
    ]
    document.add(Write({"$inc": {"n": 1}}))
    assert document.models() == [
        UpdateOne(
            {"_id": "f-1"},
            {
                "$setOnInsert": {"revoked": False},
                "$set": {"version": 0, "account_id": "a"},
                "$inc": {"n": 1},
            },
            upsert=True,
        )
    ]
