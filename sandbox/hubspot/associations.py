"""CRM v4 association endpoints (object level and batch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox._server import Request, Response

from .model import ASSOC_TYPE_IDS, OBJECT_TYPE_IDS, iso, now_ms
from .model import object_type as norm_type

if TYPE_CHECKING:
    from .app import HubSpotApp

__all__ = ["register", "target_type"]

DOC = "crm-associations-v4"
# associations per record in one batch-read result; more come with `paging.next.after`
# (HubSpot's page size here is not documented: 500 is what its GET endpoint defaults to)
BATCH_READ_PAGE = 500
_OBJ = r"(?P<from>[^/]+)/(?P<fid>[^/]+)/associations"


def target_type(from_type: str, type_id: int, category: str) -> str | None:
    """The object type a HUBSPOT_DEFINED type id points to from ``from_type`` (else None).
    Labels of other categories are portal-defined: only contacts are accepted as targets."""
    if category != "HUBSPOT_DEFINED":
        return "contacts"
    for (f, t), tid in ASSOC_TYPE_IDS.items():
        if f == from_type and tid == type_id:
            return t
    return None


def _types(app: HubSpotApp, req: Request, p: dict[str, str], from_key: str, to_key: str
           ) -> tuple[str, str] | Response:
    from .app import error

    f, t = norm_type(p[from_key]), norm_type(p[to_key])
    if f is None or t is None:
        return error(400, f"Unknown object type {p[from_key]!r} or {p[to_key]!r}",
                     "VALIDATION_ERROR")
    return f, t


def _spec(type_id: int) -> dict[str, Any]:
    return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}


def register(app: HubSpotApp) -> None:
    """Add the v4 routes to the app."""
    from .app import error

    store = app.store

    def missing(ft: str, fid: str, tt: str, tid: str) -> Response | None:
        for typ, rid in ((ft, fid), (tt, tid)):
            if store.get(typ, rid) is None:
                return error(404, f"No {typ.rstrip('s')} with ID {rid} exists",
                             "OBJECT_NOT_FOUND")
        return None

    def put_default(req: Request, p: dict[str, str]) -> Response:
        types = _types(app, req, p, "from", "to")
        if isinstance(types, Response):
            return types
        ft, tt = types
        gone = missing(ft, p["fid"], tt, p["tid"])
        if gone:
            return gone
        started = now_ms()
        store.associate(ft, p["fid"], tt, p["tid"])
        fwd = ASSOC_TYPE_IDS.get((ft, tt), 1)
        back = ASSOC_TYPE_IDS.get((tt, ft), fwd)
        return Response(200, {
            "status": "COMPLETE",
            "results": [
                {"from": {"id": p["fid"]}, "to": {"id": p["tid"]}, "associationSpec": _spec(fwd)},
                {"from": {"id": p["tid"]}, "to": {"id": p["fid"]}, "associationSpec": _spec(back)},
            ],
            "startedAt": iso(started), "completedAt": iso(now_ms()),
        })

    def put_labeled(req: Request, p: dict[str, str]) -> Response:
        types = _types(app, req, p, "from", "to")
        if isinstance(types, Response):
            return types
        ft, tt = types
        specs = _spec_list(app, req)
        if isinstance(specs, Response):
            return specs
        gone = missing(ft, p["fid"], tt, p["tid"])
        if gone:
            return gone
        for s in specs:
            if target_type(ft, int(s["associationTypeId"]), s["associationCategory"]) != tt:
                return error(400, f"{s['associationTypeId']} is not a valid association type "
                                  f"from {ft} to {tt}", "VALIDATION_ERROR",
                             subCategory="INVALID_ASSOCIATION")
        for s in specs:
            store.associate(ft, p["fid"], tt, p["tid"], int(s["associationTypeId"]))
        return Response(201, {"fromObjectTypeId": OBJECT_TYPE_IDS[ft], "fromObjectId": p["fid"],
                              "toObjectTypeId": OBJECT_TYPE_IDS[tt], "toObjectId": p["tid"],
                              "labels": []})

    def delete(req: Request, p: dict[str, str]) -> Response:
        types = _types(app, req, p, "from", "to")
        if isinstance(types, Response):
            return types
        store.dissociate(types[0], p["fid"], types[1], p["tid"])
        return Response(204)

    def get_page(req: Request, p: dict[str, str]) -> Response:
        types = _types(app, req, p, "from", "to")
        if isinstance(types, Response):
            return types
        ft, tt = types
        if store.get(ft, p["fid"]) is None:
            return error(404, f"No {ft.rstrip('s')} with ID {p['fid']} exists",
                         "OBJECT_NOT_FOUND")
        links = store.associated(ft, p["fid"], tt)
        limit = int(req.q("limit") or 500)
        after = int(req.q("after") or 0)
        ids = sorted(links, key=int)
        page = ids[after:after + limit]
        out: dict[str, Any] = {"results": [_multi(oid, links[oid]) for oid in page]}
        if after + limit < len(ids):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, out)

    def batch_create(req: Request, p: dict[str, str]) -> Response:
        types = _types(app, req, p, "from", "to")
        if isinstance(types, Response):
            return types
        ft, tt = types
        data = app.body(req, DOC, "BatchInputPublicAssociationMultiPost")
        app._batch_size(data["inputs"])
        started = now_ms()
        results, bad = [], []
        for item in data["inputs"]:
            fid, tid = str(item["from"]["id"]), str(item["to"]["id"])
            if missing(ft, fid, tt, tid):
                bad.append(fid)
                continue
            for s in item["types"]:
                store.associate(ft, fid, tt, tid, int(s["associationTypeId"]))
            results.append({"fromObjectTypeId": OBJECT_TYPE_IDS[ft], "fromObjectId": fid,
                            "toObjectTypeId": OBJECT_TYPE_IDS[tt], "toObjectId": tid,
                            "labels": []})
        return app._batch(results, bad, ft, started, ok_status=201)

    def batch_read(req: Request, p: dict[str, str]) -> Response:
        types = _types(app, req, p, "from", "to")
        if isinstance(types, Response):
            return types
        ft, tt = types
        data = app.body(req, DOC, "BatchInputPublicFetchAssociationsBatchRequest")
        app._batch_size(data["inputs"])
        started = now_ms()
        results, bad = [], []
        for item in data["inputs"]:
            fid = str(item["id"])
            links = store.associated(ft, fid, tt)
            if not links:
                bad.append(fid)
                continue
            try:
                after = int(item.get("after") or 0)
            except ValueError:
                return error(400, "after must be a paging token returned by a previous page",
                             "VALIDATION_ERROR")
            ids = sorted(links, key=int)
            result: dict[str, Any] = {"from": {"id": fid}, "to": [
                _multi(oid, links[oid]) for oid in ids[after:after + BATCH_READ_PAGE]]}
            if after + BATCH_READ_PAGE < len(ids):
                result["paging"] = {"next": {"after": str(after + BATCH_READ_PAGE)}}
            results.append(result)
        return app._batch(results, bad, ft, started)

    r = app._route
    r("PUT", rf"/crm/v4/objects/{_OBJ}/default/(?P<to>[^/]+)/(?P<tid>[^/]+)", put_default)
    r("GET", rf"/crm/v4/objects/{_OBJ}/(?P<to>[^/]+)", get_page)
    r("PUT", rf"/crm/v4/objects/{_OBJ}/(?P<to>[^/]+)/(?P<tid>[^/]+)", put_labeled)
    r("DELETE", rf"/crm/v4/objects/{_OBJ}/(?P<to>[^/]+)/(?P<tid>[^/]+)", delete)
    r("POST", r"/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/create", batch_create)
    r("POST", r"/crm/v4/associations/(?P<from>[^/]+)/(?P<to>[^/]+)/batch/read", batch_read)


def _spec_list(app: HubSpotApp, req: Request) -> list[dict[str, Any]] | Response:
    """The PUT body: a JSON array of AssociationSpec, each validated."""
    from .app import error

    try:
        data = req.json()
    except ValueError:
        return error(400, "Invalid input JSON: request body is not valid JSON",
                     "VALIDATION_ERROR")
    if not isinstance(data, list):
        return error(400, "Invalid input JSON: expected an array of association specs",
                     "VALIDATION_ERROR")
    for item in data:
        problems = app.validator.errors(DOC, "AssociationSpec", item)
        if problems:
            return error(400, "Invalid input JSON: " + "; ".join(problems[:5]),
                         "VALIDATION_ERROR")
    return data


def _multi(oid: str, type_ids: set[int]) -> dict[str, Any]:
    return {"toObjectId": int(oid), "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in sorted(type_ids)]}
