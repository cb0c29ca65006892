"""Names in the order a Chinese reader expects: by pinyin (阿 a, 李 li, 林 lin, 王 wang, 张 zhang),
not by code point, where 张 (U+5F20) comes before 李 (U+674E).

SQL cannot sort by pinyin, so the key is computed once when a name is saved (Promoter and
Team keep it in a `name_pinyin` column) and the database sorts by it: a page of the 1,000-row
promoter table stays one LIMIT/OFFSET query. pypinyin costs about 0.4 ms a name, too slow to
run over every row on every page view.

The key uses only [0-9a-z], so PostgreSQL's collation (whatever the database's locale) and
SQLite's byte order agree on it: each syllable is padded to six letters with "0", which sorts
before every letter (so li 李 comes before lin 林, as in a dictionary), then its tone (1-5).
"""
import re

from pypinyin import Style, lazy_pinyin

KEY_LENGTH = 255          # the column's length: enough to order by, however long the name
_SYLLABLE = 6             # the longest pinyin syllable (zhuang, shuang) without its tone
_NOT_KEY = re.compile(r"[^0-9a-z]")

# Surnames pypinyin reads by their common word: as a surname 曾 is zeng (not ceng), 单 shan
# (not dan). Only the first character of a name is read this way.
SURNAMES = {
    "曾": "zeng1", "单": "shan4", "解": "xie4", "仇": "qiu2", "区": "ou1", "查": "zha1",
    "朴": "piao2", "盖": "ge3", "繁": "po2", "缪": "miao4", "种": "chong2", "乐": "yue4",
    "尉": "yu4", "覃": "qin2", "翟": "zhai2", "员": "yun4", "过": "guo1", "句": "gou1",
}


def _syllable(reading: str) -> str:
    letters, tone = reading[:-1], reading[-1]
    return letters.ljust(_SYLLABLE, "0") + tone


def pinyin_key(name: str) -> str:
    """The sort key of a name: 张三 → "zhang01san0001"; letters and digits of other scripts
    are kept lower-cased (Amy → "amy"); emoji, spaces and punctuation leave no trace."""
    name = (name or "").strip()
    readings = lazy_pinyin(name, style=Style.TONE3, neutral_tone_with_five=True)
    if readings and name[:1] in SURNAMES:
        readings[0] = SURNAMES[name[0]]
    parts = []
    for reading in readings:
        if reading.isascii() and reading[-1:].isdigit() and reading[:-1].isalpha() and len(reading) <= 7:
            parts.append(_syllable(reading.lower()))
        else:  # a run pypinyin left alone: Latin letters, digits, emoji, punctuation
            parts.append(_NOT_KEY.sub("", reading.lower()))
    return "".join(parts)[:KEY_LENGTH]
