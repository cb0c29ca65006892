"""Field types the API's input schemas share."""
from typing import Annotated

from pydantic import AfterValidator

from liveloop.rules.text import text_problem


def _plain(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A name or title typed by a person: no control, invisible or direction-changing characters.
PlainText = Annotated[str, AfterValidator(_plain)]
