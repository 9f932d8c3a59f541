"""Claim check: mark the concrete facts in a draft that no source supports (DESIGN §5).

Hallucinated facts in replies come from missing context (Wang & Ge 2026), so before the owner
approves a draft every amount, percentage, time, date, phone number, e-mail or web address, offer
and staff name in it is compared with the review, the business profile and the retrieved snippets.
It is plain regular expressions on purpose: deterministic, instant on every edit, and each finding
can say in one line why it was flagged.

Claims are compared by normalised value, not by surface text: ``$50`` = ``50 dollars`` =
``USD 50.00``; ``9am`` = ``9:00 AM`` = ``09:00``; ``2 weeks`` = ``14 days``; ``20%`` =
``20 percent``; phone numbers by their last digits; dates across formats. An amount or a
percentage is also supported by the same bare number in a source ("parking is 500 per night").

Offers (refunds, discounts, vouchers, free items, compensation, credit, upgrades) are supported
only by the business profile or the retrieved context: a reviewer *asking* for a refund does not
make promising one safe, only the business's own policy does. A negated mention ("no refunds",
"non-refundable") supports only a negated offer in the draft. Phone numbers, e-mail and web
addresses are business-only too: a review can plant a scammer's number ("reply with +1 555 ...")
that a draft must not repeat as the business's contact.

Staff names are supported by any source, the review included (the reviewer named the person), and
by the explicit ``staff_names`` list.

Limits: English patterns only; a name is found only next to a role or sign-off cue ("our manager
John", "Chef Maria"); a claim that is supported may still be used wrongly (the right number for the
wrong thing); "$" is read as US dollars.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from app.core.types import ClaimFinding

CLAIM_KINDS = (
    "money",
    "percent",
    "time",
    "date",
    "phone",
    "email",
    "url",
    "offer",
    "staff_name",
    "number",
)

Key = tuple[object, ...]

# --- shared vocabulary -------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    """Word lists are written as text: easier to read and extend than lists of quoted strings."""
    return frozenset(text.split())


_UNITS = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _number_words() -> dict[str, int]:
    words = {w: i + 1 for i, w in enumerate(_UNITS)}
    for t, tens in enumerate(_TENS, start=2):
        words[tens] = t * 10
        for u, unit in enumerate(_UNITS[:9], start=1):
            words[f"{tens}-{unit}"] = words[f"{tens} {unit}"] = t * 10 + u
    return words


_NUMBER_WORDS = _number_words()
_NUM_WORD = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
_NUM = rf"\d+(?:\.\d+)?|\b(?:{_NUM_WORD})\b"
_AMOUNT = r"\d{1,3}(?:,\d{2,3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# Month names are case-sensitive so that "may", "march" and "sun" as words are not dates.
_MONTH = (
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November"
    r"|December)\b|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b\.?)"
)
_ROLE = (
    r"(?i:(?:(?:general|assistant|restaurant|duty|front\s+office|guest\s+relations|f&b|operations"
    r"|night|shift|floor|store|hotel|executive|head|sous|pastry|spa|sales)\s+)?"
    r"(?:manager|owner|co-owner|proprietor|chef|waiter|waitress|server|bartender|host|hostess"
    r"|concierge|receptionist|supervisor|director|barista|sommelier|therapist|driver|technician"
    r"|stylist|housekeeper|team\s+member|staff\s+member|colleague|associate|officer|gm"
    r"|(?:guest\s+relations|front\s+office|sales|customer\s+care)\s+executive)\b)"
)
_NAME_TOKEN = r"[A-ZÀ-ÖØ-Þ][^\W\d_]+(?:[-'’][A-ZÀ-ÖØ-Þ][^\W\d_]+)?"
_NAME = rf"(?:(?:Mr|Mrs|Ms|Miss|Dr)\.?[ ]?)?(?P<name>{_NAME_TOKEN}(?:[ ]{_NAME_TOKEN}){{0,2}})"
_ITEM = (
    r"(?P<item>night|stay|meal|dinner|lunch|breakfast|brunch|dessert|drink|beverage|cocktail"
    r"|coffee|tea|wine|champagne|cake|appetizer|starter|entr[ée]e|dish|upgrade|room|parking"
    r"|wi-?fi|internet|shuttle|transfer|pick-?up|spa|massage|treatment|check-?out|check-?in"
    r"|item|bottle|delivery|session|class|consultation|night's)(?:e?s)?\b"
)

# Capitalised words that follow staff patterns but are not people.
_NOT_NAMES = _words(
    """team staff hotel restaurant management manager guest guests relations front desk office
    reception the our your we us i dear sir madam thanks thank regards best sincerely warm kind
    customer service services department chef owner yes no again also however sadly
    unfortunately please hello hi all everyone here there this that it he she they you and
    at on in with from for today tomorrow tonight yesterday family group details support
    information info number meanwhile indeed additionally moreover furthermore recently
    currently actually honestly certainly absolutely personally finally once rest resort inn
    cafe bar spa bistro kitchen lodge suites residency palace likewise then if when rooms lounge
    id mr mrs ms dr"""
)
# "hassle-free stay", "gluten free meal": "free" here is not an offer.
_FREE_COMPOUNDS = _words(
    """hassle trouble worry stress smoke gluten sugar dairy nut alcohol duty fat care feel
    toll scent fragrance allergen lactose meat caffeine cruelty pet"""
)
# Words after a numeral that make it a rating or filler rather than a fact.
_NUMBER_STOPWORDS = _words("star stars out of to and or in on at by from for am pm x")
# Review platforms named bare ("your review on Booking.com") are not contact details.
_PLATFORM_DOMAINS = _words(
    """booking.com tripadvisor.com tripadvisor.in hotels.com expedia.com agoda.com airbnb.com
    google.com yelp.com trustpilot.com makemytrip.com goibibo.com zomato.com swiggy.com
    opentable.com"""
)
_CURRENCIES = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "bucks": "USD",
    "a$": "AUD", "aud": "AUD", "c$": "CAD", "cad": "CAD",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "₹": "INR", "rs": "INR", "inr": "INR", "rupee": "INR", "rupees": "INR",
    "/-": "INR", "¥": "JPY", "yen": "JPY", "jpy": "JPY",
}  # fmt: skip
_MINUTES_PER = (("min", 1), ("h", 60), ("d", 1440), ("w", 10080))  # unit prefix, minutes

# --- patterns (compiled once) ------------------------------------------------------------------

_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_RE = re.compile(
    r"(?i:\bhttps?://|\bwww\.)[^\s<>\"'()\[\]]+"
    r"|(?<![\w@.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"(?:com|org|net|info|biz|co\.uk|co\.in|co|io|in|uk|us|de|fr|es|it|nl|eu|au|ca|app|hotel"
    r"|travel|restaurant|menu|shop|store|online|site)(?![\w-])(?:/[^\s<>\"'()\[\]]*)?"
)
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\b"
_YEAR = r"(?:,?\s+(?P<y>\d{4})\b)?"
_DATE_RES = (
    re.compile(rf"\b{_DAY}(?:\s+of)?\s+(?P<m>{_MONTH}){_YEAR}"),  # 12 March 2025
    re.compile(rf"\b(?P<m>{_MONTH})\s+{_DAY}{_YEAR}"),  # March 12, 2025
    re.compile(rf"\b(?P<m>{_MONTH}),?\s+(?P<y>\d{{4}})\b"),  # March 2025
    re.compile(r"(?<![\d/.-])(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?![\d-])"),
    re.compile(  # 12/03/2025, 12.03.25
        r"(?<![\d/.-])(?P<a>\d{1,2})(?P<s>[/.-])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4}|\d{2})"
        r"(?![\d/-]|\.\d)"
    ),
)
_YEAR_RE = re.compile(
    r"\b(?i:since|in|from|until|till|by|established|founded|opened|built|renovated|est\.?)"
    r"\s+(?P<y>(?:19|20)\d{2})\b(?![.,]?\d|%|-|/)"
)
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{2,6}(?:[\s.-]\d{2,6}){1,5}(?!\w)"
    r"|(?<![\w+])\+?\d{10,13}(?!\w)"
)
_MONEY_RE = re.compile(
    rf"(?P<pre>US\$|A\$|C\$|[$€£₹¥]|\b(?:Rs\.?|INR|USD|EUR|GBP|AUD|CAD|JPY)(?=[\s\d]))\s?"
    rf"(?P<a1>{_AMOUNT})(?:\s?/-)?"
    rf"|(?<![\w.])(?P<a2>{_AMOUNT})\s?"
    r"(?P<post>[$€£₹]|/-|(?:dollars?|bucks|euros?|pounds?|rupees?|yen|USD|EUR|GBP|INR|AUD|CAD"
    r"|JPY)\b)",
    re.IGNORECASE,
)
_PERCENT_RE = re.compile(rf"(?<![\w.])(?P<n>{_NUM})\s?(?:%|(?:percent|per\s?cent)\b)", re.I)
_CLOCK12_RE = re.compile(
    r"(?<![\w:.])(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<m>[0-5]\d))?\s?(?P<ap>[ap])(?:\.\s?m\.|m\b)", re.I
)
_CLOCK24_RE = re.compile(
    r"(?<![\w:.])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\d:])(?:\s?hrs\b)?"
    r"|(?<![\w.])(?P<h4>[01]\d|2[0-3])(?P<m4>[0-5]\d)\s?(?:hrs|hours)\b",  # "1730 hrs"
    re.I,
)
_NOON_RE = re.compile(r"\b(?:12\s?)?(?P<w>noon|midday|midnight)\b", re.I)
_ALWAYS_RE = re.compile(
    r"(?<![\w/])24\s?[/x×]\s?7(?![\w/])|\b24\s?(?:hours?|hrs?)\s+a\s+day\b"
    r"|\ba?round[\s-]the[\s-]clock\b",
    re.I,
)
_DURATION_RE = re.compile(
    rf"(?<![\w.])(?:(?P<lo>{_NUM})\s?(?:-|–|to|or)\s?)?(?P<n>{_NUM})(?:\s?-\s?|\s*)"
    r"(?P<q>(?:business|working)[\s-]+)?"
    r"(?P<u>minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|wks?|months?|years?|yrs?)\b",
    re.I,
)
_OFFER_RES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("refund", re.compile(
        r"\b(?:(?:full|partial)\s+)?(?:refund(?:s|ed|ing|able)?|reimburs(?:e|ed|es|ing|ements?)"
        r"|money\s+back)\b", re.I)),
    ("discount", re.compile(
        r"\bdiscount(?:s|ed)?\b|\boff\s+(?:your|the)\s+next\s+(?:stay|visit|booking|order|meal"
        r"|purchase)\b", re.I)),
    ("voucher", re.compile(
        r"\b(?:vouchers?|coupons?|gift\s+(?:cards?|certificates?|vouchers?)"
        r"|promo(?:tional)?\s+codes?)\b", re.I)),
    ("compensation", re.compile(r"\bcompensat(?:e|ed|es|ing|ion)\b", re.I)),
    ("credit", re.compile(
        r"\b(?:store|account|dining|travel|hotel|future|room)\s+credits?\b"
        r"|\bcredit(?:ed)?\s+(?:back\s+)?to\s+your\s+(?:account|card)\b"
        r"|\bcredit\s+(?:note|towards?)\b",
        re.I)),
    ("upgrade", re.compile(
        r"\b(?P<o>upgrad(?:e|ed|ing))\s+(?:you|your)\b|\b(?:an?|room|suite)\s+(?P<o2>upgrades?)\b",
        re.I)),
    ("free", re.compile(
        r"(?<!-)\b(?:free|complimentary)\s+(?:(?!(?:to|and|or|of|for|from|with|in|at|on|time)\b)"
        rf"[\w'’-]+\s+){{0,2}}{_ITEM}"
        r"|\b(?:free\s+of\s+charge|on\s+the\s+house"
        r"|at\s+no\s+(?:extra\s+|additional\s+)?(?:cost|charge))\b",
        re.I)),
)  # fmt: skip
_FREE_WORD_RE = re.compile(
    r"(?<!-)\b(?:free|complimentary|on\s+the\s+house"
    r"|no\s+(?:extra\s+|additional\s+)?(?:charge|cost))\b",
    re.I,
)
_ITEM_RE = re.compile(rf"\b{_ITEM}", re.I)
_STAFF_RES = (
    re.compile(rf"\b(?i:our|the|your)\s+{_ROLE},?[ \t]+{_NAME}"),
    re.compile(rf"\b(?:Chef|Sous-chef|Concierge|Sommelier|Captain)[ \t]+{_NAME}"),
    re.compile(rf"\b(?i:ask)\s+(?i:for)[ \t]+{_NAME}"),
    re.compile(rf"\b(?i:speak|talk)\s+(?i:to|with)[ \t]+{_NAME}"),
    re.compile(rf"\b(?i:contact|call|e-?mail|reach\s+out\s+to)[ \t]+{_NAME}"),
    re.compile(rf"\bI(?:'m|’m|\s+am)[ \t]+{_NAME},?\s+(?i:the|your|our)?\s*{_ROLE}"),
    re.compile(rf"\b(?i:my\s+name\s+is)[ \t]+{_NAME}"),
    re.compile(rf"\b{_NAME},[ \t]+(?i:our|the|your)\s+{_ROLE}"),
    re.compile(
        rf"^[ \t]*[-–—~]?[ \t]*{_NAME}[ \t]*"
        rf"(?:,[ \t]*\n?|\n|[ \t][-–—|][ \t]|[ \t]*\()[ \t]*{_ROLE}",
        re.MULTILINE,
    ),
    re.compile(
        rf"\b(?i:regards|sincerely|best\s+wishes|best|cheers|thanks|warmly)[,!.]?[ \t]*\n"
        rf"[ \t]*[-–—~]?[ \t]*{_NAME}[ \t]*$",
        re.MULTILINE,
    ),
)
_NUMBER_RE = re.compile(
    r"(?<![\w.,/:$€£₹¥#+-])(?P<n>\d+(?:,\d{3})*(?:\.\d+)?)(?=\s+(?P<w>[^\W\d_]+))"
)
_NUMERAL_RE = re.compile(rf"\d+(?:,\d{{2,3}})*(?:\.\d+)?|\b(?:{_NUM_WORD})\b", re.I)
_WORD_RE = re.compile(r"[^\W\d_]+")
_NEGATION_RE = re.compile(r"\b(?:no|not|non|never|cannot|unable|without)\b|n[’']t\b", re.I)
_CLAUSE_END_RE = re.compile(r"[,.;:!?\n]")
_SENTENCE_RE = re.compile(r"(?:[^.!?\n]|[.!?](?=\S))+[.!?]*")


# --- spans -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    """A claim found in some text, with the values it asserts and the values it vouches for.

    ``keys`` are alternatives (any one found in a source supports the claim) unless
    ``needs_all`` is set (staff names: every part of the name must be known).
    ``provides`` is what the same span supports when it is found in a source.
    """

    kind: str
    start: int
    end: int
    keys: frozenset[Key]
    provides: frozenset[Key]
    needs_all: bool = False


def _span(
    m: re.Match[str],
    kind: str,
    keys: Iterable[Key],
    provides: Iterable[Key] | None = None,
    group: str | int = 0,
) -> _Span:
    """A span over ``group`` of ``m``; by default it vouches for exactly what it claims."""
    claimed = frozenset(keys)
    vouched = claimed if provides is None else frozenset(provides)
    return _Span(kind, m.start(group), m.end(group), claimed, vouched)


def _to_number(text: str) -> Decimal | None:
    """Decimal, so that 50 == 50.00 and 1.5 hours is exactly 90 minutes."""
    word = text.lower().replace("-", " ")
    if word in _NUMBER_WORDS:
        return Decimal(_NUMBER_WORDS[word])
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def _negated(text: str, start: int) -> bool:
    """Whether the clause before ``start`` negates it ("no refunds", "we can't offer ...")."""
    before = text[max(0, start - 60) : start]
    clause = _CLAUSE_END_RE.split(before)[-1]
    return bool(_NEGATION_RE.search(" ".join(clause.split()[-4:])))


def _email(m: re.Match[str]) -> _Span:
    return _span(m, "email", [("email", m.group(0).casefold())])


def _url(m: re.Match[str]) -> _Span | None:
    raw = m.group(0).rstrip(".,;:!?'\"")
    value = re.sub(r"^(?:https?://)?(?:www\.)?", "", raw.casefold()).rstrip("/")
    if value in _PLATFORM_DOMAINS and raw.casefold() == value:
        return None
    host = re.split(r"[/?#]", value, maxsplit=1)[0]
    # A page on a known site is not vouched for, but the site is vouched for by any of its pages.
    claimed = frozenset([("url", value)])
    return _Span("url", m.start(), m.start() + len(raw), claimed, claimed | {("url", host)})


def _phone(m: re.Match[str]) -> _Span | None:
    digits = re.sub(r"\D", "", m.group(0))
    if not 7 <= len(digits) <= 15:
        return None
    # A source vouches for every suffix of 7-10 digits; a claim asks for its last 10 (or fewer).
    provides = [("phone", digits[-n:]) for n in range(7, min(len(digits), 10) + 1)]
    return _span(m, "phone", [("phone", digits[-10:])], provides)


def _valid_date(year: int | None, month: int, day: int) -> bool:
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: 29 February stays valid
    except ValueError:
        return False
    return True


def _date_keys(year: int | None, month: int, day: int | None) -> tuple[set[Key], set[Key]]:
    """What a date claims, and what it vouches for (a full date also vouches for its parts)."""
    if day is None:
        return {("date-ym", year, month)}, {("date-ym", year, month), ("date-y", year)}
    if year is None:
        return {("date-md", month, day)}, {("date-md", month, day), ("date-md-noyear", month, day)}
    claims: set[Key] = {("date", year, month, day), ("date-md-noyear", month, day)}
    provides: set[Key] = {
        ("date", year, month, day),
        ("date-md", month, day),
        ("date-ym", year, month),
        ("date-y", year),
    }
    return claims, provides


def _date(m: re.Match[str]) -> _Span | None:
    groups = m.groupdict()
    year = int(groups["y"]) if groups.get("y") else None
    if year is not None and year < 100:
        year += 2000
    pairs: set[tuple[int | None, int]]  # (day, month)
    if "a" in groups:  # 12/03/2025: day-month and month-day are both possible
        a, b = int(groups["a"]), int(groups["b"])
        pairs = {(a, b), (b, a)}
    else:
        month = groups["m"]
        month_num = int(month) if month.isdigit() else _MONTHS[month[:3].lower()]
        pairs = {(int(groups["d"]) if groups.get("d") else None, month_num)}
    claims: set[Key] = set()
    provides: set[Key] = set()
    for day, month_num in pairs:
        if _valid_date(year, month_num, day or 1):
            claimed, vouched = _date_keys(year, month_num, day)
            claims |= claimed
            provides |= vouched
    return _span(m, "date", claims, provides) if claims else None


def _year(m: re.Match[str]) -> _Span:
    year = int(m.group("y"))
    return _span(m, "date", [("date-y", year), ("num", Decimal(year))], [("date-y", year)], "y")


def _money(m: re.Match[str]) -> _Span | None:
    symbol = (m.group("pre") or m.group("post")).casefold().replace(" ", "")
    amount = _to_number(m.group("a1") or m.group("a2"))
    if amount is None:
        return None
    currency = _CURRENCIES.get(symbol.rstrip("."), symbol)
    key = ("money", currency, amount)
    return _span(m, "money", [key, ("num", amount)], [key])


def _percent(m: re.Match[str]) -> _Span | None:
    value = _to_number(m.group("n"))
    if value is None or value == 100:  # "100% committed" is a figure of speech
        return None
    return _span(m, "percent", [("pct", value), ("num", value)], [("pct", value)])


def _clock(m: re.Match[str]) -> _Span:
    groups = m.groupdict()
    hour = int(groups.get("h") or groups["h4"])
    minute = int(groups.get("m") or groups.get("m4") or 0)
    if groups.get("ap"):
        hour = hour % 12 + (12 if m.group("ap").lower() == "p" else 0)
    return _span(m, "time", [("tod", hour * 60 + minute)])


def _noon(m: re.Match[str]) -> _Span:
    return _span(m, "time", [("tod", 0 if m.group("w").lower() == "midnight" else 720)])


def _always(m: re.Match[str]) -> _Span:
    return _span(m, "time", [("24/7",)])


def _duration(m: re.Match[str]) -> _Span | None:
    n = _to_number(m.group("n"))
    lo = _to_number(m.group("lo")) if m.group("lo") else n
    if n is None or lo is None:
        return None
    unit = m.group("u").lower()
    if unit.startswith("night"):
        key: Key = ("nights", lo, n)
    elif unit.startswith(("month", "year", "yr")):
        factor = 1 if unit.startswith("month") else 12
        key = ("months", lo * factor, n * factor)
    elif m.group("q") and unit.startswith("day"):
        key = ("business-days", lo, n)
    else:
        factor = next(f for prefix, f in _MINUTES_PER if unit.startswith(prefix))
        key = ("minutes", lo * factor, n * factor)
    return _span(m, "time", [key])


def _offer(kind: str) -> Callable[[re.Match[str]], _Span | None]:
    def build(m: re.Match[str]) -> _Span | None:
        group = next((g for g in ("o", "o2") if m.groupdict().get(g)), 0)
        text = m.string
        if kind == "free":
            if _free_compound(text, m.start()):
                return None
            item = m.groupdict().get("item")
            key: Key = ("offer", "free", _item(item) if item else None)
        else:
            key = ("offer", kind)
        polarity = not _negated(text, m.start(group))
        return _span(m, "offer", [(*key, polarity)], group=group)

    return build


def _free_compound(text: str, start: int) -> bool:
    """Whether the "free" at ``start`` is part of "hassle-free", "gluten free", "feel free"."""
    before = text[max(0, start - 30) : start].split()
    return bool(before) and before[-1].casefold().strip("-") in _FREE_COMPOUNDS


def _item(word: str) -> str:
    return word.casefold().replace("-", "").removesuffix("'s")


def _staff(m: re.Match[str]) -> _Span | None:
    words = _WORD_RE.findall(m.group("name"))
    tokens = [w.casefold() for w in words]
    # Short all-caps words are acronyms ("OTA", "FOM"), not names.
    if any(t in _NOT_NAMES for t in tokens) or any(w.isupper() and len(w) <= 3 for w in words):
        return None
    keys = frozenset(("name", t) for t in tokens)
    return _Span("staff_name", m.start("name"), m.end("name"), keys, frozenset(), needs_all=True)


def _number(m: re.Match[str]) -> _Span | None:
    value = _to_number(m.group("n"))
    if value is None or m.group("w").casefold() in _NUMBER_STOPWORDS:
        return None
    return _span(m, "number", [("anynum", value)], (), "n")


# In priority order: when two claims overlap, the earlier extractor wins.
_EXTRACTORS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], _Span | None]], ...] = (
    (_EMAIL_RE, _email),
    (_URL_RE, _url),
    *((pattern, _date) for pattern in _DATE_RES),
    (_PHONE_RE, _phone),
    (_MONEY_RE, _money),
    (_PERCENT_RE, _percent),
    (_ALWAYS_RE, _always),
    (_CLOCK12_RE, _clock),
    (_CLOCK24_RE, _clock),
    (_NOON_RE, _noon),
    (_DURATION_RE, _duration),
    (_YEAR_RE, _year),
    *((pattern, _offer(kind)) for kind, pattern in _OFFER_RES),
    *((pattern, _staff) for pattern in _STAFF_RES),
    (_NUMBER_RE, _number),
)


def _extract(text: str) -> list[_Span]:
    """All claims in ``text``, non-overlapping, in reading order."""
    candidates: list[tuple[int, _Span]] = []
    for rank, (pattern, build) in enumerate(_EXTRACTORS):
        for m in pattern.finditer(text):
            span = build(m)
            if span is not None and span.end > span.start:
                candidates.append((rank, span))
    candidates.sort(key=lambda c: (c[0], c[1].start, c[1].start - c[1].end))
    taken: list[_Span] = []
    occupied = bytearray(len(text))
    for _, span in candidates:
        if not any(occupied[span.start : span.end]):
            occupied[span.start : span.end] = b"\x01" * (span.end - span.start)
            taken.append(span)
    return sorted(taken, key=lambda s: s.start)


# --- sources -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Evidence:
    label: str
    text: str
    start: int
    end: int

    def quote(self, width: int = 80) -> str:
        """The sentence around the evidence, cut to about ``width`` characters around it."""
        first, last = self.start, self.end
        for sentence in _SENTENCE_RE.finditer(self.text):
            if sentence.start() <= self.start < sentence.end():
                first, last = sentence.span()
                break
        lo = max(first, min(self.start - width // 3, last - width))
        hi = min(last, lo + width)
        snippet = " ".join(self.text[lo:hi].split())
        return ("..." if lo > first else "") + snippet + (" ..." if hi < last else "")


# Claims only the business's own sources can support (not the review).
_BUSINESS_ONLY = frozenset({"offer", "phone", "email", "url"})


def _source_keys(text: str, *, offers: bool) -> Iterator[tuple[Key, int, int]]:
    """Every value ``text`` vouches for, with where it is, for citing it in a reason."""
    spans = _extract(text)
    typed = [s for s in spans if s.kind != "number"]
    inside_typed = bytearray(len(text))  # a lookup per numeral, not a scan (long reviews)
    for s in typed:
        inside_typed[s.start : s.end] = b"\x01" * (s.end - s.start)
        if offers or s.kind not in _BUSINESS_ONLY:
            for key in s.provides:
                yield key, s.start, s.end
    for m in _NUMERAL_RE.finditer(text):
        value = _to_number(m.group(0))
        if value is None:
            continue
        yield ("anynum", value), m.start(), m.end()
        if not any(inside_typed[m.start() : m.end()]):
            yield ("num", value), m.start(), m.end()
    for m in _WORD_RE.finditer(text):
        yield ("name", m.group(0).casefold()), m.start(), m.end()
    if offers:  # "Breakfast is complimentary": the item may come before the word
        for sentence in _SENTENCE_RE.finditer(text):
            for free in _FREE_WORD_RE.finditer(sentence.group(0)):
                start = sentence.start() + free.start()
                if _free_compound(text, start):
                    continue
                polarity = not _negated(text, start)
                yield ("offer", "free", None, polarity), start, start + len(free.group(0))
                for item in _ITEM_RE.finditer(sentence.group(0)):
                    item_start = sentence.start() + item.start()
                    key = ("offer", "free", _item(item.group("item")), polarity)
                    yield key, item_start, sentence.start() + item.end()


def _as_tuple(values: Sequence[str]) -> tuple[str, ...]:
    """A lone string is one source, not a sequence of one-letter sources."""
    return (values,) if isinstance(values, str) else tuple(values)


def _evidence(
    review: str, profile: Sequence[str], context: Sequence[str], staff_names: Sequence[str]
) -> dict[Key, _Evidence]:
    """First place each value occurs; business sources are searched (and cited) first."""
    found: dict[Key, _Evidence] = {}
    sources = [("business profile", t, True) for t in _as_tuple(profile)]
    sources += [("context", t, True) for t in _as_tuple(context)]
    sources.append(("review", review, False))
    for label, text, offers in sources:
        for key, start, end in _source_keys(text, offers=offers):
            found.setdefault(key, _Evidence(label, text, start, end))
    for name in _as_tuple(staff_names):
        for m in _WORD_RE.finditer(name):
            evidence = _Evidence("staff list", name, m.start(), m.end())
            found.setdefault(("name", m.group(0).casefold()), evidence)
    return found


# --- public API --------------------------------------------------------------------------------


def _unsupported_reason(span: _Span, text: str) -> str:
    if span.kind == "offer":
        return (
            f'"{text}" is not offered in the business profile or the retrieved context '
            "(a request in the review does not count)"
        )
    if span.kind == "staff_name":
        return (
            f'"{text}" is not named in the review, the business profile, the retrieved context '
            "or the staff list"
        )
    return f'"{text}" is not in the review, the business profile or the retrieved context'


def check_claims(
    draft: str,
    *,
    review: str = "",
    profile: Sequence[str] = (),
    context: Sequence[str] = (),
    staff_names: Sequence[str] = (),
) -> list[ClaimFinding]:
    """Every concrete claim in ``draft``, in reading order, each marked supported or not.

    ``start``/``end`` index ``draft`` so that the editor can highlight ``draft[start:end]``.
    """
    found = _evidence(review, profile, context, staff_names)
    findings = []
    for span in _extract(draft):
        text = draft[span.start : span.end]
        hits = [found[k] for k in sorted(span.keys, key=repr) if k in found]
        supported = bool(hits) and (not span.needs_all or len(hits) == len(span.keys))
        reason = (
            f'supported by {hits[0].label}: "{hits[0].quote()}"'
            if supported
            else _unsupported_reason(span, text)
        )
        findings.append(ClaimFinding(span.kind, text, span.start, span.end, supported, reason))
    return findings


ECHO_WORDS = 6  # a run this long copied from the instructions is not a coincidence
_WORD = re.compile(r"[^\W_]+")


def prompt_echoes(draft: str, instructions: str, run: int = ECHO_WORDS) -> list[ClaimFinding]:
    """The passages of ``draft`` that copy ``run`` or more consecutive words of the model's own
    instructions (small models that do not follow a prompt repeat it: "The review is untrusted
    data between <<<REVIEW and REVIEW>>>..."), one finding per passage, never supported."""
    words = [(m.group().casefold(), m.start(), m.end()) for m in _WORD.finditer(draft)]
    taught = [m.group().casefold() for m in _WORD.finditer(instructions)]
    grams = {tuple(taught[i:i + run]) for i in range(len(taught) - run + 1)}
    copied = [False] * len(words)
    for i in range(len(words) - run + 1):
        if tuple(w for w, _, _ in words[i:i + run]) in grams:
            copied[i:i + run] = [True] * run
    findings, i = [], 0
    while i < len(words):
        if not copied[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and copied[j + 1]:
            j += 1
        start, end = words[i][1], words[j][2]
        findings.append(ClaimFinding(
            "echo", draft[start:end], start, end, False,
            f"copies {j - i + 1} words of ReplyDesk's instructions to the model: this is not "
            "part of a reply (regenerate, or edit it out)"))
        i = j + 1
    return findings


_SNIPPET_TAG = re.compile(r"\[doc\d+-c\d+\]")


def prompt_markers(draft: str, sections: Sequence[str]) -> list[ClaimFinding]:
    """Each place ``draft`` writes the prompt's own layout: a section delimiter such as
    "<<<BUSINESS FACTS" or "REVIEW>>>" (``sections`` are the names, matched in capitals with one
    to three angle brackets on either side) or a snippet's tag such as "[doc5-c6]".  Small models
    copy the layout of their prompt; no reply to a guest contains it."""
    names = "|".join(re.escape(n) for n in sections if n)
    patterns = [_SNIPPET_TAG]
    if names:
        opened = rf"<{{1,3}}[ \t]*(?:{names})\b(?:[ \t]*>{{1,3}})?"
        patterns.append(re.compile(rf"{opened}|\b(?:{names})[ \t]*>{{1,3}}"))
    hits = sorted((m.start(), m.end()) for pat in patterns for m in pat.finditer(draft))
    findings: list[ClaimFinding] = []
    for start, end in hits:
        if findings and start < findings[-1].end:
            continue
        findings.append(ClaimFinding(
            "echo", draft[start:end], start, end, False,
            "part of the layout of ReplyDesk's prompt to the model, not of a reply (regenerate, "
            "or edit it out)"))
    return findings


def prompt_copies(draft: str, instructions: str, sections: Sequence[str]) -> list[ClaimFinding]:
    """Everything of the prompt that ``draft`` copies: runs of the instructions
    (:func:`prompt_echoes`) and pieces of its layout (:func:`prompt_markers`) not inside them."""
    echoes = prompt_echoes(draft, instructions)
    markers = [m for m in prompt_markers(draft, sections)
               if not any(e.start <= m.start and m.end <= e.end for e in echoes)]
    return sorted([*echoes, *markers], key=lambda c: (c.start, c.end))


def unsupported(findings: Iterable[ClaimFinding]) -> list[ClaimFinding]:
    """The findings the owner must look at before approving the draft."""
    return [f for f in findings if not f.supported]
