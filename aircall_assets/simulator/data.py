"""Deterministic generator of an Aircall account: API-shaped records, realistic and awkward.

Why "awkward": the connector under test must survive what the real API serves, so the data
mixes timestamp formats (UNIX ints for calls/contacts, ISO with and without milliseconds for
users/numbers/teams), unicode and emoji in names and comments, nulls in optional fields,
calls exactly at 00:00:00 and 23:59:59 UTC, quiet Sundays on which every optional call field
is null for the whole day (an all-NULL partition), many contacts created in the same second,
and inbound calls from numbers that match no contact (what the reverse sync turns into new
contacts). Contact phone values are stored either compact (`+33123456789`) or spaced
(`+33 1 23 45 67 89`) while call `raw_digits` are always spaced, so matching needs
normalisation, as with the real API.

Small resources are generated eagerly from `Random(f"{seed}:base")`. Calls are generated per
day from `Random(f"{seed}:{day}")`, timestamps first: the store can index a day's
`started_at` values without building its calls, and rebuild the same calls later.
"""

from __future__ import annotations

import math
import random
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .audio import placeholder
from .config import MAX_CALLS_PER_DAY, SimulatorConfig

DAY_SECONDS = 86_400
API_ROOT = "https://api.aircall.io"

# Disjoint id ranges: every record id is unique across resources, not just within one.
TEAM_ID_BASE = 61_000
TAG_ID_BASE = 93_000
USER_ID_BASE = 180_000
NUMBER_ID_BASE = 420_000
CONTACT_ID_BASE = 700_000_000
DETAIL_ID_BASE = 800_000_000  # contact phone_numbers[] and emails[] entries
CALL_ID_BASE = 1_000_000_000
COMMENT_ID_BASE = 5_000_000_000_000

MISSED_CALL_REASONS = (
    "out_of_opening_hours",
    "short_abandoned",
    "abandoned_in_ivr",
    "abandoned_in_classic",
    "no_available_agent",
    "agents_did_not_answer",
)
NUMBER_MESSAGES = (
    "welcome",
    "waiting",
    "ivr",
    "voicemail",
    "closed",
    "callback_later",
    "unanswered_call",
    "after_hours",
    "ringing_tone",
)
# Fields nulled (or emptied) for every call of a quiet day.
QUIET_NULL_FIELDS = (
    "missed_call_reason",
    "answered_at",
    "voicemail",
    "recording",
    "asset",
    "user",
    "assigned_to",
    "transferred_by",
    "transferred_to",
    "recording_short_url",
    "voicemail_short_url",
    "country_code_a2",
    "pricing_type",
)
QUIET_EMPTY_FIELDS = ("comments", "tags", "teams")
_VOICEMAIL_REASONS = frozenset(
    {"agents_did_not_answer", "no_available_agent", "out_of_opening_hours"}
)

# Relative call volume per UTC hour: business hours dominate, nights are quiet but not empty.
_HOUR_WEIGHTS = (
    [0.2] * 7
    + [1.0, 4.0, 6.0, 6.0, 5.0, 3.0, 4.0, 6.0, 6.0, 6.0, 5.0, 3.0, 1.0, 1.0]
    + [0.5, 0.4, 0.3]
)

_COUNTRIES = ("FR", "US", "GB", "DE", "ES")
_COUNTRY_WEIGHTS = (40, 25, 15, 10, 10)
_TIME_ZONES = {
    "FR": "Europe/Paris",
    "US": "America/New_York",
    "GB": "Europe/London",
    "DE": "Europe/Berlin",
    "ES": "Europe/Madrid",
}
_LANGUAGES = ("en-US", "fr-FR", "en-GB", "de-DE", "es-ES")

_FIRST_NAMES = (
    "Zoë",
    "Amélie",
    "Jürgen",
    "Søren",
    "Chloé",
    "Łukasz",
    "María José",
    "Nuño",
    "Ólafur",
    "雷",
    "美咲",
    "Mohammed",
    "Ines",
    "Émile",
    "Björn",
    "Ana",
    "Seán",
    "Renée",
    "Marie 🌸",
    "Olivia",
    "James",
    "Noah",
    "Camille",
    "François",
    "Dmitrï",
    "Ayşe",
)
_LAST_NAMES = (
    "Ångström",
    "Müller",
    "García",
    "Dubois",
    "李",
    "O'Brien",
    "Ñúñez",
    "Kowalski",
    "Lefèvre",
    "Jørgensen",
    "Smith",
    "Nakamura",
    "Çelik",
    "Dupont-Moretti",
    "van der Berg",
    "Rossi",
    "Schröder",
    "Nguyễn",
    "Brown 🚀",
)
_COMPANIES = (
    "Café ☕ Ltd",
    "Société Générale de Logistique",
    "Müller & Söhne GmbH",
    "北京贸易有限公司",
    "Acme Corp",
    "Zoë's Bakery",
    "Ångström Labs AB",
    "Initech",
    "Les Éditions du Nord",
    "Globex 🌍",
)
_INFORMATION = (
    "Client VIP — renouvellement en mars",
    "Prefers email 📧",
    "Asked for a callback after 18:00",
    "Ne pas appeler le vendredi",
    "Contrat signé ✅",
    "Multi-line\nnote with a tab\tinside",
    "Quotes \"double\" and 'single'",
)
_COMMENTS = (
    "Client très mécontent 😡",
    "Rappeler demain — demande de Zoë",
    "已回电，问题解决",
    "Renewal discussed with Ångström Labs",
    "Needs follow-up ✅",
    "Voicemail left, no answer",
    "Escalated to tier 2 → billing",
    "Σ total confirmed: 1 234,56 €",
)
_USER_NAMES = (
    "Zoë Martin",
    "Jörg Ångström",
    "李雷",
    "Amélie Poulain",
    "Søren Kjær",
    "José Álvarez",
    "Seán O'Neil",
    "Chloé Lefèvre",
    "Hanna Schröder",
    "Yuki Tanaka",
    "Oliver Smith",
    "Ayşe Yılmaz",
    "Mateo Ruiz",
    "Emma Johnson",
    "Lukas Weber",
    "Inès Bernard",
)
_NUMBER_NAMES = (
    "Paris Support",
    "London Sales",
    "NYC Office",
    "Berlin Hotline",
    "Madrid Ventas",
    "Standard Zoë 📞",
    "IVR Main",
    "Customer Success",
    "Billing",
    "After-hours",
)
_TEAM_NAMES = ("Support 🇫🇷", "Sales", "Customer Success", "Nuit / Night shift", "Billing")
_TAG_NAMES = (
    "VIP",
    "Callback",
    "Résiliation",
    "Lead 🔥",
    "Spam",
    "Billing",
    "Bug",
    "Follow-up",
    "Urgent",
    "Partenaire",
)
_TAG_DESCRIPTIONS = (
    "High-value customer",
    "Needs a call back",
    "Cancellation request",
    None,
    "Unwanted call",
)
_SUBSTATUSES = (
    "always_opened",
    "always_closed",
    "out_for_lunch",
    "on_a_break",
    "in_training",
    "doing_back_office",
    "other",
)


def iso(ts: int, millis: bool) -> str:
    """UNIX seconds → the API's ISO form, `...T10:21:09.000Z` or `...T12:14:21Z`."""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{text}.000Z" if millis else f"{text}Z"


def parse_iso(value: str) -> int:
    """The API's ISO timestamps (with or without milliseconds) → UNIX seconds."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(parsed.timestamp())


def day_start(day: date) -> int:
    """UNIX seconds of 00:00:00 UTC on `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def phone_digits(value: str) -> str:
    """Only the digits of a phone number: how the search and the reverse sync compare them."""
    return "".join(ch for ch in value if ch.isdigit())


@dataclass(frozen=True)
class Phone:
    """A phone number with its country and the two spellings the API serves."""

    country: str
    compact: str  # "+33123456789"
    spaced: str  # "+33 1 23 45 67 89"


def _group(digits: str, sizes: tuple[int, ...]) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(digits[pos : pos + size])
        pos += size
    return " ".join(parts)


def _make_phone(rng: random.Random, taken: set[str]) -> Phone:
    """A fresh, plausible national number, formatted as Aircall displays it."""
    while True:
        country = rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0]
        if country == "FR":
            national = str(rng.choice((1, 2, 3, 4, 5, 6, 7, 9))) + f"{rng.randrange(10**8):08d}"
            prefix, spaced = "33", _group(national, (1, 2, 2, 2, 2))
        elif country == "US":
            area, exchange = rng.randrange(201, 990), rng.randrange(200, 1000)
            national = f"{area}{exchange}{rng.randrange(10**4):04d}"
            prefix, spaced = "1", f"{national[:3]}-{national[3:6]}-{national[6:]}"
        elif country == "GB":
            if rng.random() < 0.5:
                national = "20" + f"{rng.randrange(10**8):08d}"
                spaced = _group(national, (2, 4, 4))
            else:
                national = "7" + f"{rng.randrange(10**9):09d}"
                spaced = _group(national, (4, 6))
            prefix = "44"
        elif country == "DE":
            national = rng.choice(("30", "40", "89", "69")) + f"{rng.randrange(10**8):08d}"
            prefix, spaced = "49", _group(national, (2, 8))
        else:
            national = str(rng.choice((6, 7, 9))) + f"{rng.randrange(10**8):08d}"
            prefix, spaced = "34", _group(national, (3, 2, 2, 2))
        compact = f"+{prefix}{national}"
        if compact not in taken:
            taken.add(compact)
            return Phone(country, compact, f"+{prefix} {spaced}")


def _ascii_slug(text: str) -> str:
    """Best-effort ASCII local part for an email derived from a unicode name."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower().replace(" ", ".") if ch.isalnum() or ch == ".")


def abridged_user(user: dict[str, Any]) -> dict[str, Any]:
    """The user summary embedded in calls, teams and numbers."""
    keys = (
        "id",
        "direct_link",
        "name",
        "email",
        "available",
        "availability_status",
        "created_at",
        "time_zone",
        "language",
    )
    return {key: user[key] for key in keys}


def team_summary(team: dict[str, Any]) -> dict[str, Any]:
    """The team summary embedded in calls."""
    return {key: team[key] for key in ("id", "name", "direct_link", "created_at")}


@dataclass
class BaseData:
    """The eagerly generated part of the account: everything except calls."""

    company_name: str
    users: list[dict[str, Any]]
    numbers: list[dict[str, Any]]
    teams: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    known_phones: list[Phone]  # phones of generated contacts, what most calls come from
    unknown_phones: list[Phone]  # callers that match no contact
    next_detail_id: int  # next free id for contact phone_numbers[] / emails[] entries


def _past_or_window(rng: random.Random, lo: int, hi: int, before_share: float) -> int:
    """A creation time: long before `lo` with probability `before_share`, else in [lo, hi)."""
    if rng.random() < before_share or hi <= lo:
        return lo - rng.randrange(DAY_SECONDS, 700 * DAY_SECONDS)
    return rng.randrange(lo, hi)


def generate_base(config: SimulatorConfig, now: int) -> BaseData:
    """Users, numbers, teams, tags and contacts; creation times never exceed `now`."""
    rng = random.Random(f"{config.seed}:base")
    start = day_start(config.first_day)
    end = min(start + config.days * DAY_SECONDS, now)
    taken: set[str] = set()

    user_times = sorted(_past_or_window(rng, start, end, 0.7) for _ in range(config.users))
    users: list[dict[str, Any]] = []
    for i, created in enumerate(user_times):
        uid = USER_ID_BASE + i + 1
        name = _USER_NAMES[i % len(_USER_NAMES)] + ("" if i < len(_USER_NAMES) else f" {i}")
        status = rng.choices(("available", "custom", "unavailable"), (5, 2, 3))[0]
        country = rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0]
        users.append(
            {
                "id": uid,
                "direct_link": f"{API_ROOT}/v2/users/{uid}",
                "name": name,
                "email": f"{_ascii_slug(name) or 'user'}.{uid}@demo-company.example",
                "available": status == "available",
                "availability_status": status,
                "created_at": iso(created, millis=rng.random() < 0.5),
                "time_zone": _TIME_ZONES[country],
                "language": rng.choice(_LANGUAGES),
                "state": "active" if rng.random() < 0.9 else "invited",
                "wrap_up_time": rng.choice((0, 0, 10, 30, 60)),
                "extension": f"{100 + i + 1}",
                "default_number_id": None,
                "substatus": rng.choice(_SUBSTATUSES) if rng.random() < 0.6 else None,
            }
        )

    number_times = sorted(_past_or_window(rng, start, end, 0.8) for _ in range(config.numbers))
    numbers: list[dict[str, Any]] = []
    for i, created in enumerate(number_times):
        nid = NUMBER_ID_BASE + i + 1
        phone = _make_phone(rng, taken)
        name = _NUMBER_NAMES[i % len(_NUMBER_NAMES)] + ("" if i < len(_NUMBER_NAMES) else f" {i}")
        members = rng.sample(users, k=rng.randint(1, min(4, len(users))))
        for member in members:
            if member["default_number_id"] is None:
                member["default_number_id"] = nid
        numbers.append(
            {
                "id": nid,
                "direct_link": f"{API_ROOT}/v1/numbers/{nid}",
                "name": name,
                "digits": phone.spaced,
                "country": phone.country,
                "time_zone": _TIME_ZONES[phone.country],
                "open": rng.random() < 0.8,
                "availability_status": rng.choices(("open", "custom", "closed"), (6, 3, 1))[0],
                "is_ivr": rng.random() < 0.25,
                "live_recording_activated": rng.random() < 0.5,
                "priority": rng.choice((None, None, 0, 1, 2, 3)),
                "messages": {
                    key: (
                        f"https://messages.aircall.example/numbers/{nid}/{key}.mp3"
                        if rng.random() < 0.6
                        else None
                    )
                    for key in NUMBER_MESSAGES
                },
                "created_at": iso(created, millis=rng.random() < 0.5),
                "users": [abridged_user(u) for u in members],
            }
        )

    teams: list[dict[str, Any]] = []
    for i in range(config.teams):
        tid = TEAM_ID_BASE + i + 1
        created = _past_or_window(rng, start, end, 0.9)
        name = _TEAM_NAMES[i % len(_TEAM_NAMES)] + ("" if i < len(_TEAM_NAMES) else f" {i}")
        members = rng.sample(users, k=rng.randint(0, min(5, len(users))))
        teams.append(
            {
                "id": tid,
                "name": name,
                "direct_link": f"{API_ROOT}/v1/teams/{tid}",
                "created_at": iso(created, millis=rng.random() < 0.5),
                "users": [abridged_user(u) for u in members],
            }
        )

    tags: list[dict[str, Any]] = []
    for i in range(config.tags):
        name = _TAG_NAMES[i % len(_TAG_NAMES)] + ("" if i < len(_TAG_NAMES) else f" {i}")
        tags.append(
            {
                "id": TAG_ID_BASE + i + 1,
                "name": name,
                "color": f"#{rng.randrange(0x1000000):06X}",
                "description": rng.choice(_TAG_DESCRIPTIONS),
            }
        )

    contacts, known, next_detail = _generate_contacts(config, rng, taken, start, end)
    unknown = [_make_phone(rng, taken) for _ in range(50)]
    return BaseData(
        company_name="Zoë & Ångström Téléphonie (simulated)",
        users=users,
        numbers=numbers,
        teams=teams,
        tags=tags,
        contacts=contacts,
        known_phones=known,
        unknown_phones=unknown,
        next_detail_id=next_detail,
    )


def _generate_contacts(
    config: SimulatorConfig, rng: random.Random, taken: set[str], start: int, end: int
) -> tuple[list[dict[str, Any]], list[Phone], int]:
    """Contacts spread over the account's days (10% older), plus the optional bulk import."""
    times = [_past_or_window(rng, start, end, 0.1) for _ in range(config.contacts)]
    if config.bulk_contacts_day is not None:
        # A CSV import: hundreds of contacts within a couple of seconds, many sharing a second.
        at = min(day_start(config.bulk_contacts_day) + 14 * 3600, end - 3)
        times += [at + i * 3 // max(config.bulk_contacts, 1) for i in range(config.bulk_contacts)]
    times.sort()
    contacts: list[dict[str, Any]] = []
    known: list[Phone] = []
    detail_id = DETAIL_ID_BASE
    for i, created in enumerate(times):
        cid = CONTACT_ID_BASE + i + 1
        first = rng.choice(_FIRST_NAMES) if rng.random() < 0.9 else None
        last = rng.choice(_LAST_NAMES) if rng.random() < 0.85 else None
        phones = []
        for label in rng.sample(("Work", "Mobile", "Home", "Other"), k=rng.randint(1, 3)):
            phone = _make_phone(rng, taken)
            known.append(phone)
            detail_id += 1
            value = phone.compact if rng.random() < 0.7 else phone.spaced
            phones.append({"id": detail_id, "label": label, "value": value})
        emails = []
        slug = _ascii_slug(f"{first or ''} {last or ''}".strip()) or "contact"
        for j, label in enumerate(rng.sample(("Work", "Personal", "Other"), k=rng.randint(0, 2))):
            detail_id += 1
            emails.append(
                {"id": detail_id, "label": label, "value": f"{slug}{j or ''}.{cid}@mail.example"}
            )
        updated = created
        if rng.random() < 0.4 and end > created:
            updated = rng.randrange(created, end)
        contacts.append(
            {
                "id": cid,
                "direct_link": f"{API_ROOT}/v1/contacts/{cid}",
                "first_name": first,
                "last_name": last,
                "company_name": rng.choice(_COMPANIES) if rng.random() < 0.6 else None,
                "information": rng.choice(_INFORMATION) if rng.random() < 0.3 else None,
                "is_shared": True,
                "created_at": created,
                "updated_at": updated,
                "phone_numbers": phones,
                "emails": emails,
            }
        )
    return contacts, known, detail_id + 1


def call_id(day_index: int, rank: int) -> int:
    """Call ids grow with started_at: (day, rank within the day) packed into one int."""
    return CALL_ID_BASE + day_index * MAX_CALLS_PER_DAY + rank


def split_call_id(cid: int) -> tuple[int, int]:
    """Inverse of `call_id`: (day index, rank within the day)."""
    return divmod(cid - CALL_ID_BASE, MAX_CALLS_PER_DAY)


class CallGenerator:
    """Builds one day's calls, deterministically, from the account's base data."""

    def __init__(self, config: SimulatorConfig, base: BaseData) -> None:
        self._config = config
        self._start = day_start(config.first_day)
        self._users = tuple(abridged_user(u) for u in base.users)
        self._numbers = tuple({k: v for k, v in n.items() if k != "users"} for n in base.numbers)
        self._teams = tuple(team_summary(t) for t in base.teams)
        self._tags = tuple(base.tags)
        self._known = tuple(base.known_phones)
        self._unknown = tuple(base.unknown_phones)

    def day(self, index: int) -> date:
        """The date of day `index` of the account."""
        return self._config.first_day + timedelta(days=index)

    def count(self, index: int) -> int:
        """How many calls day `index` has (big days override calls_per_day)."""
        return self._config.big_days.get(self.day(index), self._config.calls_per_day)

    def _rng(self, index: int) -> random.Random:
        return random.Random(f"{self._config.seed}:{self.day(index)}")

    def _times(self, rng: random.Random, index: int) -> list[int]:
        n = self.count(index)
        base = self._start + index * DAY_SECONDS
        hours = rng.choices(range(24), _HOUR_WEIGHTS, k=n)
        r = rng.random
        times = [base + h * 3600 + int(r() * 3600) for h in hours]
        if n >= 1:
            times[0] = base  # exactly midnight: a boundary for from/to and partitions
        if n >= 2:
            times[1] = base + DAY_SECONDS - 1
        times.sort()
        return times

    def times(self, index: int) -> list[int]:
        """The sorted started_at values of day `index`, without building its calls."""
        return self._times(self._rng(index), index)

    def calls(self, index: int) -> list[dict[str, Any]]:
        """All calls of day `index`, sorted by (started_at, id)."""
        rng = self._rng(index)
        times = self._times(rng, index)
        day = self.day(index)
        quiet = day.weekday() == 6  # quiet Sundays: every optional field null all day
        last_day = index == self._config.days - 1
        calls = []
        for rank, started in enumerate(times):
            call = self._call(rng, call_id(index, rank), started)
            if quiet:
                call.update(dict.fromkeys(QUIET_NULL_FIELDS))
                call.update({key: [] for key in QUIET_EMPTY_FIELDS})
            calls.append(call)
        if last_day and not quiet and len(calls) >= 10:
            # The most recent calls of the account are still ringing / in progress.
            ringing, ongoing = calls[-1], calls[-2]
            ringing.update(status="initial", answered_at=None, ended_at=None, duration=0)
            ringing.update(missed_call_reason=None, recording=None, recording_short_url=None)
            ongoing.update(status="answered", ended_at=None, duration=0)
            if ongoing["answered_at"] is None:
                ongoing["answered_at"] = ongoing["started_at"] + 5
            ongoing.update(missed_call_reason=None, voicemail=None, voicemail_short_url=None)
        return calls

    def _call(self, rng: random.Random, cid: int, started: int) -> dict[str, Any]:
        # Draws go through `rng.random()` directly: this runs for every call of the account,
        # and Random.choice/randint/choices cost several times more per draw.
        r = rng.random

        def pick(seq: tuple[Any, ...] | list[Any]) -> Any:
            return seq[int(r() * len(seq))]

        inbound = r() < 0.65
        number = pick(self._numbers)
        agent = pick(self._users)
        draw = r()
        if inbound and draw < 0.03:
            phone = None
        elif draw < (0.33 if inbound else 0.10):
            phone = pick(self._unknown)
        else:
            phone = pick(self._known)
        answered = r() < (0.72 if inbound else 0.7)
        reason = None
        if answered:
            ring = 2 + int(r() * 24)
            talk = min(max(int(rng.lognormvariate(4.5, 1.0)), 3), 5400)
            answered_at: int | None = started + ring
            duration = ring + talk
            user = agent
        else:
            answered_at = None
            if inbound:
                reason = pick(MISSED_CALL_REASONS)
            duration = 1 + int(r() * (9 if reason == "short_abandoned" else 60))
            user = agent if (not inbound or r() < 0.2) else None
        ended = started + duration
        sid = f"CA{rng.getrandbits(128):032x}"
        has_voicemail = reason in _VOICEMAIL_REASONS and r() < 0.5
        has_recording = answered and r() < 0.7
        country = phone.country if phone else None
        international = country is not None and country != number["country"]
        if inbound:
            cost = "0.0"
        else:
            rate = 0.085 if international else 0.012
            cost = f"{math.ceil(duration / 60) * rate:.3f}"
        transferred = inbound and answered and r() < 0.06
        draw = r()
        comments = [
            {
                "id": COMMENT_ID_BASE + cid * 4 + j,
                "content": pick(_COMMENTS),
                "posted_at": ended + int(r() * 3600),
                "posted_by": pick(self._users),
            }
            for j in range(0 if draw < 0.7 else 1 if draw < 0.9 else 2)
        ]
        draw = r()
        tags = []
        for _ in range(0 if draw < 0.65 else 1 if draw < 0.9 else 2):
            tag = pick(self._tags)
            if all(t["id"] != tag["id"] for t in tags):
                tags.append(
                    {
                        "id": tag["id"],
                        "name": tag["name"],
                        "created_at": iso(ended + int(r() * 600), millis=True),
                        "tagged_by": pick(self._users),
                    }
                )
        # Signed per response from these placeholders (see audio.py).
        recording = placeholder("recording", cid)
        voicemail = placeholder("voicemail", cid)
        asset = None
        if has_recording or has_voicemail:
            kind = "recording" if has_recording else "voicemail"
            asset = f"https://assets.aircall.example/calls/{cid}/{kind}"
        return {
            "id": cid,
            "sid": sid,
            "direct_link": f"{API_ROOT}/v1/calls/{cid}",
            "direction": "inbound" if inbound else "outbound",
            "status": "done",
            "missed_call_reason": reason,
            "started_at": started,
            "answered_at": answered_at,
            "ended_at": ended,
            "duration": duration,
            "archived": r() < 0.08,
            "cost": cost,
            "voicemail": voicemail if has_voicemail else None,
            "recording": recording if has_recording else None,
            "asset": asset,
            "raw_digits": phone.spaced if phone else "anonymous",
            "user": user,
            "contact": None,
            "assigned_to": pick(self._users) if r() < 0.1 else None,
            "transferred_by": agent if transferred else None,
            "transferred_to": pick(self._users) if transferred else None,
            "comments": comments,
            "number": number,
            "teams": [pick(self._teams)] if inbound and r() < 0.6 else [],
            "tags": tags,
            "recording_short_url": f"https://short.aircall.example/r/{sid[2:12]}"
            if has_recording
            else None,
            "voicemail_short_url": f"https://short.aircall.example/v/{sid[2:12]}"
            if has_voicemail
            else None,
            "country_code_a2": country,
            "pricing_type": ("international" if international else "local") if phone else None,
        }
