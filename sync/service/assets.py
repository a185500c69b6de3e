"""The dashboard's static files, served from memory under `/static/<version>/<name>`.

The version is a digest of every file's content, so a changed file gets a new URL: the
browser may keep each one for a year (`immutable`) and never shows a stale chart script
after an upgrade. `private`: the files sit behind the dashboard's access rule, so shared
caches must not keep them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8"}
CACHE_FOREVER = "private, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


class Assets:
    """Every file under `static/` (vendor/ included), read once at start."""

    def __init__(self, root: Path = STATIC) -> None:
        files: dict[str, Asset] = {}
        whole = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(root).as_posix()
            media_type = _TYPES.get(path.suffix)
            if media_type is None:  # licences and anything else are not served
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            files[name] = Asset(body, media_type, f'"{digest[:20]}"')
            whole.update(name.encode() + b"\0" + digest.encode())
        self.files = files
        self.version = whole.hexdigest()[:12]

    def url(self, name: str) -> str:
        return f"/static/{self.version}/{name}"

    def response(self, request: Request) -> Response:
        """The file at `/static/{version}/{name}`; 404 for an old version or none."""
        version, _, name = str(request.path_params["rest"]).partition("/")
        asset = self.files.get(name)
        if asset is None or version != self.version:
            return PlainTextResponse("Not Found", status_code=404,
                                     headers={"Cache-Control": "no-store"})
        headers = {"Cache-Control": CACHE_FOREVER, "ETag": asset.etag,
                   "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)
