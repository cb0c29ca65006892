"""Punctuation in the page's language: Chinese pages join with full-width marks (：；，、（）),
English ones with ASCII — never an English colon or full stop after Chinese text."""
from django.utils.translation import get_language


def chinese() -> bool:
    return (get_language() or "").startswith("zh")


def labelled(label, value) -> str:
    """"标签：值" / "label: value"."""
    return f"{label}{'：' if chinese() else ': '}{value}"


def sentences(parts) -> str:
    """Clauses of one sentence, empty ones left out: "甲；乙。" / "a; b" (a clause's own 。 gives
    way to the ；, as Django's messages end in one)."""
    parts = [str(p) for p in parts if p]
    if not chinese():
        return "; ".join(parts)
    return "；".join([p.removesuffix("。") for p in parts[:-1]] + parts[-1:])


def listed(parts) -> str:
    """Items of a list: "甲、乙" / "a, b"."""
    return ("、" if chinese() else ", ").join(str(p) for p in parts)


def named(name, code) -> str:
    """A name with its code: "张三（P001）" / "张三 (P001)"."""
    return f"{name}（{code}）" if chinese() else f"{name} ({code})"
