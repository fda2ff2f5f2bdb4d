"""The Aircall tables as data: what to read, how, and how each field lands in the warehouse.

Nothing here talks HTTP or knows Dagster. The assets, the client's window logic, the settings
validation and the warehouse DDL are all derived from this one declaration, so adding a table
means adding one ``Table`` entry below.

Field types follow the Daton spec (``seed_type``: NUMERIC, STRING, BOOLEAN, TIMESTAMP, RECORD).
The warehouse type is derived from it, except where the API sends a structure for a field the
spec calls STRING (``calls.contact``, ``contacts.emails``...): those are stored as JSON so that
nothing is flattened away. Fields the API sends that the spec does not list have
``seed_type=None``: they are known and selectable but not selected by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum

WAREHOUSE_TYPE_OF_SEED_TYPE: Mapping[str, str] = {
    "NUMERIC": "BIGINT",
    "STRING": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMPTZ",
    "RECORD": "JSON",
}
DOUBLE = "DOUBLE"  # fractional numbers the Daton spec has no type for (utterance times)


class Replication(str, Enum):
    """How a table is kept up to date (the Daton spec's replication modes)."""

    KEY_BASED = "key_based"  # daily partitions on the record's date field
    FULL = "full"  # re-read and replaced whole on every run


@dataclass(frozen=True)
class Field:
    name: str
    warehouse_type: str
    seed_type: str | None
    description: str

    @property
    def in_seed(self) -> bool:
        return self.seed_type is not None


@dataclass(frozen=True)
class WindowBounds:
    """How the API's ``from``/``to`` filters treat their bounds for one resource.

    The client turns a half-open ``[start, end)`` window into API parameters with these, so a
    record at exactly midnight lands in exactly one day.
    """

    from_exclusive: bool
    to_inclusive: bool
    # ISO dates may carry milliseconds: an integer ``to`` of end-1 would miss 23:59:59.500,
    # so such windows ask up to ``end`` itself and the client drops records dated at ``end``.
    fractional_seconds: bool = False


@dataclass(frozen=True)
class ChildColumn:
    """A column of a child table and where its value comes from, in a parent record.

    ``source`` is ``parent.<field>`` (a field of the parent record: its key, its date),
    ``item`` (the list element itself, for lists of strings), ``item.<path>`` (a dotted path
    inside the element) or ``position`` (the element's 0-based index in the list).
    ``id_of_object``: the value is a user (or team) that the API may send whole or as its id;
    either way the column holds the id.
    """

    field: Field
    source: str
    id_of_object: bool = False


@dataclass(frozen=True)
class ChildTable:
    """One row per element of a list field of a parent table's records (``calls.tags`` →
    ``call_tag``), named as in Fivetran's Aircall schema so that SQL written for it runs.

    A child is written in the same transaction as its parent and replaced with it, so it never
    holds rows of a parent version that is gone. The parent keeps its JSON column.
    """

    name: str
    purpose: str
    list_field: str  # dotted path of the list in the parent record (``content.utterances``)
    columns: tuple[ChildColumn, ...] = field(repr=False)
    key: tuple[str, ...]  # columns that identify a row (with the parent's key)

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(c.field for c in self.columns)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(c.field.name for c in self.columns)

    @property
    def parent_key(self) -> ChildColumn:
        """The column holding the parent record's primary key (``call_id``)."""
        return self.columns[0]


@dataclass(frozen=True)
class Table:
    name: str
    purpose: str
    path: str  # API path including the version segment
    list_key: str  # envelope key of the records (or of the single object)
    replication: Replication
    primary_key: str | None
    date_field: str | None  # the field that dates a record (partitioning, windows)
    bounds: WindowBounds | None  # None: the API has no from/to filter for this resource
    paginated: bool
    fields: tuple[Field, ...] = field(repr=False)
    # Days back from today the API still serves (None: all of it). Older windows answer 200
    # and empty, which is no evidence that their rows are gone: a load keeps them.
    served_days: int | None = None
    children: tuple[ChildTable, ...] = field(default=(), repr=False)
    # Fields the API sends that are secrets (a webhook's token): dropped from each record as it
    # is read, before anything is spooled, stored, logged or compared; never selectable.
    secret_fields: tuple[str, ...] = ()

    def oldest_served_day(self, today: date) -> date | None:
        """The first day whose records the API still serves, or None if it serves them all."""
        return None if self.served_days is None else today - timedelta(days=self.served_days)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def default_columns(self) -> tuple[str, ...]:
        """The Daton spec's field list: the default column selection."""
        return tuple(f.name for f in self.fields if f.in_seed)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns kept whatever the selection: the primary key and the partition column."""
        return tuple(c for c in (self.primary_key, self.date_field) if c)

    @property
    def is_partitioned(self) -> bool:
        return self.replication is Replication.KEY_BASED

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def resolve_columns(self, selected: tuple[str, ...] | list[str] | None) -> tuple[Field, ...]:
        """The fields to load for a selection, in catalog order, required columns included.

        Raises ``ValueError`` naming the unknown columns and listing the valid ones.
        """
        wanted = set(self.default_columns if selected is None else selected)
        secret = sorted(wanted & set(self.secret_fields))
        if secret:
            raise ValueError(secret_column_message(self, secret[0]))
        unknown = sorted(wanted - set(self.field_names))
        if unknown:
            raise ValueError(
                f"unknown column(s) {unknown} for table '{self.name}'; "
                f"valid columns are: {', '.join(self.field_names)}"
            )
        wanted |= set(self.required_columns)
        return tuple(f for f in self.fields if f.name in wanted)


def secret_column_message(table: Table, column: str) -> str:
    """Why a secret field cannot be selected, and what to select instead."""
    return (
        f"'{column}' of table {table.name} is a secret that is never loaded (not stored, "
        f"logged or shown), so it cannot be selected; remove it from the columns. Valid "
        f"columns are: {', '.join(table.field_names)}"
    )


def _f(
    name: str, seed_type: str | None, description: str, warehouse_type: str | None = None
) -> Field:
    """A field; ``seed_type=None`` marks a field the API sends that the spec does not list."""
    base = seed_type or "STRING"
    return Field(name, warehouse_type or WAREHOUSE_TYPE_OF_SEED_TYPE[base], seed_type, description)


def _extra(name: str, warehouse_type: str, description: str) -> Field:
    return Field(name, warehouse_type, None, description)


JSON = "JSON"
BIGINT = "BIGINT"
VARCHAR = "VARCHAR"
BOOLEAN = "BOOLEAN"
TIMESTAMPTZ = "TIMESTAMPTZ"


def _col(
    name: str, warehouse_type: str, source: str, description: str, id_of_object: bool = False
) -> ChildColumn:
    return ChildColumn(Field(name, warehouse_type, None, description), source, id_of_object)


def _parent_key(name: str, description: str) -> ChildColumn:
    return _col(name, BIGINT, "parent.id", description)


def _labelled_details(name: str, parent: str, list_field: str, what: str) -> ChildTable:
    """``contact_number`` / ``contact_email``: a contact's ``{id, label, value}`` entries."""
    return ChildTable(
        name=name,
        purpose=f"One row per {what} of a contact ({parent}.{list_field}), with its label.",
        list_field=list_field,
        columns=(
            _parent_key("contact_id", "The contact."),
            _col("id", BIGINT, "item.id", f"Identifier of the {what}."),
            _col("label", VARCHAR, "item.label", "Label, e.g. Work or Mobile."),
            _col("value", VARCHAR, "item.value", f"The {what} itself."),
            _col("contact_created_at", TIMESTAMPTZ, "parent.created_at", "Partition column."),
        ),
        key=("contact_id", "id"),
    )


USERS = Table(
    name="users",
    purpose=(
        "Every user (agent) of the company: name, email, availability, time zone and language; "
        "one row per user, partitioned by the day it was created."
    ),
    path="/v2/users",
    list_key="users",
    replication=Replication.KEY_BASED,
    primary_key="id",
    date_field="created_at",
    bounds=WindowBounds(from_exclusive=False, to_inclusive=True, fractional_seconds=True),
    paginated=True,
    fields=(
        _f("id", "NUMERIC", "Unique identifier of the user."),
        _f("direct_link", "STRING", "API URL of the user."),
        _f("name", "STRING", "Full name."),
        _f("email", "STRING", "Login email."),
        _f("available", "BOOLEAN", "Whether the user can take calls now."),
        _f("availability_status", "STRING", "available, custom or unavailable."),
        _f("created_at", "TIMESTAMP", "When the user was created (UTC)."),
        _f("time_zone", "STRING", "IANA time zone of the user."),
        _f("language", "STRING", "Language code, e.g. en-US."),
        _extra("state", VARCHAR, "Account state of the user."),
        _extra("wrap_up_time", BIGINT, "Seconds of wrap-up after each call."),
        _extra("extension", VARCHAR, "Internal extension."),
        _extra("default_number_id", BIGINT, "Number used by default for outbound calls."),
        _extra("substatus", VARCHAR, "Detailed availability substatus."),
    ),
)

TAGS = Table(
    name="tags",
    purpose=(
        "The tags agents put on calls, with their name, color and description; one row per tag, "
        "replaced whole on each load."
    ),
    path="/v1/tags",
    list_key="tags",
    replication=Replication.FULL,
    primary_key="id",
    date_field=None,
    bounds=None,
    paginated=True,
    fields=(
        _f("id", "NUMERIC", "Unique identifier of the tag."),
        _f("name", "STRING", "Tag name."),
        _f("color", "STRING", "Hex color, e.g. #00B388."),
        _f("description", "STRING", "Free-text description."),
    ),
)

NUMBERS = Table(
    name="numbers",
    purpose=(
        "The company's phone numbers: digits, country, time zone, open or closed, and the users "
        "who answer them; one row per number, partitioned by the day it was created."
    ),
    path="/v1/numbers",
    list_key="numbers",
    replication=Replication.KEY_BASED,
    primary_key="id",
    date_field="created_at",
    bounds=WindowBounds(from_exclusive=False, to_inclusive=True, fractional_seconds=True),
    paginated=True,
    fields=(
        _f("id", "NUMERIC", "Unique identifier of the number."),
        _f("direct_link", "STRING", "API URL of the number."),
        _f("name", "STRING", "Display name of the number."),
        _f("digits", "STRING", "The phone number, international format."),
        _f("created_at", "TIMESTAMP", "When the number was created (UTC)."),
        _f("country", "STRING", "ISO country code."),
        _f("time_zone", "STRING", "IANA time zone of the number."),
        _f("open", "BOOLEAN", "Whether the number is currently open."),
        _f("availability_status", "STRING", "open, custom or closed."),
        _f("is_ivr", "BOOLEAN", "Whether the number runs an IVR."),
        _f("live_recording_activated", "BOOLEAN", "Whether calls are recorded."),
        _f("messages", "RECORD", "Music and messages URLs (welcome, waiting, ivr, ...)."),
        _f("users", "RECORD", "Users assigned to the number (abridged)."),
        _extra("priority", BIGINT, "Routing priority (null when unset)."),
    ),
    children=(
        ChildTable(
            name="user_number",
            purpose="Which users answer which number: one row per user of a number "
            "(numbers.users).",
            list_field="users",
            columns=(
                _parent_key("number_id", "The number."),
                _col("user_id", BIGINT, "item.id", "A user assigned to it.", id_of_object=True),
                _col("number_created_at", TIMESTAMPTZ, "parent.created_at", "Partition column."),
            ),
            key=("number_id", "user_id"),
        ),
    ),
)

TEAMS = Table(
    name="teams",
    purpose=(
        "Teams of users that calls are routed to, with their members; one row per team, "
        "replaced whole on each load."
    ),
    path="/v1/teams",
    list_key="teams",
    replication=Replication.FULL,
    primary_key="id",
    date_field=None,
    bounds=None,
    paginated=True,
    fields=(
        _f("id", "NUMERIC", "Unique identifier of the team."),
        _f("name", "STRING", "Team name."),
        _f("direct_link", "STRING", "API URL of the team."),
        _f("created_at", "TIMESTAMP", "When the team was created (UTC)."),
        _f("users", "RECORD", "Members of the team (abridged users)."),
    ),
    children=(
        ChildTable(
            name="team_user",
            purpose="Team membership: one row per user of a team (teams.users).",
            list_field="users",
            columns=(
                _parent_key("team_id", "The team."),
                _col("user_id", BIGINT, "item.id", "A member of the team.", id_of_object=True),
            ),
            key=("team_id", "user_id"),
        ),
    ),
)

CONTACTS = Table(
    name="contacts",
    purpose=(
        "The company's shared contacts (the address book agents see), with their phone numbers "
        "and emails; one row per contact, partitioned by the day it was created."
    ),
    path="/v1/contacts",
    list_key="contacts",
    replication=Replication.KEY_BASED,
    primary_key="id",
    date_field="created_at",
    bounds=WindowBounds(from_exclusive=False, to_inclusive=True),
    paginated=True,
    fields=(
        _f("id", "NUMERIC", "Unique identifier of the contact."),
        _f("direct_link", "STRING", "API URL of the contact."),
        _f("first_name", "STRING", "First name."),
        _f("last_name", "STRING", "Last name."),
        _f("company_name", "STRING", "Company of the contact."),
        _f("information", "STRING", "Free-text notes."),
        _f("is_shared", "BOOLEAN", "Shared with the whole company (always true in lists)."),
        _f("created_at", "TIMESTAMP", "When the contact was created (UTC)."),
        _f("updated_at", "TIMESTAMP", "When the contact was last changed (UTC)."),
        _f("emails", "STRING", "Emails [{id, label, value}] as JSON.", warehouse_type=JSON),
        _f("phone_numbers", "RECORD", "Phone numbers [{id, label, value}]."),
    ),
    children=(
        _labelled_details("contact_number", "contacts", "phone_numbers", "phone number"),
        _labelled_details("contact_email", "contacts", "emails", "email"),
    ),
)

CALLS = Table(
    name="calls",
    purpose=(
        "Every call, inbound and outbound: direction, status, who answered, durations, tags, "
        "comments, teams and the recording links; one row per call, partitioned by the day it "
        "started."
    ),
    path="/v1/calls",
    list_key="calls",
    replication=Replication.KEY_BASED,
    primary_key="id",
    date_field="started_at",
    bounds=WindowBounds(from_exclusive=True, to_inclusive=True),
    paginated=True,
    # "About six months" (the API notes): a shorter guess than the API's real horizon only
    # means that a few more old days are merged by id instead of replaced.
    served_days=180,
    fields=(
        _f("id", "NUMERIC", "Unique identifier of the call."),
        _f("direct_link", "STRING", "API URL of the call."),
        _f("direction", "STRING", "inbound or outbound."),
        _f("status", "STRING", "initial, answered or done."),
        _f("missed_call_reason", "STRING", "Why the call was missed, null if answered."),
        _f("started_at", "TIMESTAMP", "When the call started (UTC); partitions calls."),
        _f("answered_at", "TIMESTAMP", "When the call was answered (UTC), null if missed."),
        _f("ended_at", "TIMESTAMP", "When the call ended (UTC)."),
        _f("duration", "NUMERIC", "Duration in seconds, ringing included."),
        _f("voicemail", "STRING", "URL of the voicemail, if any."),
        _f("recording", "STRING", "URL of the recording, if any."),
        _f("asset", "STRING", "URL of the call's asset page, if any."),
        _f("raw_digits", "STRING", "Caller or callee number as dialled ('anonymous' possible)."),
        _f("user", "RECORD", "The user who took or made the call (abridged)."),
        _f("contact", "STRING", "The matched contact as JSON, when fetched.", warehouse_type=JSON),
        _f("archived", "BOOLEAN", "Whether the call was archived."),
        _f("assigned_to", "STRING", "User the call is assigned to, as JSON.", warehouse_type=JSON),
        _f("transferred_to", "STRING", "User the call went to, as JSON.", warehouse_type=JSON),
        _f("cost", "STRING", "Cost in USD cents as sent by the API (a decimal string)."),
        _f("number", "RECORD", "The Aircall number of the call."),
        _f("comments", "RECORD", "Notes [{id, content, posted_at, posted_by}]."),
        _f("tags", "RECORD", "Tags [{id, name, created_at, tagged_by}]."),
        _f("teams", "STRING", "Teams that received the call, as JSON.", warehouse_type=JSON),
        _extra("sid", VARCHAR, "Telephony provider call id."),
        _extra("transferred_by", JSON, "User who transferred the call."),
        _extra("country_code_a2", VARCHAR, "ISO country of the other party."),
        _extra("pricing_type", VARCHAR, "Pricing plan applied to the call."),
        _extra("recording_short_url", VARCHAR, "Short public URL of the recording."),
        _extra("voicemail_short_url", VARCHAR, "Short public URL of the voicemail."),
    ),
    children=(
        ChildTable(
            name="call_tag",
            purpose="Tags on calls: one row per tag of a call (calls.tags), with who tagged it "
            "and when.",
            list_field="tags",
            columns=(
                _parent_key("call_id", "The call."),
                _col("tag_id", BIGINT, "item.id", "The tag (aircall.tags.id)."),
                _col("created_at", TIMESTAMPTZ, "item.created_at", "When it was tagged (UTC)."),
                _col(
                    "tagged_by", BIGINT, "item.tagged_by", "User who tagged it.", id_of_object=True
                ),
                _col("call_started_at", TIMESTAMPTZ, "parent.started_at", "Partition column."),
            ),
            key=("call_id", "tag_id"),
        ),
        ChildTable(
            name="call_comment",
            purpose="Notes agents wrote on calls: one row per comment (calls.comments).",
            list_field="comments",
            columns=(
                _parent_key("call_id", "The call."),
                _col("comment_id", BIGINT, "item.id", "Identifier of the comment."),
                _col("content", VARCHAR, "item.content", "Text of the comment."),
                _col("posted_at", TIMESTAMPTZ, "item.posted_at", "When it was posted (UTC)."),
                _col(
                    "posted_by", BIGINT, "item.posted_by", "User who wrote it.", id_of_object=True
                ),
                _col("call_started_at", TIMESTAMPTZ, "parent.started_at", "Partition column."),
            ),
            key=("call_id", "comment_id"),
        ),
        ChildTable(
            name="call_team",
            purpose="Teams an inbound call was routed to: one row per team of a call "
            "(calls.teams).",
            list_field="teams",
            columns=(
                _parent_key("call_id", "The call."),
                _col("team_id", BIGINT, "item.id", "The team.", id_of_object=True),
                _col("call_started_at", TIMESTAMPTZ, "parent.started_at", "Partition column."),
            ),
            key=("call_id", "team_id"),
        ),
    ),
)

COMPANY_INFO = Table(
    name="company_info",
    purpose=(
        "The company itself: its name, and how many users and numbers it has; one row, replaced "
        "on each load."
    ),
    path="/v1/company",
    list_key="company",
    replication=Replication.FULL,
    primary_key=None,
    date_field=None,
    bounds=None,
    paginated=False,
    fields=(
        _f("name", "STRING", "Company name."),
        _f("users_count", "NUMERIC", "Number of users."),
        _f("numbers_count", "NUMERIC", "Number of phone numbers."),
    ),
)

USER_AVAILABILITY = Table(
    name="user_availability",
    purpose=(
        "Each user's availability right now (available, offline, do_not_disturb, in_call, "
        "after_call_work): a snapshot, replaced whole on each load."
    ),
    path="/v1/users/availabilities",
    list_key="users",
    replication=Replication.FULL,
    primary_key="id",
    date_field=None,
    bounds=None,
    paginated=True,
    fields=(
        _f("id", "NUMERIC", "The user (aircall.users.id)."),
        _f("availability", "STRING", "The user's availability when the table was loaded."),
    ),
)

WEBHOOKS = Table(
    name="webhooks",
    purpose=(
        "The webhooks the company registered: receiver URL, events and whether each is active; "
        "one row per webhook, replaced whole on each load. The token that authenticates "
        "Aircall's calls to the receiver is never read into the warehouse."
    ),
    path="/v1/webhooks",
    list_key="webhooks",
    replication=Replication.FULL,
    primary_key="webhook_id",
    date_field=None,
    bounds=None,
    paginated=True,
    fields=(
        _f("webhook_id", "STRING", "Unique identifier of the webhook (a UUID)."),
        _f("id", "NUMERIC", "Former integer identifier (deprecated by Aircall)."),
        _f("direct_link", "STRING", "API URL of the webhook."),
        _f("url", "STRING", "The receiver's URL."),
        _f("active", "BOOLEAN", "Whether Aircall sends events to it."),
        _f("events", "RECORD", 'Events it subscribes to, e.g. ["call.created"].'),
        _f("created_at", "TIMESTAMP", "When the webhook was created (UTC)."),
    ),
    secret_fields=("token",),
)

TABLES: Mapping[str, Table] = {
    t.name: t
    for t in (
        USERS,
        TAGS,
        NUMBERS,
        TEAMS,
        CONTACTS,
        CALLS,
        COMPANY_INFO,
        USER_AVAILABILITY,
        WEBHOOKS,
    )
}

# Each child table's parent, by the child's name.
CHILD_PARENTS: Mapping[str, str] = {
    child.name: table.name for table in TABLES.values() for child in table.children
}


def _per_call(
    name: str, purpose: str, resource: str, fields: tuple[Field, ...], primary_key: str | None
) -> Table:
    """A table filled from one request per call (``/v1/calls/{call_id}/<resource>``), dated by
    its call so that it is partitioned and replaced with the calls."""
    return Table(
        name=name,
        purpose=purpose,
        path=f"/v1/calls/{{call_id}}/{resource}",
        list_key=resource.removesuffix("s") if resource != "sentiments" else "sentiment",
        replication=Replication.KEY_BASED,
        primary_key=primary_key,
        date_field="call_started_at",
        bounds=None,
        paginated=False,
        fields=(
            _extra("call_id", BIGINT, "The call (aircall.calls.id)."),
            *fields,
            _extra("call_started_at", TIMESTAMPTZ, "When the call started (UTC): partitions it."),
        ),
    )


CALL_PARTICIPANT_FIELDS = (
    _extra("position", BIGINT, "0-based order in the API's list for the call."),
    _extra("participant_type", VARCHAR, "internal (a user) or external (the other party)."),
    _extra("user_id", BIGINT, "The user, for an internal participant."),
    _extra("phone_number", VARCHAR, "The number, for an external participant."),
)

# Conversation intelligence (Aircall's AI package), by the settings key that enables it; each
# costs one request per call. Rows are replaced with the calls of their range.
INSIGHTS: Mapping[str, tuple[Table, ...]] = {
    "transcription": (
        _per_call(
            "call_transcription",
            "The transcription of a call or voicemail: one row per call that has one.",
            "transcription",
            (
                _extra("id", BIGINT, "Identifier of the transcription."),
                _extra("type", VARCHAR, "call or voicemail."),
                _extra("language", VARCHAR, "Language of the transcription, e.g. en."),
                _extra("call_created_at", TIMESTAMPTZ, "When the call was created (UTC)."),
            ),
            "call_id",
        ),
        _per_call(
            "call_transcription_utterance",
            "What was said, one row per utterance of a call's transcription, in order.",
            "transcription",
            (
                *CALL_PARTICIPANT_FIELDS,
                _extra("start_time", DOUBLE, "Seconds from the start of the call."),
                _extra("end_time", DOUBLE, "Seconds from the start of the call."),
                _extra("text", VARCHAR, "What the participant said."),
            ),
            None,
        ),
    ),
    "sentiments": (
        _per_call(
            "call_sentiment",
            "How each participant of a call felt: one row per participant (POSITIVE, NEUTRAL "
            "or NEGATIVE).",
            "sentiments",
            (
                _extra("id", BIGINT, "Identifier of the sentiment analysis."),
                *CALL_PARTICIPANT_FIELDS,
                _extra("value", VARCHAR, "POSITIVE, NEUTRAL or NEGATIVE."),
            ),
            None,
        ),
    ),
    "topics": (
        _per_call(
            "call_topic",
            "The key topics of a call: one row per topic.",
            "topics",
            (
                _extra("id", BIGINT, "Identifier of the topic analysis."),
                _extra("position", BIGINT, "0-based order in the API's list for the call."),
                _extra("topic", VARCHAR, "The topic, e.g. billing."),
                _extra("created_at", TIMESTAMPTZ, "When the topics were generated (UTC)."),
            ),
            None,
        ),
    ),
    "summary": (
        _per_call(
            "call_summary",
            "The AI summary of a call: one row per call that has one.",
            "summary",
            (
                _extra("id", BIGINT, "Identifier of the summary."),
                _extra("content", VARCHAR, "The summary text."),
                _extra("created_at", TIMESTAMPTZ, "When the summary was generated (UTC)."),
            ),
            "call_id",
        ),
    ),
}

CALL_RECORDING = Table(
    name="call_recording",
    purpose=(
        "Recordings and voicemails archived while their signed links were fresh: one row per "
        "call and kind, with where the file is, its size and SHA-256, or why it could not be "
        "archived."
    ),
    path="",  # the calls' own signed links, not an API path
    list_key="",
    replication=Replication.KEY_BASED,
    primary_key=None,
    date_field="call_started_at",
    bounds=None,
    paginated=False,
    fields=(
        _extra("call_id", BIGINT, "The call (aircall.calls.id)."),
        _extra("kind", VARCHAR, "recording or voicemail."),
        _extra("uri", VARCHAR, "Where the audio is archived (AIRCALL_ARCHIVE_URL/...)."),
        _extra("bytes", BIGINT, "Size of the archived file."),
        _extra("sha256", VARCHAR, "SHA-256 of the archived file, hex."),
        _extra("archived_at", TIMESTAMPTZ, "When it was archived (UTC)."),
        _extra("error", VARCHAR, "Why it could not be archived (null when archived)."),
        _extra("call_started_at", TIMESTAMPTZ, "When the call started (UTC): partitions it."),
    ),
)


def get_table(name: str) -> Table:
    """The catalog entry for ``name``, or a ValueError listing the valid table names."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table '{name}'; valid tables are: {', '.join(TABLES)}") from None
