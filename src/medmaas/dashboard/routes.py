"""``/`` (the dashboard page) and ``/ui/<asset>`` (its scripts and styles).

Not in the OpenAPI document: these are not API operations and need no key; everything the page
shows comes from API calls that do.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from medmaas.exceptions import NotFoundError

STATIC = Path(__file__).parent / "static"
#: the files served, and their media types: an allow-list, so no path can reach anything else
ASSETS = {"app.js": "text/javascript", "views.js": "text/javascript", "tryit.js": "text/javascript",
          "dom.js": "text/javascript", "style.css": "text/css", "favicon.svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/ui/{asset}")
def asset(asset: str) -> FileResponse:
    media_type = ASSETS.get(asset)
    if media_type is None:
        raise NotFoundError(f"no dashboard file {asset!r}")
    return FileResponse(STATIC / asset, media_type=media_type)
