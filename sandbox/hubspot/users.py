"""The Users API (`/crm/v3/objects/users`): one user per owner, with its availability.

HubSpot's user objects carry the user's owner id (`hubspot_owner_id`) and the availability
status a person sets in HubSpot (`hs_availability_status`: available | away). The emulator
derives one user per active, non-queue owner; the user's id is the owner's `userId`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox._server import Request, Response

from .model import iso

if TYPE_CHECKING:
    from .app import HubSpotApp
    from .store import Owner

AVAILABILITY = ("available", "away")


def _user(owner: Owner, properties: list[str]) -> dict[str, Any]:
    values = {"hs_object_id": str(owner.user_id), "hubspot_owner_id": owner.id,
              "hs_availability_status": owner.availability}
    props: dict[str, str | None] = {"hs_object_id": values["hs_object_id"]}
    props.update({name: values.get(name) for name in properties if name != "hs_object_id"})
    return {"id": str(owner.user_id), "properties": props, "archived": False,
            "createdAt": iso(owner.created_ms), "updatedAt": iso(owner.updated_ms)}


def register(app: HubSpotApp) -> None:
    """Add the users routes (list and read one) to the app."""
    from .app import _list_param, error

    store = app.store

    def people() -> list[Owner]:
        with store.lock:
            return sorted((o for o in store.owners.values()
                           if not o.archived and o.type == "PERSON"), key=lambda o: o.user_id)

    def list_users(req: Request, p: dict[str, str]) -> Response:
        try:
            limit = int(req.q("limit") or 10)
            after = int(req.q("after") or 0)
        except ValueError:
            return error(400, "limit and after must be integers", "VALIDATION_ERROR")
        if not 1 <= limit <= 100:
            return error(400, "limit must be between 1 and 100", "VALIDATION_ERROR")
        users = [o for o in people() if o.user_id > after]
        page = users[:limit]
        properties = _list_param(req, "properties")
        out: dict[str, Any] = {"results": [_user(o, properties) for o in page]}
        if len(users) > limit:
            out["paging"] = {"next": {"after": str(page[-1].user_id)}}
        return Response(200, out)

    def get_user(req: Request, p: dict[str, str]) -> Response:
        found = [o for o in people() if str(o.user_id) == p["id"]]
        if not found:
            return error(404, "Object not found.  objectId are usually numeric.",
                         "OBJECT_NOT_FOUND")
        return Response(200, _user(found[0], _list_param(req, "properties")))

    app._route("GET", r"/crm/v3/objects/users/?", list_users)
    app._route("GET", r"/crm/v3/objects/users/(?P<id>[^/]+)", get_user)
