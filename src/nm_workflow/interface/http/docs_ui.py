"""The API documentation page (Swagger UI), served whole from an installed package.

FastAPI's own page loads Swagger UI's script and style from a CDN, and ReDoc and its fonts
from others: on a network without the internet (many company networks) the docs were blank.
Here the page and its assets come from this service alone (ADR 0015). ReDoc is not offered.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install(app: FastAPI) -> None:
    """Serve GET /docs and the Swagger UI files under /docs/assets/."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:  # no I/O: served on the loop, no hop to a thread
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # Swagger UI would send the document to an online validator for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
