"""The flywheel: net private-domain growth of a live = captured viewers whose first room entry
came from public traffic (counted for no promoter), once each, whichever fact comes first."""
from datetime import timedelta

from liveloop.analytics.models import LiveAudience
from liveloop.analytics.report import live_report
from liveloop.analytics.trends import trend_lives, trend_rows
from liveloop.events.ingest import ingest
from liveloop.events.rebuild import differences, replay
from liveloop.actions.lives import end_live, start_live
from tests.actors import EVENING, event

M = timedelta(minutes=1)


def test_net_private_domain_growth_counts_captured_public_viewers_once(brand, owner):
    live = brand.live(promoters=["A"])
    other = brand.live(title="另一场", announced_at=EVENING + timedelta(days=1), promoters=["A"])
    L, O = live.public_id, other.public_id
    start_live(live, at=EVENING)
    events = [
        event("e1", "room_enter", L, "P1", at=EVENING + M),                   # public
        event("c1", "capture", L, "P1", at=EVENING + 2 * M),                  # → 1
        event("c1b", "capture", L, "P1", at=EVENING + 3 * M),                 # the same viewer again: still 1
        event("c2", "capture", L, "P2", at=EVENING + 2 * M, promoter="A"),    # captured before entering …
        event("e2", "room_enter", L, "P2", at=EVENING + 4 * M),               # … from public traffic → 2
        event("e3", "room_enter", L, "R1", at=EVENING + M, promoter="A"),     # through A: private domain
        event("c3", "capture", L, "R1", at=EVENING + 5 * M),                  # not growth
        event("c4", "capture", L, "N1", at=EVENING + 5 * M),                  # never in the room: not growth
        event("e5", "room_enter", L, "P3", at=EVENING + M),                   # public, not captured
        {"id": "c5", "type": "capture", "viewer": "P3", "at": (EVENING + 6 * M).isoformat()},  # no live
        event("c6", "capture", O, "P3", at=EVENING + 6 * M),                  # another live's capture
    ]
    # One at a time: each batch loads what the one before stored.
    for item in events:
        assert ingest(brand.org, [item], source="test").rejected == []
    end_live(live, at=EVENING + 60 * M)
    live.refresh_from_db()

    flywheel = live_report(live)["flywheel"]
    assert flywheel["captures"] == 4                 # P1 P2 R1 N1
    assert flywheel["public_captures"] == 2          # P1 P2
    assert flywheel["public_viewers"] == 3           # P1 P2 P3
    assert LiveAudience.objects.filter(live=other).first() is None or \
        LiveAudience.objects.get(live=other).public_captures == 0

    rows = {row["public_id"]: row for row in trend_rows(brand.org, trend_lives(brand.org))}
    assert rows[L]["public_captures"] == 2 and rows[L]["captures"] == 4

    attribution, problems = replay(brand.org)
    assert problems == [] and differences(brand.org, attribution) == []
    page = owner.get(f"/lives/{L}/report/").content.decode()
    assert "66.7%" in page   # 2 of 3 public viewers captured
