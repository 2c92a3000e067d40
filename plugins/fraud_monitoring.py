"""The fraud-monitoring page, served by the Airflow api-server at ``/fraud-monitoring/``.

A FastAPI app (``fastapi_apps``) renders ``fraud.dashboard.data`` and serves the nightly Evidently
reports and the Great Expectations Data Docs from ``FRAUD_ARTIFACT_DIR``; an entry in
``external_views`` puts "Fraud monitoring" in the Browse menu of the Airflow UI's navigation.

Airflow mounts a plugin's app without authentication, so every route here asks Airflow's auth
manager for the user itself (the UI's session cookie or a bearer token) and lets through only
users who may see the Airflow UI. A browser without a session is sent to the Airflow login page.

The entry has no ``url_route``, so it opens the page in its own tab rather than inside the UI:
Airflow embeds views in an iframe sandboxed without ``allow-popups``, and MLflow refuses to be
framed, so the page's links to MLflow, the reports and the Data Docs would not open from there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from fraud.config import ConfigError, load_settings
from fraud.dashboard.data import (
    DATA_DOCS_SITE,
    DRIFT_REPORTS,
    ArtifactNotFound,
    analyst_engine,
    artifact_file,
    load_dashboard,
)
from fraud.dashboard.html import CONTENT_SECURITY_POLICY, render_page
from fraud.db import describe_error
from fraud.links import DATA_DOCS_ROUTE, REPORTS_ROUTE, URL_PREFIX

log = logging.getLogger(__name__)
# On every answer of the app, errors and redirects included: nothing is cached (the page shows
# live data, the artifacts are rewritten every night, all of it sits behind a login), nothing is
# sniffed into another type, and no URL of the api-server leaks to MLflow or a CDN as a referrer.
# The page's own policy (fraud.dashboard.html) is the default; artifacts set theirs.
EDGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
# Reports and Data Docs are third-party HTML with inline scripts and styles: served from Airflow's
# origin they could act as the signed-in user, so the browser runs them in a sandbox with an
# opaque origin (no cookies, no same-origin requests), with no fetch, XHR or form going out.
_ARTIFACT_POLICY = (
    "sandbox allow-scripts allow-popups allow-downloads",
    "default-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
)
# An Evidently report is one self-contained file: inline scripts and styles, data: images.
REPORT_POLICY = "; ".join(
    (
        *_ARTIFACT_POLICY,
        "script-src 'unsafe-inline'",
        "style-src 'unsafe-inline'",
        "img-src data: blob:",
        "font-src data:",
    )
)
# Data Docs load Bootstrap, jQuery and Vega (which compiles expressions with eval) from these CDNs,
# and their own fonts, styles and images from the site.
DATA_DOCS_CDNS = (
    "https://cdn.jsdelivr.net https://cdnjs.cloudflare.com https://code.jquery.com"
    " https://maxcdn.bootstrapcdn.com https://stackpath.bootstrapcdn.com https://unpkg.com"
)
DATA_DOCS_POLICY = "; ".join(
    (
        *_ARTIFACT_POLICY,
        f"script-src 'self' 'unsafe-inline' 'unsafe-eval' {DATA_DOCS_CDNS}",
        f"style-src 'self' 'unsafe-inline' {DATA_DOCS_CDNS}",
        "img-src 'self' data:",
        f"font-src 'self' data: {DATA_DOCS_CDNS}",
    )
)


async def require_ui_user(request: Request) -> None:
    """Let through only a user the auth manager allows into the Airflow UI (401/403 otherwise)."""
    # Imported here, not at the top: every Airflow process loads the plugins, only the
    # api-server needs its security module.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    user = await get_user(request, None, await bearer_scheme(request))
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status_code=403, detail="Forbidden")


@lru_cache(maxsize=2)
def _engine(url: str) -> Engine:
    """One pool per api-server worker and URL."""
    return analyst_engine(url)


app = FastAPI(
    title="Fraud monitoring",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    dependencies=[Depends(require_ui_user)],
)


@app.middleware("http")
async def edge_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Add the edge headers to every answer, keeping a header a route has set itself."""
    response = await call_next(request)
    for name, value in EDGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@app.exception_handler(StarletteHTTPException)
async def login_first(request: Request, error: StarletteHTTPException) -> Response:
    """Send a browser without a session to the Airflow login page, then back here."""
    if error.status_code == 401 and "text/html" in request.headers.get("accept", ""):
        from airflow.api_fastapi.app import get_auth_manager

        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)))
    return await http_exception_handler(request, error)


@app.exception_handler(Exception)
async def unexpected_error(request: Request, error: Exception) -> Response:
    """A failure no route expected: a bare 500 that still carries the edge headers.

    Starlette answers it outside the middleware above, so the headers are set here.
    """
    log.error("fraud monitoring page: %s on %s", type(error).__name__, request.url.path[:200])
    return Response("Internal Server Error", status_code=500, headers=EDGE_HEADERS)


@app.get("/", response_class=HTMLResponse)
def monitoring_page() -> HTMLResponse:
    """The page: champion, the live model's last 30 nights, its alert queue, 14 nights of PSI,
    the latest decisions and alerts."""
    try:
        settings = load_settings()
        url = settings.analyst_database_url or settings.require_database_url()
    except ConfigError as error:
        raise HTTPException(status_code=503, detail=str(error)) from error
    try:
        dashboard = load_dashboard(_engine(url), settings)
    except sa.exc.SQLAlchemyError as error:
        message = describe_error(error, url)
        log.warning("fraud monitoring page: %s", message)
        raise HTTPException(status_code=503, detail=message) from error
    page = render_page(dashboard, settings.mlflow_browser_url, datetime.now(UTC))
    return HTMLResponse(page)


def _served(root: Path, relative: str, policy: str) -> FileResponse:
    """One file under ``root`` with its sandbox policy, or 404 for anything outside it or missing."""
    try:
        path = artifact_file(root, relative)
    except ArtifactNotFound as error:
        raise HTTPException(status_code=404, detail="Not Found") from error
    return FileResponse(path, headers={"Content-Security-Policy": policy})


@app.get(f"/{REPORTS_ROUTE}/{{relative:path}}")
def drift_report(relative: str) -> FileResponse:
    """A nightly Evidently drift report."""
    return _served(load_settings().artifact_dir / DRIFT_REPORTS, relative, REPORT_POLICY)


@app.get(f"/{DATA_DOCS_ROUTE}/{{relative:path}}")
def data_docs(relative: str) -> FileResponse:
    """A file of the Great Expectations Data Docs site."""
    return _served(load_settings().artifact_dir / DATA_DOCS_SITE, relative, DATA_DOCS_POLICY)


class FraudMonitoringPlugin(AirflowPlugin):
    """Registers the page's app and its entry in the navigation bar."""

    name = "fraud_monitoring"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Fraud monitoring"}]
    external_views = [
        {
            "name": "Fraud monitoring",
            # Relative to the UI's base URL, so it also works behind a path prefix.
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            # In the Browse menu: Airflow 3.3.2 renders a top-level external link as a button
            # that does not navigate, while menu entries are plain links.
            "category": "browse",
        }
    ]
