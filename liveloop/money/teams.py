"""Team leaders and the team above: who overrides pay on (rules.commission)."""
from __future__ import annotations

from django.db import transaction

from liveloop.money import inputs
from liveloop.money.ledger import accrue_open_lives
from liveloop.orgs import audit
from liveloop.promoters.models import Team
from liveloop.rules.commission import TeamError, check_teams


@transaction.atomic
def set_leadership(org, user, team: Team, *, leader=None, parent: Team | None = None) -> None:
    """Change a team's leader and parent; refused (TeamError) when the teams would no longer
    form a tree or one person would lead a team and its parent. Open lives' estimates follow."""
    if parent is not None and parent.org_id != org.pk or leader is not None and leader.org_id != org.pk:
        raise TeamError("leader and parent must belong to this organisation")
    teams = inputs.teams_of(org)
    current = teams[team.pk]
    teams[team.pk] = type(current)(current.id, leader.pk if leader else None,
                                   parent.pk if parent else None, current.members)
    check_teams(teams.values())
    before = {"leader": team.leader_id, "parent": team.parent_id}
    team.leader, team.parent = leader, parent
    team.save(update_fields=["leader", "parent"])
    audit.record(org, user, "team.leadership", f"team {team.name}", before=before,
                 after={"leader": team.leader_id, "parent": team.parent_id})
    accrue_open_lives(org)
