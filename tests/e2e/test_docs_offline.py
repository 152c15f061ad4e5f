"""/docs works without the internet: the page names no other host and every asset is served."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.e2e.api import Api

# src="...", href="...", url: '...' (Swagger UI's configuration), and CSS url(...).
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*[:(]\s*["']?([^"')\s,]+)""")


def test_the_docs_page_references_this_service_alone(api: Api) -> None:
    page = api.client.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = [a or b for a, b in _REFERENCE.findall(page.text)]
    assert len(references) >= 4, references  # style, icon, script, the OpenAPI document
    for reference in references:
        parts = urlsplit(reference)
        assert (parts.scheme, parts.netloc) == ("", ""), f"/docs loads {reference} from elsewhere"
        asset = api.client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content, reference


def test_the_swagger_ui_assets_are_served_with_their_media_types(api: Api) -> None:
    script = api.client.get("/docs/assets/swagger-ui-bundle.js")
    style = api.client.get("/docs/assets/swagger-ui.css")

    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    assert style.headers["content-type"].startswith("text/css")


def test_no_page_loads_from_a_cdn(api: Api) -> None:
    # ReDoc (a script and fonts from CDNs) is not offered; its path is an ordinary 404.
    response = api.client.get("/redoc")

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/no-such-resource"
