"""What the page walk (test_walk.py) checks on every page it opens: nothing wider than the
screen, no visible string outside the translation catalogue or the page's own data, and no
time in a zone other than the organisation's."""
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import translation

# The outermost elements that stick out past the right edge (their parent does not), widest
# first: the ones to fix. Elements inside a scrolling or clipping box cannot widen the page.
OVERFLOW_SCRIPT = """() => {
  // clientWidth, not innerWidth: a phone zooms out to show a page wider than itself, and
  // innerWidth grows with it; the layout viewport stays the screen's width.
  const width = document.documentElement.clientWidth, page = document.documentElement.scrollWidth;
  if (page <= width) return null;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o !== "visible") return true;
    }
    return false;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    [...el.classList].map((c) => "." + c).join("") + " «" + (el.innerText || "").trim().slice(0, 40) + "»";
  // How far right an element reaches: its box, or its content when that spills out of the
  // box (a long unbreakable line in a narrow paragraph).
  const reach = (el) => {
    const r = el.getBoundingClientRect();
    const spill = getComputedStyle(el).overflowX === "visible" ? r.left + el.scrollWidth : r.right;
    return Math.max(r.right, spill);
  };
  const out = [];
  const all = [...document.body.querySelectorAll("*")];
  // An absolutely placed element escapes a scrolling box that is not positioned: when no
  // element outside such boxes sticks out, name the ones inside them.
  const loose = all.filter((el) => reach(el) > width + 1 && !clipped(el));
  for (const el of (loose.length ? loose : all)) {
    const right = reach(el);
    if (right <= width + 1) continue;
    if (el.parentElement !== document.body && reach(el.parentElement) > width + 1 &&
        el.parentElement.getBoundingClientRect().right > width + 1) continue;
    out.push({right: Math.round(right), width: Math.round(el.getBoundingClientRect().width), what: describe(el)});
  }
  out.sort((a, b) => b.right - a.right);
  return {page, width, widest: out.slice(0, 3)};
}"""

# Text squeezed to a character per line (issue 19: the room's names on a phone): a text of
# two or more characters laid out on as many lines as it has characters. Text hidden for
# screen readers only (a 1 px box) is left out.
SQUEEZED_SCRIPT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const chars = [...node.textContent.trim()];
    const parent = node.parentElement;
    if (chars.length < 2 || !parent || parent.closest(".visually-hidden, [hidden], script, style, option")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
    if (lines.size >= 2 && lines.size >= chars.length) out.push(chars.join("").slice(0, 30));
  }
  return out;
}"""

# What a person reads: the rendered text (not hidden elements), the tab's title, placeholders
# and the labels of input buttons.
TEXT_SCRIPT = """() => [document.title, document.body.innerText,
  ...[...document.querySelectorAll("[placeholder]")].map((el) => el.placeholder),
  ...[...document.querySelectorAll("input[type=submit], input[type=button]")].map((el) => el.value),
].join("\\n")"""

# A run of Latin letters with the digits and punctuation that hold a code or address
# together ("statement.approve", "L4scqn6gt", "http://…/join/x/"). Trailing punctuation is
# a sentence's, not the word's.
WORD = re.compile(r"[A-Za-z0-9_./:@#=?&%+-]*[A-Za-z][A-Za-z0-9_./:@#=?&%+-]*")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w*\}|%[sd]")
# Words a Chinese page may show that no catalogue entry or data row holds: the product's
# name and the language switch, which names English in English on purpose.
ALWAYS_ALLOWED = {"Liveloop", "English"}
# A number standing alone (not part of a code such as SH0001234567).
NUMBER = re.compile(r"(?<![A-Za-z0-9_.,])\d[\d,]*(?:\.\d+)?(?![A-Za-z0-9_])")


def words(text: str) -> set[str]:
    return {w.rstrip(".:/-?=&") for w in WORD.findall(PLACEHOLDER.sub(" ", text))}


def catalogue_words(language: str = "zh-hans") -> set[str]:
    """Every Latin word the language's catalogue itself uses in a translation (ours and
    Django's, e.g. GMV, CSV, Excel): a page may show those."""
    catalogue = translation.trans_real.translation(language)._catalog
    found = set()
    for _key, translated in catalogue.items():
        if _key and isinstance(translated, str):  # "" is the catalogue's header
            found |= words(translated)
    return found


@dataclass
class Checks:
    """The allow-lists and the known instants of one walk, and the problems found so far."""
    zone: ZoneInfo
    allowed: set[str]
    fen: set[int]                 # amounts in fen of the walk's data (distinctive ones)
    instants: list[datetime]      # known event times: never shown as UTC wall-clock time
    started: datetime             # the walk's data was made from here: "now" times are newer
    problems: list[str] = field(default_factory=list)

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def page(self, page, where: str) -> str:
        """Run every check on the page as it stands; returns its visible text."""
        overflow = page.evaluate(OVERFLOW_SCRIPT)
        if overflow:
            widest = "; ".join(f"{w['what']} (right edge {w['right']} px, {w['width']} px wide)"
                               for w in overflow["widest"]) or "no single element"
            self.fail(where, f"{overflow['page']} px wide in a {overflow['width']} px window; widest: {widest}")
        squeezed = page.evaluate(SQUEEZED_SCRIPT)
        if squeezed:
            self.fail(where, f"text squeezed to a character per line: {squeezed[:5]}")
        text = page.evaluate(TEXT_SCRIPT)
        self.text(text, where)
        return text

    def text(self, text: str, where: str) -> None:
        stray = sorted(w for w in words(text) if w and w not in self.allowed and not w.startswith(("http://", "https://", "/")))
        if stray:
            self.fail(where, f"English or raw codes outside the catalogue: {stray[:20]}")
        shown_fen = sorted({n for n in NUMBER.findall(text) if "." not in n and int(n.replace(",", "")) in self.fen})
        if shown_fen:
            self.fail(where, f"amounts in fen shown as they are: {shown_fen}")
        # As a word: a random key or token on the page may hold the letters "UTC".
        for marker in re.findall(r"(?<![A-Za-z0-9])(?:UTC|GMT)(?![A-Za-z0-9])|\+00:00", text):
            self.fail(where, f"a time marked {marker}: …{_around(text, marker)}…")
            break
        iso = re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)
        if iso:
            self.fail(where, f"a machine (ISO) time: {iso.group()}")
        for shown in sorted(self.utc_clock_times() & set(re.findall(r"(?<!\d)\d\d:\d\d(?!\d)", text))):
            self.fail(where, f"{shown} is a known event's time in UTC, not in {self.zone.key}: …{_around(text, shown)}…")

    def utc_clock_times(self) -> set[str]:
        """HH:MM of the known instants in UTC, less any that is also a local time the page
        could rightly show (a known instant's, or any minute since the walk's data was made)."""
        local = {i.astimezone(self.zone).strftime("%H:%M") for i in self.instants}
        now = datetime.now(self.zone) + timedelta(minutes=1)
        minute = self.started.astimezone(self.zone) - timedelta(minutes=1)
        while minute <= now:
            local.add(minute.strftime("%H:%M"))
            minute += timedelta(minutes=1)
        utc = {i.astimezone(ZoneInfo("UTC")).strftime("%H:%M") for i in self.instants}
        return utc - local

    def local(self, instant: datetime) -> str:
        return instant.astimezone(self.zone).strftime("%H:%M")


def _around(text: str, needle: str, span: int = 40) -> str:
    at = text.find(needle)
    return text[max(0, at - span): at + len(needle) + span].replace("\n", " ")
