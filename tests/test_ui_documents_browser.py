"""The Documents tab in a real browser: an admin uploads a file, watches it go in, and asks about it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_fixtures import KEY, REPO, RunningServer, serve

from policyqa import Assistant, Settings
from policyqa_app import AppSettings
from policyqa_app.config import key_digest

pytest_plugins = ["app_fixtures"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
SCREENSHOT = REPO / "docs" / "screenshots" / "ui-documents.png"
TIMEOUT_MS = 60_000
ADMIN_KEY = "admin-key-Rf6Yh2Dq8Mv4"
NEW_DOCUMENT = (
    "# 数据要素流通试点办法\n\n"
    "第一条 为促进数据要素流通，制定本办法。\n\n"
    "第二条 数据交易场所应当每季度公开交易规则和收费标准。\n"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def admin_server(
    assistant: Assistant, core_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The shipped corpus's index (copied: this test changes it), a managed folder, reader and admin keys."""
    root = tmp_path_factory.mktemp("ui-documents")
    shutil.copytree(core_settings.index_dir, root / "index")
    settings = core_settings.replace(index_dir=root / "index", managed_dir=root / "managed")
    security = AppSettings(
        api_key_digests=frozenset({key_digest(KEY)}),
        admin_key_digests=frozenset({key_digest(ADMIN_KEY)}),
        feedback_db=root / "feedback.sqlite3",
    )
    with serve(Assistant(settings, encoder=assistant.encoder), security) as running:
        yield running


def sign_in(page: object, url: str, key: str) -> None:
    """Open the UI at ``url`` and sign in with ``key``."""
    page.goto(url)  # type: ignore[attr-defined]
    page.fill("#api_key", key)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_selector("#pq-send")  # type: ignore[attr-defined]


def add_as_admin(page: object, url: str, admin_key: str, upload: Path) -> None:
    """Sign in with ``admin_key``, choose ``upload`` in the Documents tab and press Add."""
    sign_in(page, url, admin_key)
    add_file(page, upload)


def add_file(page: object, upload: Path) -> None:
    """Choose ``upload`` in the Documents tab (signed in as an admin) and press Add."""
    page.get_by_role("tab", name="文档 Documents").click()  # type: ignore[attr-defined]
    page.locator("#pq-documents table").wait_for()  # type: ignore[attr-defined]
    page.locator("#pq-upload input[type=file]").set_input_files(str(upload))  # type: ignore[attr-defined]
    page.locator("#pq-upload").get_by_text(upload.name).first.wait_for()  # type: ignore[attr-defined]
    page.click("#pq-add")  # type: ignore[attr-defined]


def test_an_admin_uploads_a_file_sees_it_go_live_and_gets_answers_from_it(
    admin_server: RunningServer, tmp_path: Path
) -> None:
    upload = tmp_path / "数据要素流通试点办法.md"
    upload.write_text(NEW_DOCUMENT, encoding="utf-8")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
            page.set_default_timeout(TIMEOUT_MS)
            add_as_admin(page, admin_server.url, ADMIN_KEY, upload)
            # Gradio's progress shows the stages while the file goes in ...
            page.locator("#pq-admin-report .progress-text, #pq-admin-report .eta-bar, .progress-level").first.wait_for()
            report = page.locator("#pq-admin-report .pq-add-report")
            report.wait_for()
            assert "已添加 added as" in report.inner_text() and "is live" in report.inner_text()
            # ... and the list shows the new document once its build is live.
            page.locator("#pq-documents").get_by_text("数据要素流通试点办法", exact=True).wait_for()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            page.get_by_role("tab", name="问答 Ask").click()
            page.fill("#pq-question textarea", "数据交易场所应当多久公开交易规则？")
            page.click("#pq-send")
            links = page.locator("#pq-chat .pq-sources a.pq-cite")
            links.first.wait_for()
            assert "每季度公开交易规则" in page.locator("#pq-chat").inner_text()
        finally:
            browser.close()
