"""Server-rendered pages (Jinja2)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.auth import ServicesDep

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def index(request: Request, services: ServicesDep) -> HTMLResponse:
    org = services.app.org()
    departments = sorted(org.departments.values(), key=lambda d: d["code"])
    return templates.TemplateResponse(
        request, "index.html", {"departments": departments, "people": len(org.people)}
    )
