"""Routes of the analytics tables: availabilities, webhooks, conversation intelligence.

Kept apart from `api.py` (the core resources) and plugged into its `Api` by the gateway, so
they pass through the same auth, rate limit, stats and fault injection as every request.
"""

from __future__ import annotations

from .api import Api, Handler, Request, Response, app_error, json_response, paging_of
from .config import SimulatorConfig
from .intelligence import KINDS
from .store import Store

NO_AI_PACKAGE = {
    "error": "Forbidden",
    "troubleshoot": "company has no AI package: conversation intelligence (AI Assist) is a "
    "paid add-on",
}


def analytics_routes(
    config: SimulatorConfig, store: Store, api: Api
) -> dict[tuple[str, str], Handler]:
    """The (method, pattern) → handler table to add to `api`."""

    def availabilities(request: Request, _: int | None) -> Response:
        """A snapshot of every user, by id: no dates, no filters, no order."""
        paging = paging_of(request)
        total, items = store.availabilities_page(offset=paging.offset, limit=paging.per_page)
        return api.list_response(request, "users", paging, total, len(items), b",".join(items))

    def availability(_: Request, user_id: int | None) -> Response:
        assert user_id is not None
        value = store.availability(user_id)
        if value is None:
            return app_error(404, "Not found", f"No user with id {user_id} was found")
        return json_response(200, {"availability": value})

    def webhooks(request: Request, _: int | None) -> Response:
        paging = paging_of(request)
        total, items = store.page("webhooks", offset=paging.offset, limit=paging.per_page)
        joined = b",".join(items)
        return api.list_response(
            request, "webhooks", paging, total, len(items), joined, links=False
        )

    def intelligence(kind: str) -> Handler:
        def handler(_: Request, call_id: int | None) -> Response:
            assert call_id is not None
            if not config.intelligence:
                return json_response(403, NO_AI_PACKAGE)
            found = store.intelligence(call_id, kind)
            if found is None:
                return app_error(404, "Not Found", f"No {kind} is available for call {call_id}")
            return json_response(200, {KINDS[kind]: found})

        return handler

    routes: dict[tuple[str, str], Handler] = {
        ("GET", "v1/users/availabilities"): availabilities,
        ("GET", "v1/users/:id/availability"): availability,
        ("GET", "v1/webhooks"): webhooks,
    }
    for kind in KINDS:
        routes[("GET", f"v1/calls/:id/{kind}")] = intelligence(kind)
    return routes
