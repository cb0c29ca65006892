"""What a name typed by a person may contain (no Django here: the API and forms share it).

Control characters (NUL breaks PostgreSQL text, ESC drives terminals reading logs) and
characters that hide or reorder text (a right-to-left override turns "gpj.exe" into what looks
like "exe.jpg"; a zero-width space makes "张\u200b三" look like another promoter's "张三") are
refused. Joiners stay allowed: emoji sequences such as 👨‍👩‍👧 are made with them.
"""
import unicodedata

# Bidirectional marks, embeddings, overrides and isolates; zero-width space, word joiner,
# BOM / zero-width no-break space; Mongolian vowel separator (renders as nothing).
HIDING = frozenset({"\u061c", "\u200b", "\u200e", "\u200f", "\u2060", "\ufeff", "\u180e",
                    *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))})


def text_problem(value: str) -> str | None:
    """Why `value` cannot be a name, or None when it can."""
    for char in value:
        if unicodedata.category(char) == "Cc":
            return f"must not contain control characters (U+{ord(char):04X})"
        if char in HIDING:
            return f"must not contain invisible or direction-changing characters (U+{ord(char):04X})"
    return None
