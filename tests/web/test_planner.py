"""The planner page (web.planner): forecast from reservations so far, the basis it says it uses,
reservations needed for a target, the public-traffic settings, and tenancy."""
import re
from datetime import timedelta

from django.urls import reverse

from liveloop.analytics.models import LiveStats, PromoterStats
from liveloop.actions.lives import end_live, start_live
from liveloop.orgs.models import Member, Organisation
from liveloop.rules.forecast import PastLive
from liveloop.web.planner import history
from tests.actors import EVENING, event, member_client


def text(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:300])
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def set_figures(live, *, showed_up=0, **figures):
    PromoterStats.objects.filter(live=live, promoter__isnull=True).update(**figures)
    LiveStats.objects.filter(live=live).update(showed_up=showed_up)


def upcoming(brand, reservations):
    live = brand.live(title="年货节直播", announced_at=EVENING + timedelta(days=30))
    set_figures(live, reservations=reservations)
    return live


def planner_url(live, **query):
    url = reverse("web:planner", args=[live.public_id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def ended_live_through_ingest(brand):
    """4 reservations, 2 of them enter, 3 public viewers, 1 order of ¥100."""
    live = brand.live(title="上一场")
    events = [event(f"r{n}", "reservation", live.public_id, f"V{n}") for n in range(1, 5)]
    events += [event(f"e{n}", "room_enter", live.public_id, f"V{n}", at=EVENING + timedelta(minutes=5))
               for n in (1, 2, 5, 6, 7)]
    events.append(event("o1", "order_paid", live.public_id, "V1", order="O1", amount=10_000,
                        at=EVENING + timedelta(minutes=10)))
    start_live(live, at=EVENING)
    assert brand.send(events).status_code in (200, 202)
    end_live(live, at=EVENING + timedelta(hours=2))
    return live


def test_history_reads_ended_lives_from_the_derived_tables(brand, outsider):
    ended_live_through_ingest(brand)
    upcoming(brand, 1_000)                           # scheduled: not history
    set_figures(outsider.live(), reservations=50)    # another organisation's
    assert history(brand.org) == [PastLive(reservations=4, showed_up=2, entered=5, buyers=1, orders=1,
                                           gmv_fen=10_000)]


def test_no_history_says_it_uses_the_field_defaults(en, brand):
    live = upcoming(brand, 10_000)
    page = text(en.get(planner_url(live)))
    assert "Reservations so far 10,000" in page
    # 40% of 10,000 show up + 10,000 public = 14,000 viewers; 4.3% buy; ¥100 each.
    assert "Forecast viewers 14,000" in page and "Forecast buyers 602" in page
    assert "Forecast GMV ¥60,200.00" in page
    assert "field defaults" in page and "live conversion ≈4.3%" in page
    assert "not enough history" in page


def test_two_ended_lives_give_their_pooled_rates(en, brand):
    ended_live_through_ingest(brand)
    second = brand.live(title="第二场")
    start_live(second, at=EVENING)
    end_live(second, at=EVENING + timedelta(hours=2))
    set_figures(second, reservations=96, showed_up=38, entered=195, buyers=9, orders=11, gmv=170_000)
    live = upcoming(brand, 1_000)
    page = text(en.get(planner_url(live)))
    # Pooled: 40/100 show up, 10/200 buy, 12/10 orders a buyer, 180,000/12 = ¥150 an order.
    assert "2 ended lives" in page
    assert "Show-up rate (reservers who enter) 40.0%" in page
    assert "Public viewers per reservation (observed) 1.60" in page
    assert "Conversion (buyers / viewers) 5.00%" in page
    assert "Average order value ¥150.00" in page
    # 400 + 1,000 viewers → 70 buyers × 1.2 × ¥150.
    assert "Forecast viewers 1,400" in page and "Forecast buyers 70" in page
    assert "Forecast GMV ¥12,600.00" in page
    assert "field defaults" not in page and "not enough history" in page


def test_target_gives_the_reservations_needed(en, brand):
    live = upcoming(brand, 10_000)
    page = text(en.get(planner_url(live, target="60200")))
    assert "¥60,200.00 needs 10,000 reservations (0 more than so far)" in page
    page = text(en.get(planner_url(live, target="60200.01")))
    assert "needs 10,001 reservations (1 more than so far)" in page
    page = text(en.get(planner_url(live, target="-5")), status=400)
    assert "greater than or equal to 0.01" in page and "reservations (" not in page
    page = text(en.get(planner_url(live, target="1.005")), status=400)  # no fractions of a fen
    assert "reservations (" not in page


def test_a_target_beyond_the_capped_public_traffic_cannot_be_reached(en, brand):
    live = upcoming(brand, 10)
    set_figures(live, reservations=10)
    Organisation.objects.filter(pk=brand.org.pk).update(public_match_cap=100)
    second = brand.live(title="没人来")
    start_live(second, at=EVENING)
    end_live(second, at=EVENING + timedelta(hours=2))
    # Nobody with a reservation ever showed up: only the capped public traffic buys.
    set_figures(second, reservations=100, showed_up=0, entered=100, buyers=10, orders=10, gmv=100_000)
    page = text(en.get(planner_url(live, target="1000000")))
    assert "¥1,000,000.00 cannot be reached" in page


def test_another_organisations_live_is_not_found(en, outsider):
    assert en.get(planner_url(outsider.live())).status_code == 404


def test_the_live_page_links_the_planner_while_scheduled(en, brand):
    live = upcoming(brand, 0)
    assert planner_url(live) in en.get(reverse("web:live", args=[live.public_id])).content.decode()
    start_live(live, at=EVENING)
    assert planner_url(live) not in en.get(reverse("web:live", args=[live.public_id])).content.decode()


def test_owner_sets_the_public_match_and_the_planner_uses_it(en, brand):
    response = en.post(reverse("web:planner_settings"), {"public_match_percent": "50", "public_match_cap": "3000"})
    assert response.status_code == 302
    brand.org.refresh_from_db()
    assert (brand.org.public_match_bps, brand.org.public_match_cap) == (5_000, 3_000)
    assert 'value="50.00"' in en.get(reverse("web:settings")).content.decode()
    page = text(en.get(planner_url(upcoming(brand, 10_000))))
    assert "Forecast viewers 7,000" in page  # 4,000 show up + min(5,000, 3,000)


def test_bad_settings_are_refused_and_kept(en, brand):
    response = en.post(reverse("web:planner_settings"), {"public_match_percent": "-1", "public_match_cap": "x"},
                       follow=True)
    page = text(response)
    assert "greater than or equal to 0" in page and "Enter a whole number" in page
    brand.org.refresh_from_db()
    assert (brand.org.public_match_bps, brand.org.public_match_cap) == (10_000, 100_000)


def test_only_owners_change_the_planner_settings(brand):
    operator = member_client(brand.org, "ops", Member.OPERATOR)
    response = operator.post(reverse("web:planner_settings"), {"public_match_percent": "50",
                                                                "public_match_cap": "3000"})
    assert response.status_code == 403
    brand.org.refresh_from_db()
    assert brand.org.public_match_bps == 10_000
