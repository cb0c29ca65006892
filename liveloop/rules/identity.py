"""One person, many ids (docs/events.md "One person, many ids"). Pure: no Django.

A source says two ids are one person with an `identify` event, or by naming another id of
the event's viewer in its `attrs` (`unionid`, `openid`, `mp_openid`, `external_userid`,
`phone_hash`). Every id then resolves to one *person id*, and attribution and counting see the
person id instead of the id the event carried.

Links apply from their place in the log onwards, like every other fact: events already
counted under separate ids stay counted as they were (a person may have been counted twice
before the link arrived); every later event of any of their ids counts as the one person.
Rebuild replays links in the same order, so it reaches the same persons.

Which id names the person: the person of the first id, in the order [viewer, linked ids in
attribute-name order], that already belongs to one; else the viewer itself. When a link joins
two persons, the second joins the first, with all its ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ID_ATTRS = ("external_userid", "mp_openid", "openid", "phone_hash", "unionid")


def linked_ids(viewer: str, attrs: dict | None) -> list[str]:
    """The other ids an event says its viewer also has."""
    if not attrs:
        return []
    ids = []
    for name in ID_ATTRS:
        value = attrs.get(name)
        if isinstance(value, str) and value and value != viewer and value not in ids:
            ids.append(value)
    return ids


@dataclass
class Identities:
    """id → person id for the ids known so far (`persons`); `changed` are the ids whose person
    was set or moved, for ingest to write back."""
    persons: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)
    # A person merged into another: ingest moves every id of the first (even ids not loaded).
    merged: dict[str, str] = field(default_factory=dict)

    def person_of(self, some_id: str) -> str:
        person = self.persons.get(some_id, some_id)
        while person in self.merged:
            person = self.merged[person]
        return person

    def propose(self, viewer: str, attrs: dict | None) -> tuple[str, list]:
        """The person this event counts for, and the link changes it brings (not yet made)."""
        others = linked_ids(viewer, attrs)
        if not others:
            return self.person_of(viewer), []
        ids = [viewer, *others]
        known = [self.person_of(i) for i in ids if i in self.persons]
        person = known[0] if known else viewer
        changes = [("link", i, person) for i in ids if i not in self.persons or self.person_of(i) != person]
        changes += [("merge", other, person) for other in dict.fromkeys(known) if other != person]
        return person, changes

    def commit(self, changes: list) -> None:
        for kind, some_id, person in changes:
            if kind == "merge":
                self.merged[some_id] = person
                self.persons[some_id] = person
            else:
                self.persons[some_id] = person
            self.changed.add(some_id)

    def apply(self, viewer: str, attrs: dict | None) -> str:
        person, changes = self.propose(viewer, attrs)
        self.commit(changes)
        return person

    def final(self) -> dict[str, str]:
        """Every known id with its person after all merges."""
        return {some_id: self.person_of(some_id) for some_id in self.persons}
