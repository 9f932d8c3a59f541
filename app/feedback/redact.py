"""Replacing reviewer names, e-mail addresses and phone numbers with placeholders.

One ``Redactor`` covers one exported row: the same value gets the same placeholder in the prompt,
the chosen and the rejected reply (``[NAME_1]``, ``[EMAIL_1]``, ``[PHONE_1]``), so a model trained
on the row still sees that the reply addresses the person the review came from.

Names are found from what we know (the review's author), from phrases that introduce one
("I'm Sarah", "my name is Tom Baker", "Dear Anna,", "Reviewer: ..."), and from sign-off lines
("Thanks, Sarah" / "Cheers,\\nTom" / "- Anna"). Names of the business itself (its name and
sign-off) are kept: they are not personal data of the reviewer and the model should learn them.
Redaction is best effort: it never claims a text is free of personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# A name: one to three capitalised words ("Sarah", "Mary-Jane O'Neil", "José").
_WORD = r"[A-ZÀ-ÖØ-Þ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*"
_NAME = rf"{_WORD}(?:[ \t]+{_WORD}){{0,2}}"

_INTRO = re.compile(
    rf"(?:\b(?i:i['’]?m|i[ \t]+am|my[ \t]+name[ \t]+is|my[ \t]+name's|call[ \t]+me)[ \t]+)"
    rf"(?P<name>{_NAME})"
)
_GREETING = re.compile(
    rf"(?:^|(?<=[\n.!?])[ \t]*)(?i:dear|hi|hello|hey)[ \t]+(?P<name>{_NAME})[ \t]*[,!:\n]",
    re.MULTILINE,
)
_SIGN_OFF_WORDS = (
    r"thanks(?:[ \t]+again)?|thank[ \t]+you|many[ \t]+thanks|cheers|regards|best(?:[ \t]+wishes)?"
    r"|(?:best|kind|warm|warmest)[ \t]+regards|sincerely|yours(?:[ \t]+truly)?|love"
    r"|all[ \t]+the[ \t]+best|take[ \t]+care"
)
_SIGN_OFF = re.compile(
    rf"(?i:{_SIGN_OFF_WORDS})[ \t]*[,!.]?[ \t]*(?:\n[ \t]*)?[-–—~]*[ \t]*(?P<name>{_NAME})"
    r"[ \t]*[.!]?[ \t]*$",
    re.MULTILINE,
)
_DASH_LINE = re.compile(rf"^[ \t]*[-–—~]{{1,2}}[ \t]*(?P<name>{_NAME})[ \t]*$", re.MULTILINE)
_REVIEWER_LINE = re.compile(r"^Reviewer:[ \t]*(?P<name>\S[^\n]*?)[ \t]*$", re.MULTILINE)

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# A phone candidate: digits with the usual separators, validated by ``_is_phone``.
_PHONE = r"(?<![\w@$€£¥.,/+-])(?:\+|\(\+?)?\d[\d \t().-]{5,22}\d(?![\w@%]|[.,]\d)"
_DATE = re.compile(r"^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$")

# Capitalised words that follow "I'm", "Dear", "Thanks," without being anyone's name.
_NOT_NAME_WORDS = (
    "a an the and or but so not very really just still also here there this that it in on at "
    "from for with to of by as if when all any every some no yes ok okay "
    "sorry afraid glad happy sad writing going back done sure disappointed impressed shocked "
    "surprised honestly definitely totally absolutely quite pretty extremely "
    "sir madam guest guests customer customers client team staff manager owner management "
    "everyone everybody folks friend friends family mr mrs ms miss dr "
    "again you u much lot lots god "
    "monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december "
    "american british english german french italian spanish dutch canadian australian "
    "vegan vegetarian local new regular first second "
)
_NOT_NAMES = frozenset(_NOT_NAME_WORDS.split())


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 7 <= len(digits) <= 15:
        return False
    if "\n" in candidate or re.search(r"[ \t.-]{2,}", candidate):
        return False
    groups = [g for g in re.split(r"[^\d]+", candidate) if g]
    if len(groups) == 1:  # no separators: only long numbers or international ones
        return len(digits) >= 10 or candidate.startswith("+")
    if _DATE.match(candidate.strip("()+ ")):
        return False
    # "2019 2020 2021" is a list of years, not a number
    return not all(len(g) == 4 and g[:2] in ("19", "20") for g in groups)


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _trim(name: str) -> str:
    """Drop trailing words that are not names ("Sarah And" -> "Sarah")."""
    words = name.split()
    while words and words[-1].casefold().strip("'’-") in _NOT_NAMES:
        words.pop()
    return " ".join(words)


class Redactor:
    """Finds personal data in the texts of one row and replaces it consistently."""

    def __init__(self, known_names: Iterable[str | None] = (), keep: Iterable[str] = ()) -> None:
        self._keep = {_key(w) for k in keep for w in re.findall(r"[\w'’-]+", k)}
        self._keep |= {_key(k) for k in keep if k}
        self._aliases: dict[str, str] = {}  # casefolded alias -> identity
        self._placeholders: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self._pattern: re.Pattern[str] | None = None
        for name in known_names:
            if name:
                self.add_name(name)

    def add_name(self, name: str) -> None:
        """Register a person's name; its capitalised parts count as the same person."""
        name = " ".join(name.split())
        if not name or _key(name) in self._keep:
            return
        identity = self._aliases.get(_key(name), _key(name))
        self._aliases.setdefault(_key(name), identity)
        parts = re.findall(r"[\w'’-]+", name)
        if len(parts) > 1:
            for part in parts:
                k = _key(part)
                if len(part) >= 3 and part[0].isupper() and k not in _NOT_NAMES \
                        and k not in self._keep:
                    self._aliases.setdefault(k, identity)
        self._pattern = None

    def discover(self, texts: Iterable[str]) -> None:
        """Learn the names that the texts introduce or sign with."""
        for text in texts:
            for pattern in (_INTRO, _GREETING, _SIGN_OFF, _DASH_LINE):
                for m in pattern.finditer(text):
                    name = _trim(m.group("name"))
                    if name and name.split()[0].casefold() not in _NOT_NAMES:
                        self.add_name(name)
            for m in _REVIEWER_LINE.finditer(text):
                self.add_name(m.group("name"))

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is None:
            names = sorted(self._aliases, key=len, reverse=True)
            alternatives = [rf"(?P<email>{_EMAIL})", rf"(?P<phone>{_PHONE})"]
            if names:
                escaped = "|".join(r"\s+".join(map(re.escape, n.split())) for n in names)
                alternatives.append(rf"(?<![\w\[])(?P<name>{escaped})(?![\w\]])")
            self._pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        return self._pattern

    def _placeholder(self, kind: str, identity: str) -> str:
        key = (kind, identity)
        if key not in self._placeholders:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._placeholders[key] = f"[{kind}_{self._counts[kind]}]"
        return self._placeholders[key]

    def redact(self, text: str) -> str:
        def replace(m: re.Match[str]) -> str:
            value = m.group(0)
            if m.group("email"):
                return self._placeholder("EMAIL", value.casefold())
            if m.group("phone"):
                if not _is_phone(value):
                    return value
                # the same number with or without its country or trunk prefix: same placeholder
                return self._placeholder("PHONE", re.sub(r"\D", "", value)[-9:])
            return self._placeholder("NAME", self._aliases[_key(value)])

        return self._compiled().sub(replace, text)

    @property
    def found(self) -> dict[str, int]:
        """How many distinct values of each kind were replaced so far."""
        return dict(self._counts)


def redact_texts(
    texts: Sequence[str], *, known_names: Iterable[str | None] = (), keep: Iterable[str] = ()
) -> list[str]:
    """Redact the texts of one row together, with placeholders numbered in reading order."""
    redactor = Redactor(known_names, keep)
    redactor.discover(texts)
    return [redactor.redact(t) for t in texts]
