"""The chat UI of `policyqa serve --workers 2` in a real browser: every question answered, every card opened.

Gradio sends a question and its event stream on separate connections, which the kernel hands
to either worker; before the workers passed a session on to the one that holds it, about one
browser session in three got no answer at all.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ui_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from test_ui_documents_browser import add_file, sign_in
from test_workers import READY_WAIT_SECONDS, _children, _serving_two_workers, _wait_for_children

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")

SESSIONS = 6
QUESTIONS = ("技术成熟度曲线", "科技成果转化", "技术处于泡沫破裂低谷期时需要什么政策？")


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    # The UI's events are limited requests too: a browser asking freely, not the rate-limit test's 5 a minute.
    shared = {"POLICYQA_STATE_DB": str(tmp_path / "state.sqlite3"), "POLICYQA_RATE_LIMIT": "1000/minute"}
    with _serving_two_workers(tmp_path, shared) as serving:
        yield serving


def test_every_browser_session_is_answered_and_its_cards_open_with_two_workers(
    two_workers: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, _server = two_workers
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(SESSIONS):  # a new browser context each: a new Gradio session, new connections
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(url)
                page.wait_for_selector("#pq-send")
                cards = []
                for turn, question in enumerate(QUESTIONS):
                    page.fill("#pq-question textarea", question)
                    page.click("#pq-send")
                    link = page.locator(f"#pq-chat .pq-sources a.pq-cite[href^='#pq-cite-{turn}-']").first
                    link.wait_for()  # the answer arrived through the event stream
                    before = page.inner_text("#pq-card")
                    link.click()  # the card is drawn from the conversation the session's worker holds
                    page.wait_for_function(
                        "before => { const card = document.querySelector('#pq-card');"
                        " return card.innerText !== before && card.querySelector('.pq-card-passage mark'); }",
                        arg=before,
                    )
                    cards.append(page.inner_text("#pq-card"))
                assert cards[0] != cards[-1]
                # The first answer's card again, after the others: the whole conversation is there.
                page.locator("#pq-chat .pq-sources a.pq-cite[href^='#pq-cite-0-']").first.click()
                page.wait_for_function("first => document.querySelector('#pq-card').innerText === first", arg=cards[0])
                context.close()
        finally:
            browser.close()


ADMIN_KEY = "admin-key-Wq3Ze8Lp5Tn2"
NEW_DOCUMENT = (
    "# 数据要素流通试点办法\n\n第一条 为促进数据要素流通，制定本办法。\n\n"
    "第二条 数据交易场所应当每季度公开交易规则和收费标准。\n"
)


def test_an_upload_through_the_ui_of_two_workers_goes_live_on_both(tmp_path: Path) -> None:
    """The file, its progress and the add event may reach different workers; the new build replaces both."""
    upload = tmp_path / "数据要素流通试点办法.md"
    upload.write_text(NEW_DOCUMENT, encoding="utf-8")
    shared = {
        "POLICYQA_STATE_DB": str(tmp_path / "state.sqlite3"),
        "POLICYQA_RATE_LIMIT": "1000/minute",
        "POLICYQA_ADMIN_KEYS": ADMIN_KEY,
    }
    with (
        _serving_two_workers(tmp_path, shared, key=ADMIN_KEY) as (url, server),
        sync_api.sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            sign_in(page, url, ADMIN_KEY)
            page.fill("#pq-question textarea", "技术成熟度曲线")  # an answer before the new build
            page.click("#pq-send")
            first_link = page.locator("#pq-chat .pq-sources a.pq-cite[href^='#pq-cite-0-']").first
            first_link.wait_for()
            old_workers = set(_children(server.pid))
            add_file(page, upload)
            report = page.locator("#pq-admin-report .pq-add-report")
            report.wait_for()
            assert "已添加 added as" in report.inner_text() and "is live" in report.inner_text()
            _wait_for_new_workers(server.pid, old_workers)
            page.get_by_role("tab", name="问答 Ask").click()
            for turn in range(1, 4):  # new connections each time, to whichever new worker; both serve the new build
                page.fill("#pq-question textarea", "数据交易场所应当多久公开交易规则？")
                page.click("#pq-send")
                page.locator(f"#pq-chat .pq-sources a.pq-cite[href^='#pq-cite-{turn}-']").first.wait_for()
            assert page.locator("#pq-chat").inner_text().count("每季度公开交易规则") >= 3
            # The answer given before the workers were replaced still opens its card (the shared store).
            before = page.inner_text("#pq-card")
            first_link.click()
            page.wait_for_function(
                "before => { const card = document.querySelector('#pq-card');"
                " return card.innerText !== before && card.innerText.includes('技术成熟度'); }",
                arg=before,
            )
        finally:
            browser.close()


def _wait_for_new_workers(server_pid: int, old_workers: set[int]) -> None:
    """Until the supervisor has forked two workers in place of ``old_workers`` (it follows the new build)."""
    children = _wait_for_children(server_pid, lambda now: len(set(now) - old_workers) >= 2, READY_WAIT_SECONDS)
    if len(set(children) - old_workers) < 2:
        pytest.fail("the workers were never replaced after the new build went live")
