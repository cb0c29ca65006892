"""The audience projection (events.projections) storing rules.audience: what ingest loads and
writes for a batch, what a rebuild compares and replaces. The tables are AudienceStats,
LiveAudience and AudienceViewer."""
from __future__ import annotations

from operator import attrgetter

from django.db import connection

from liveloop.analytics.models import AudienceStats, AudienceViewer, LiveAudience
from liveloop.events.projections import Projection, register
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

def _replayed(audience: Audience):
    breakdown = {k: list(v) for k, v in audience.breakdown.items() if any(v)}
    lives = {k: list(v) for k, v in audience.lives.items() if any(v)}
    profiles = {k: row for k, p in audience.profiles.items() if (row := profile_row(p)) != DEFAULT_PROFILE}
    return breakdown, lives, profiles


def differences(org, audience: Audience, names: dict) -> list[str]:
    """What the stored audience tables hold that a replay (`audience`) does not, and back."""
    breakdown, lives, profiles = _replayed(audience)
    stored_breakdown = {(r[0], r[1], r[2]): list(r[3:]) for r in
                        AudienceStats.objects.for_org(org).values_list("live_id", "dimension", "value", *BREAKDOWN)}
    stored_lives = {r[0]: list(r[1:]) for r in
                    LiveAudience.objects.for_org(org).values_list("live_id", *LIVE_FIGURES)}
    stored_profiles = {(r[0], r[1]): tuple(r[2:]) for r in
                       AudienceViewer.objects.for_org(org).values_list("live_id", "viewer", *PROFILE_COLUMNS)}
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
    stored_profiles = {k: v for k, v in stored_profiles.items() if v != DEFAULT_PROFILE}
    for key in set(stored_profiles) | set(profiles):
        if stored_profiles.get(key) != profiles.get(key):
            found.append(f"live {names.get(key[0])} audience viewer {key[1]}: stored {stored_profiles.get(key)}, "
                         f"replay {profiles.get(key)}")
    return found


def replace(org, audience: Audience) -> None:
    """Overwrite the audience tables with a replay's totals (inside rebuild's transaction), as
    plain rows (lib.bulk.insert_all)."""
    org_id, adapt = org.pk, time_adapter()
    AudienceStats.objects.for_org(org).delete()
    insert_all(AudienceStats, ("org_id", "live_id", "dimension", "value", *BREAKDOWN),
               ((org_id, *key, *figures) for key, figures in audience.breakdown.items() if any(figures)))
    LiveAudience.objects.for_org(org).delete()
    insert_all(LiveAudience, ("org_id", "live_id", *LIVE_FIGURES),
               ((org_id, live_id, *figures) for live_id, figures in audience.lives.items() if any(figures)))
    AudienceViewer.objects.for_org(org).delete()
    insert_all(AudienceViewer, ("org_id", "live_id", "viewer", *PROFILE_COLUMNS),
               # open_since, the last column, is the one datetime
               ((org_id, *key, *row[:-1], adapt(row[-1])) for key, p in audience.profiles.items()
                if (row := profile_row(p)) != DEFAULT_PROFILE))


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
        return Audience(replay.attribution)

    def differences(self, replay, state) -> list[str]:
        return differences(replay.org, state, replay.names)

    def replace(self, replay, state) -> None:
        replace(replay.org, state)


projection = register(AudienceProjection())
