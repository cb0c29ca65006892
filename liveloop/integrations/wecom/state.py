"""The `state` carried by a 「联系我」 contact code and returned when a customer adds the member.

Format: "<live public id>.<promoter code>", at most 30 characters (WeCom's limit), e.g.
"L8f3k2abc.P4ZQ7XY" (17 characters for Liveloop's own ids). Either side may be empty — a
brand code outside any live is ".P4ZQ7XY", a live without a promoter "L8f3k2abc." — but not
both. Only letters, digits, '_' and '-' on each side, so the dot is unambiguous.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_STATE = 30
_PART = re.compile(r"[A-Za-z0-9_-]*")


class StateError(ValueError):
    pass


@dataclass(frozen=True)
class State:
    live: str | None
    promoter: str | None


def encode_state(live: str | None, promoter: str | None) -> str:
    state = f"{live or ''}.{promoter or ''}"
    parse_state(state)
    return state


def parse_state(state: str) -> State:
    if not isinstance(state, str) or not state:
        raise StateError("state: empty")
    if len(state) > MAX_STATE:
        raise StateError(f"state: longer than {MAX_STATE} characters")
    live, dot, promoter = state.partition(".")
    if not dot:
        raise StateError("state: no '.' between live and promoter")
    if not live and not promoter:
        raise StateError("state: names neither a live nor a promoter")
    for part in (live, promoter):
        if not _PART.fullmatch(part):
            raise StateError("state: only letters, digits, '_' and '-' around the '.'")
    return State(live or None, promoter or None)
