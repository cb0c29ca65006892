"""A live as an iCalendar file (RFC 5545), so a viewer's calendar reminds them."""
from datetime import datetime, timezone

CRLF = "\r\n"


def escape(text: str) -> str:
    # RFC 5545 §3.3.11: backslash first, then the separators and line breaks.
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (§3.1), never
    splitting a UTF-8 character."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        limit = 75 if not out else 74  # a continuation line's leading space counts
        if len(current) + len(encoded) > limit:
            out.append(current.decode())
            current = b""
        current += encoded
    out.append(current.decode())
    return (CRLF + " ").join(out)


def utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def live_calendar(live, url: str, host: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Liveloop//Live preview//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape(live.public_id)}@{escape(host)}",
        f"DTSTAMP:{utc(now)}",
        f"DTSTART:{utc(live.announced_at)}",
        "DURATION:PT2H",
        f"SUMMARY:{escape(live.title)}",
        f"DESCRIPTION:{escape(live.account.name)}",
        f"URL:{url}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return CRLF.join(fold(line) for line in lines) + CRLF
