"""What Lambda gets: the code asset the stack deploys (Chalice's deployment.zip, as synthesized) holds
the app and `chalicelib/` with requirements.txt's packages, and no dev tooling."""
from __future__ import annotations

import zipfile
from pathlib import Path

DEV_ONLY = ("notifications/", "chalicelib/local/", "chalicelib/cli.py", "moto/", "werkzeug/", "flask/", "tests/",
            "bench/", "infra/")


def _code_assets(outdir: Path) -> list[zipfile.ZipFile]:
    archives = [zipfile.ZipFile(path) for path in outdir.rglob("*.zip")]
    return [archive for archive in archives if "app.py" in archive.namelist()]


def test_the_deployed_code_has_no_dev_tooling(synthesized):
    _, outdir = synthesized
    assets = _code_assets(Path(outdir))
    assert assets, f"no deployment package under {outdir}"
    for archive in assets:
        names = archive.namelist()
        assert "chalicelib/api/__init__.py" in names and "chalicelib/static/notification-bell.js" in names
        assert "pynamodb/__init__.py" in names  # requirements.txt's packages are in it
        assert "openapi_ui_bundles/swagger_ui/vendor/swagger-ui-bundle.js" in names  # the /docs page's assets
        leaked = sorted({prefix for name in names for prefix in DEV_ONLY if name.startswith(prefix)})
        assert not leaked, leaked
