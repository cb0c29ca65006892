"""Which column is which field: the usual Chinese headers of WeChat shop and Excel exports,
their English names, and an explicit override for anything else."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("orders", "refunds", "reservations", "promoters")

_VIEWER = ("买家openid", "用户openid", "openid", "viewer", "用户id", "用户")
_LIVE = ("直播间id", "直播id", "live")
_PROMOTER = ("分享员openid", "分享员", "推广员", "推广员编号", "promoter")

# kind → field → accepted headers (compared after `normalise`).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order": ("订单号", "订单编号", "order", "order_id"),
        "at": ("支付时间", "付款时间", "下单时间", "paid_at", "at"),
        "amount": ("实付金额", "实付款", "支付金额", "订单金额", "amount"),
        "viewer": _VIEWER,
        "promoter": _PROMOTER,
        "live": _LIVE,
    },
    "refunds": {
        "aftersale": ("售后单号", "退款单号", "aftersale", "refund_id"),
        "order": ("订单号", "订单编号", "order", "order_id"),
        "amount": ("退款金额", "退款", "refund_amount", "amount"),
        "at": ("退款时间", "售后时间", "refunded_at", "at"),
        "viewer": _VIEWER,
        "live": _LIVE,
    },
    "reservations": {
        "at": ("预约时间", "reserved_at", "at"),
        "viewer": _VIEWER,
        "promoter": ("推广员", "推广员编号", "分享员openid", "分享员", "promoter"),
        "live": _LIVE,
    },
    "promoters": {
        "name": ("姓名", "名字", "name"),
        "phone": ("手机号", "手机", "手机号码", "电话", "phone"),
        "team": ("门店", "团队", "门店名称", "team"),
        "code": ("编号", "推广员编号", "code"),
        "openid": ("openid", "分享员openid"),
    },
}

REQUIRED = {
    "orders": ("order", "at", "amount", "viewer"),
    "refunds": ("order", "amount", "at", "viewer"),
    "reservations": ("at", "viewer"),
    "promoters": ("name",),
}
# A live comes from a column or from --live for the whole file.
NEEDS_LIVE = frozenset({"orders", "refunds", "reservations"})

_UNIT = re.compile(r"\((分|元|fen|yuan|cny|rmb)\)$")


def normalise(header) -> str:
    text = "" if header is None else str(header)
    text = text.replace("\ufeff", "").replace("（", "(").replace("）", ")")
    return re.sub(r"\s+", "", text).lower()


def _unit(header: str) -> tuple[str, str | None]:
    """"实付金额(分)" → ("实付金额", "分"): the unit decides yuan or fen."""
    match = _UNIT.search(header)
    if match is None:
        return header, None
    return header[:match.start()], match.group(1)


class HeaderError(ValueError):
    pass


@dataclass
class HeaderMap:
    kind: str
    headers: list[str]
    fields: dict[str, int] = field(default_factory=dict)
    fen: set[str] = field(default_factory=set)  # fields whose column is already in fen
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def column(self, name: str) -> str:
        """The file's header for a field, for error messages; the field name if it has none."""
        index = self.fields.get(name)
        return self.headers[index] if index is not None else name

    def expected(self, name: str) -> str:
        return " / ".join(ALIASES[self.kind][name])

    def error(self) -> str | None:
        if not self.missing:
            return None
        wanted = "; ".join(f"{name}: {self.expected(name)}" for name in self.missing)
        return f"缺少必需的列 (missing required columns) — {wanted}"


def map_headers(headers: list, kind: str, overrides: dict[str, str] | None = None,
                live_given: bool = False) -> HeaderMap:
    """Find each field's column. `overrides` maps a header as written in the file to a field and
    wins over the aliases; a field found twice keeps its first column, the rest are ignored."""
    if kind not in ALIASES:
        raise HeaderError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    aliases = ALIASES[kind]
    result = HeaderMap(kind, [("" if h is None else str(h)).replace("\ufeff", "").strip() for h in headers])
    forced = {}
    for header, name in (overrides or {}).items():
        if name not in aliases:
            raise HeaderError(f"--map {header}={name}: {name!r} is not a field of {kind} "
                              f"({', '.join(aliases)})")
        forced[normalise(header)] = name
    lookup = {alias: name for name, names in aliases.items() for alias in names}
    found: list[tuple[int, str, str | None]] = []  # (column, field, unit)
    for index, raw in enumerate(headers):
        full = normalise(raw)
        bare, unit = _unit(full)
        found.append((index, forced.get(full) or forced.get(bare), unit))
    taken = {name for _, name, _ in found if name}
    for index, raw in enumerate(headers):
        _, name, unit = found[index]
        if name is None:
            full = normalise(raw)
            name = lookup.get(full) or lookup.get(_unit(full)[0])
            if name in taken:  # an explicit --map for this field wins over the usual header
                name = None
        if name is None or name in result.fields:
            if normalise(raw):
                result.ignored.append(result.headers[index])
            continue
        result.fields[name] = index
        if unit in ("分", "fen"):
            result.fen.add(name)
    required = list(REQUIRED[kind])
    if kind in NEEDS_LIVE and not live_given:
        required.append("live")
    result.missing = [name for name in required if name not in result.fields]
    return result


def parse_overrides(pairs) -> dict[str, str]:
    """["实付=amount", …] from the command line → {"实付": "amount"}."""
    overrides = {}
    for pair in pairs or ():
        header, sep, name = pair.rpartition("=")
        if not sep or not header.strip() or not name.strip():
            raise HeaderError(f"--map {pair!r}: expected HEADER=FIELD")
        overrides[header.strip()] = name.strip()
    return overrides
