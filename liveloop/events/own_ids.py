"""A promoter's own viewer ids: the shop openid they buy and share with, and the person it
belongs to once a source linked it to other ids (rules.identity). Money leaves their own
reservations and purchases out of their pay (rules.earnings) and the fraud flags count them
as self-referrals (rules.fraud); both ask here, below them."""
from __future__ import annotations

from liveloop.events.models import ViewerLink
from liveloop.lib.bulk import select, select_in, sql_ids, table
from liveloop.lib.seq import chunks
from liveloop.promoters.models import Promoter


def own_ids(org, promoters=None, teams=None) -> dict[int, frozenset]:
    """For `promoters` and the members of `teams` (ids), or everyone with an openid. Plain SQL:
    the ledger asks every ingest batch (money.inputs)."""
    sql = f"SELECT id, openid FROM {table(Promoter)} WHERE org_id = %s AND openid <> ''"
    if promoters is not None or teams is not None:
        promoters, teams = list(promoters or ()), list(teams or ())
        terms = [f"id IN ({sql_ids(promoters)})"] if promoters else []
        terms += [f"team_id IN ({sql_ids(teams)})"] if teams else []
        if not terms:
            return {}
        sql += f" AND ({' OR '.join(terms)})"
    openids = dict(select(sql, org.pk))
    persons = dict(select_in(f"SELECT viewer, person FROM {table(ViewerLink)} WHERE org_id = %s AND viewer",
                             org.pk, set(openids.values())))
    return {pk: frozenset({openid, persons.get(openid, openid)}) for pk, openid in openids.items()}


def holders(org, viewers) -> set[int]:
    """The promoters one of `viewers` (ids or persons) is an own id of."""
    viewers = set(viewers)
    # Most organisations link no promoter to a shop openid: one query instead of two per 500
    # viewers of every batch with reservations.
    if not viewers or not Promoter.objects.for_org(org).exclude(openid="").exists():
        return set()
    return _openid_holders(org, viewers | _ids_of(org, viewers))


def moved(org, identities) -> set[int]:
    """The promoters whose own ids a batch's links moved (their openid joined another person):
    what counts as their own changes with no figure of theirs moving, so the fraud flags recount
    them and the ledger re-estimates them."""
    if not identities.changed:
        return set()
    # A merge also moved ids this batch never loaded: those now under the merged-into persons.
    persons = {identities.person_of(merged) for merged in identities.merged}
    return _openid_holders(org, set(identities.changed) | _ids_of(org, persons))


def _ids_of(org, persons) -> set[str]:
    """Every id linked to one of `persons`."""
    ids = set()
    for chunk in chunks(persons):
        ids.update(ViewerLink.objects.for_org(org).filter(person__in=chunk).values_list("viewer", flat=True))
    return ids


def _openid_holders(org, ids) -> set[int]:
    """The promoters whose shop openid is one of `ids`."""
    found = set()
    for chunk in chunks(ids):
        found.update(Promoter.objects.for_org(org).filter(openid__in=chunk).values_list("pk", flat=True))
    return found
