"""The audience projection (events.projections) storing rules.audience: what ingest loads and
writes for a batch, what a rebuild compares and replaces. The tables are AudienceStats,
LiveAudience and AudienceViewer."""
from __future__ import annotations

from operator import attrgetter

from django.db import connection

from liveloop.analytics.models import AudienceStats, AudienceViewer, LiveAudience
from liveloop.events.projections import CHECK, KEEP, REPLACE, Projection, register
from liveloop.lib.bulk import (add_rows, insert_all, insert_rows, select_in, sql_ids, time_adapter, time_reader,
                               update_rows)
from liveloop.rules.audience import BREAKDOWN, DIMENSIONS, LIVE_FIGURES, Audience, Profile

PROFILE_COLUMNS = (*DIMENSIONS, "public", "public_captured", "open_since")  # Profile's fields
PROFILE_TYPES = {**dict.fromkeys(DIMENSIONS, "varchar"), "public": "boolean",
                 "public_captured": "boolean", "open_since": "timestamptz"}
# A profile as a tuple of its fields (shallow: dataclasses.astuple deep-copies each one).
profile_row = attrgetter(*PROFILE_COLUMNS)
DEFAULT_PROFILE = profile_row(Profile())


def load(org, attribution, live_ids, viewer_ids) -> Audience:
    """An Audience over `attribution` holding the stored profiles of the batch's viewers; the
    row ids of those it found are in `audience.known`."""
    profiles, known = {}, {}
    quote, read_time = connection.ops.quote_name, time_reader()
    rows = select_in(f"SELECT id, live_id, viewer, {', '.join(map(quote, PROFILE_COLUMNS))} "
                     f"FROM {quote(AudienceViewer._meta.db_table)} WHERE org_id = %s "
                     f"AND live_id IN ({sql_ids(live_ids)}) AND viewer", org.pk, viewer_ids) if live_ids else []
    for pk, live_id, viewer, *state, open_since in rows:  # open_since: the last column
        known[(live_id, viewer)] = pk
        profiles[(live_id, viewer)] = Profile(*state, read_time(open_since))
    audience = Audience(attribution, profiles)
    audience.known = known
    return audience


def write(org, audience: Audience) -> None:
    """Write what a batch changed: new and changed profiles, and the figures' deltas."""
    adapt = time_adapter()
    known = audience.known
    new, changed = [], []
    for key in audience.changed:
        p = audience.profiles[key]
        # Field by field, not dataclasses.astuple (a deep copy per row).
        values = (p.touchpoint, p.share_scene, p.gender, p.city_tier, p.region, p.age_band, p.public,
                  p.public_captured, adapt(p.open_since))
        if key in known:
            changed.append((known[key], *values))
        else:
            new.append((org.pk, *key, *values))
    insert_rows(AudienceViewer, ("org_id", "live_id", "viewer", *PROFILE_COLUMNS), new)
    update_rows(AudienceViewer, {"id": "bigint", **PROFILE_TYPES}, changed,
            sets=", ".join(f"{c} = v.{c}" for c in PROFILE_COLUMNS), where="t.id = v.id")
    add_rows(org.pk, AudienceStats, ("live_id", "dimension", "value"), ("bigint", "varchar", "varchar"), BREAKDOWN,
         [(*key, *delta) for key, delta in audience.breakdown.items() if any(delta)])
    add_rows(org.pk, LiveAudience, ("live_id",), ("bigint",), LIVE_FIGURES,
         [(live_id, *delta) for live_id, delta in audience.lives.items() if any(delta)])


# --- rebuild -----------------------------------------------------------------------------------
# A replay's state is an Audience of totals (breakdowns and the lives' figures, added up over
# the parts); each part is fed its own Audience, whose profiles are compared or written when the
# part ends (events.rebuild), or kept on the totals' `profiles` for a replay of one part.

def fold(total: Audience, part: Audience) -> None:
    """Add a part's breakdowns and lives' figures to the replay's totals."""
    for key, figures in part.breakdown.items():
        row = total.breakdown[key]
        for index, amount in enumerate(figures):
            row[index] += amount
    for live_id, figures in part.lives.items():
        row = total.lives[live_id]
        for index, amount in enumerate(figures):
            row[index] += amount


def profile_differences(stored_rows, profiles: dict, names: dict) -> list[str]:
    """Stored profiles (rows of live, viewer, PROFILE_COLUMNS) against replayed ones."""
    stored = {(r[0], r[1]): tuple(r[2:]) for r in stored_rows}
    stored = {k: v for k, v in stored.items() if v != DEFAULT_PROFILE}
    replayed = {k: row for k, p in profiles.items() if (row := profile_row(p)) != DEFAULT_PROFILE}
    return [f"live {names.get(key[0])} audience viewer {key[1]}: stored {stored.get(key)}, "
            f"replay {replayed.get(key)}"
            for key in set(stored) | set(replayed) if stored.get(key) != replayed.get(key)]


def differences(org, audience: Audience, names: dict) -> list[str]:
    """What the stored breakdowns and lives' figures hold that a replay's totals do not."""
    breakdown = {k: list(v) for k, v in audience.breakdown.items() if any(v)}
    lives = {k: list(v) for k, v in audience.lives.items() if any(v)}
    stored_breakdown = {(r[0], r[1], r[2]): list(r[3:]) for r in
                        AudienceStats.objects.for_org(org).values_list("live_id", "dimension", "value", *BREAKDOWN)}
    stored_lives = {r[0]: list(r[1:]) for r in
                    LiveAudience.objects.for_org(org).values_list("live_id", *LIVE_FIGURES)}
    found = []
    for key in sorted(set(stored_breakdown) | set(breakdown)):
        stored = stored_breakdown.get(key)
        if stored is not None and not any(stored):
            stored = None
        if stored != breakdown.get(key):
            found.append(f"live {names.get(key[0])} audience {key[1]}={key[2]!r}: stored {stored}, "
                         f"replay {breakdown.get(key)}")
    for key in sorted(set(stored_lives) | set(lives)):
        stored = stored_lives.get(key)
        if stored is not None and not any(stored):
            stored = None
        if stored != lives.get(key):
            found.append(f"live {names.get(key)} watch time and flywheel {LIVE_FIGURES}: stored {stored}, "
                         f"replay {lives.get(key)}")
    return found


def insert_profiles(org, profiles: dict) -> None:
    """Plain rows (lib.bulk.insert_all) of the profiles not in the default state, in the order
    of their unique key (the index filled at its end)."""
    org_id, adapt = org.pk, time_adapter()
    insert_all(AudienceViewer, ("org_id", "live_id", "viewer", *PROFILE_COLUMNS),
               # open_since, the last column, is the one datetime
               ((org_id, *key, *row[:-1], adapt(row[-1])) for key, p in sorted(profiles.items())
                if (row := profile_row(p)) != DEFAULT_PROFILE))


def replace(org, audience: Audience) -> None:
    """Overwrite the breakdowns and lives' figures with a replay's totals (inside rebuild's
    transaction), as plain rows."""
    org_id = org.pk
    AudienceStats.objects.for_org(org).delete()
    insert_all(AudienceStats, ("org_id", "live_id", "dimension", "value", *BREAKDOWN),
               ((org_id, *key, *figures) for key, figures in audience.breakdown.items() if any(figures)))
    LiveAudience.objects.for_org(org).delete()
    insert_all(LiveAudience, ("org_id", "live_id", *LIVE_FIGURES),
               ((org_id, live_id, *figures) for live_id, figures in audience.lives.items() if any(figures)))


class AudienceProjection(Projection):
    name = "audience"
    order = 30

    def load(self, batch):
        return load(batch.org, batch.attribution, batch.live_ids, batch.viewer_ids)

    def fact(self, state, fact, counted) -> None:
        state.fact(fact, counted)

    def write(self, batch, state) -> None:
        write(batch.org, state)

    def start(self, replay):
        if replay.mode == REPLACE:  # the parts' profiles are written as they end
            AudienceViewer.objects.for_org(replay.org).delete()
        return Audience(None)

    def part(self, replay, state):
        return Audience(replay.attribution)

    def end_part(self, replay, state, fed) -> list[str]:
        fold(state, fed)
        if replay.mode == CHECK:
            stored = replay.in_part(AudienceViewer.objects.for_org(replay.org)).values_list(
                "live_id", "viewer", *PROFILE_COLUMNS)
            return profile_differences(stored, fed.profiles, replay.names)
        if replay.mode == REPLACE:
            insert_profiles(replay.org, fed.profiles)
        else:
            state.profiles = fed.profiles
        return []

    def differences(self, replay, state) -> list[str]:
        found = differences(replay.org, state, replay.names)
        if replay.mode == KEEP:
            stored = AudienceViewer.objects.for_org(replay.org).values_list("live_id", "viewer", *PROFILE_COLUMNS)
            found += profile_differences(stored, state.profiles, replay.names)
        return found

    def replace(self, replay, state) -> None:
        replace(replay.org, state)
        if replay.mode == KEEP:
            AudienceViewer.objects.for_org(replay.org).delete()
            insert_profiles(replay.org, state.profiles)


projection = register(AudienceProjection())
