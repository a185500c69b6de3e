"""The Owners API (`/crm/v3/owners`): list owners and read one by owner or user id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox._server import Request, Response

if TYPE_CHECKING:
    from .app import HubSpotApp


def register(app: HubSpotApp) -> None:
    """Add the owners routes (list and read one) to the app."""
    from .app import error

    store = app.store

    def list_owners(req: Request, p: dict[str, str]) -> Response:
        try:
            limit = int(req.q("limit") or 100)
            after = int(req.q("after") or 0)
        except ValueError:
            return error(400, "limit and after must be integers", "VALIDATION_ERROR")
        if not 1 <= limit <= 500:
            return error(400, "limit must be between 1 and 500", "VALIDATION_ERROR")
        archived = (req.q("archived") or "false").lower() == "true"
        email = (req.q("email") or "").strip().lower()
        with store.lock:
            owners = [o for o in sorted(store.owners.values(), key=lambda o: int(o.id))
                      if o.archived == archived and (not email or o.email.lower() == email)]
        page = owners[after:after + limit]
        out: dict[str, Any] = {"results": [o.to_json() for o in page]}
        if after + limit < len(owners):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, out)

    def get_owner(req: Request, p: dict[str, str]) -> Response:
        archived = (req.q("archived") or "false").lower() == "true"
        by_user = req.q("idProperty") == "userId"
        with store.lock:
            found = [o for o in store.owners.values()
                     if (str(o.user_id) if by_user else o.id) == p["id"]
                     and o.archived == archived]
        if not found:
            return error(404, f"Owner {p['id']} not found", "OBJECT_NOT_FOUND")
        return Response(200, found[0].to_json())

    app._route("GET", r"/crm/v3/owners/?", list_owners)
    app._route("GET", r"/crm/v3/owners/(?P<id>[^/]+)", get_owner)
