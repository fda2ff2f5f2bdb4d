"""How a settings mistake is told: one line per mistake, ``<file>: <key>: <what to do>``.

Pydantic's own messages name neither the file nor, for a misspelt name, the name that was
meant; a user editing ``aircall.yaml`` or a component's ``defs.yaml`` needs both. Validators
report a mistake at its exact key with :func:`problems`; :func:`describe` turns every error
into a line, suggesting the closest valid name (``startd_at`` -> ``started_at``) and listing
the choices when there are few. A value is only ever repeated when it is a name (a key, a
table, a column, a choice): other values may be credentials.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

Loc = tuple[str | int, ...]
# Pydantic's wording for a value of the wrong type, said as what to write instead.
_TYPE_MESSAGES = {
    "list_type": "must be a list, e.g. [a, b]",
    "string_type": "must be a text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "date_type": "not a date; write it as YYYY-MM-DD",
    "date_parsing": "not a date; write it as YYYY-MM-DD",
    "date_from_datetime_parsing": "not a date; write it as YYYY-MM-DD",
}
# Choices are listed in full up to this many; beyond, only the suggestion is given.
FEW = 12


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The valid name ``word`` most likely misspells (case aside), if one is close enough."""
    by_lower = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[match[0]] if match else None


def suggestion(word: str, choices: Sequence[str], kind: str, list_all: bool = False) -> str:
    """``"; did you mean 'x'?"``, or else the valid names when they are few (or ``list_all``)."""
    guess = closest(word, choices)
    if guess is not None:
        return f"; did you mean '{guess}'?"
    if list_all or len(choices) <= FEW:
        return f"; valid {kind}: {', '.join(choices)}"
    return ""


def problems(found: Sequence[tuple[Loc, str]]) -> ValidationError:
    """A validation error holding each ``(key path, message)``, for a validator to raise.

    Raised in a field validator, the path is relative to that field; pydantic prefixes it and
    keeps the other fields' errors, so every mistake of a file is reported at once.
    """
    return ValidationError.from_exception_data(
        "Settings",
        [
            InitErrorDetails(
                type=PydanticCustomError("settings", "{message}", {"message": message}),
                loc=loc,
                input=None,
            )
            for loc, message in found
        ],
    )


def joined(exc: ValidationError, found: Sequence[tuple[Loc, str]]) -> ValidationError:
    """``exc``'s errors and the ``found`` problems as one error, for a wrap validator that
    checks names even where pydantic refused the shape around them."""
    return ValidationError.from_exception_data(
        "Settings",
        [_details(error) for error in exc.errors(include_url=False)]
        + [_details(error) for error in problems(found).errors(include_url=False)],
        hide_input=True,
    )


def _details(error: Any) -> InitErrorDetails:
    kind = error["type"]
    if kind == "settings":
        kind = PydanticCustomError("settings", "{message}", {"message": error["msg"]})
    details = InitErrorDetails(type=kind, loc=error["loc"], input=error.get("input"))
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


def key_path(loc: Loc) -> str:
    """``tables.calls.columns``, ``destinations.0.template``: where a mistake is."""
    return ".".join(str(p) for p in loc if p != "[key]") or "(the whole file)"


def describe(
    exc: ValidationError,
    model: type[BaseModel],
    source: str,
    when_missing: Mapping[str, str] | None = None,
) -> str:
    """Every error of ``exc`` (raised by ``model``) as ``<source>: <key>: <message>`` lines.

    ``when_missing`` maps a key path to what to write when that required key is absent.
    """
    lines = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        lines.append(f"{source}: {key_path(loc)}: {_message(error, model, loc, when_missing)}")
    return "\n".join(lines)


def _message(
    error: Any, model: type[BaseModel], loc: Loc, when_missing: Mapping[str, str] | None
) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        keys = _fields_at(model, loc[:-1]) or []
        return "unknown key" + suggestion(str(loc[-1]), keys, "keys here")
    if kind == "missing":
        hint = (when_missing or {}).get(key_path(loc))
        return "required" + (f": {hint}" if hint else "")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", error["ctx"]["expected"])
        return f"'{error['input']}' is not a valid choice" + suggestion(
            str(error["input"]), choices, "choices"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        keys = _fields_at(model, loc)
        return "must be a mapping" + (f" of {', '.join(keys)}" if keys else "")
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return _TYPE_MESSAGES.get(kind, str(error["msg"]))


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The keys valid at ``loc`` when a settings model sits there, else None."""
    annotation: Any = model
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    found = _model_in(annotation)
    return list(found.model_fields) if found else None


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one key below ``annotation`` (a model field, a mapping value, an item)."""
    found = _model_in(annotation)
    if found is not None:
        field = found.model_fields.get(str(part))
        return field.annotation if field else None
    for option in _options(annotation):
        origin = get_origin(option)
        if origin is dict and part != "[key]":
            return get_args(option)[1]
        if origin is list and isinstance(part, int):
            return get_args(option)[0]
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for option in _options(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _options(annotation: Any) -> list[Any]:
    """``X | None`` and ``Annotated[X, ...]`` unwrapped to their types."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _options(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [o for a in get_args(annotation) for o in _options(a)]
    return [annotation]
