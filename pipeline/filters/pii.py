"""PII: e-mail addresses, IP addresses and phone numbers, counted and redacted (or dropped).

Signals pii_email, pii_ip, pii_phone count what was found. `pii.mode` decides what follows:
redact (replace each with a placeholder, Dolma's convention), drop (reason `pii` when anything
was found) or off (count only).

The patterns aim at few false positives, since a redaction in good text damages it:
- an IP is four dot-separated numbers 0-255 that are not part of a longer dotted number and do
  not follow a version word ("version 1.2.0.4", "v10.0.0.1"); three-part versions (3.11.2)
  never match. IPv6 candidates are confirmed by the `ipaddress` module.
- a phone number has 10 to 15 digits in groups (9 to 15 with a "+" country code or an area code
  in parentheses); digits separated only by spaces count only after "+" or a leading trunk "0",
  so a run of years or table numbers is not a phone. Dates have at most 8 digits and so never
  qualify.
"""

from __future__ import annotations

import ipaddress
import re

from pipeline.config import PIIConfig
from pipeline.documents import PII, Document, FilterResult

EMAIL_PLACEHOLDER = "|||EMAIL_ADDRESS|||"
IP_PLACEHOLDER = "|||IP_ADDRESS|||"
PHONE_PLACEHOLDER = "|||PHONE_NUMBER|||"

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4_RE = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
VERSION_CONTEXT_RE = re.compile(r"(?:\bv|version|release|build|ver\.?|rev\.?)\s*$", re.IGNORECASE)
IPV6_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

PHONE_RE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{1,4}){1,5}(?![\w-]|\.\d)"
    r"|(?<![\w+.-])\+\d{8,15}(?!\w)"
)
HAS_DIGIT = re.compile(r"\d").search
DATE_RE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")


def _is_ip(match: re.Match, text: str) -> bool:
    before = text[max(0, match.start() - 12) : match.start()]
    return not VERSION_CONTEXT_RE.search(before)


def _is_ipv6(candidate: str) -> bool:
    if candidate.count(":") < 2 or not re.search(r"[0-9]", candidate):
        return False
    if "::" not in candidate and candidate.count(":") != 7:
        return False  # "12:30:45" is a time, not an address
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _is_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    international = candidate.startswith("+") or "(" in candidate
    if not (10 if not international else 9) <= digits <= 15:
        return False
    if DATE_RE.fullmatch(candidate):
        return False
    if not international:
        separators = set(re.findall(r"[ .-]", candidate))
        if len(separators) > 1:
            return False  # "123.45 678.90": figures, not one number written one way
        if separators == {" "} and not candidate.startswith("0"):
            return False  # space-separated numbers are phones only with "+" or a trunk "0"
    groups = re.split(r"[ .\-()+]+", candidate.strip("+( "))
    # "12.5 13.2 ..." style decimals and long single groups are figures, not phone numbers
    return not any(len(g) > 4 for g in groups if g) or candidate.startswith("+")


def find_pii(text: str) -> dict[str, list[tuple[int, int]]]:
    """Spans of e-mails, IP addresses and phone numbers in `text` (non-overlapping, by kind)."""
    emails = [m.span() for m in EMAIL_RE.finditer(text)]
    taken = [*emails]

    def free(span: tuple[int, int]) -> bool:
        return all(span[1] <= a or span[0] >= b for a, b in taken)

    ips = [m.span() for m in IPV4_RE.finditer(text) if _is_ip(m, text) and free(m.span())]
    ips += [m.span() for m in IPV6_RE.finditer(text) if _is_ipv6(m.group()) and free(m.span())]
    taken += ips
    phones = [m.span() for m in PHONE_RE.finditer(text) if _is_phone(m.group()) and free(m.span())]
    return {"email": emails, "ip": sorted(ips), "phone": phones}


def redact(text: str, spans: dict[str, list[tuple[int, int]]]) -> str:
    placeholders = {"email": EMAIL_PLACEHOLDER, "ip": IP_PLACEHOLDER, "phone": PHONE_PLACEHOLDER}
    edits = sorted((a, b, placeholders[kind]) for kind, found in spans.items() for a, b in found)
    out, last = [], 0
    for a, b, placeholder in edits:
        out.append(text[last:a])
        out.append(placeholder)
        last = b
    out.append(text[last:])
    return "".join(out)


class PIIFilter:
    """Counts PII (signals pii_email, pii_ip, pii_phone); redacts, drops (reason `pii`) or only
    counts, as `pii.mode` says."""

    name = "pii"

    def __init__(self, config: PIIConfig):
        self.mode = config.mode

    def filter(self, doc: Document) -> FilterResult:
        # cheap pre-checks: most documents hold no "@", no dotted or colon numbers, few digits
        text = doc.text
        spans = find_pii(text) if ("@" in text or HAS_DIGIT(text)) else {"email": [], "ip": [], "phone": []}
        doc.signals["pii_email"] = len(spans["email"])
        doc.signals["pii_ip"] = len(spans["ip"])
        doc.signals["pii_phone"] = len(spans["phone"])
        found = any(spans.values())
        if found and self.mode == "drop":
            return False, PII
        if found and self.mode == "redact":
            doc.text = redact(text, spans)
        return True
