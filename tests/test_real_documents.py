"""Real PDF, DOCX and HTML files indexed with the rest: questions cite the right passage and page.

The page a citation names is checked against PDFium's own text of that page, read here apart
from the pipeline, so a wrong page cannot pass because the pipeline agrees with itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import running_in_ci

from policyqa import Assistant, Settings

REAL_DOCS = Path(__file__).resolve().parents[2] / "shared" / "real-docs"
pytestmark = pytest.mark.slow  # seven real files converted and indexed (~1 min)
_SPACE = re.compile(r"\s+")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    if not REAL_DOCS.is_dir():
        message = f"the shared real documents are not at {REAL_DOCS}"
        if running_in_ci():
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
    settings = Settings(corpus_dirs=(REAL_DOCS,), index_dir=tmp_path_factory.mktemp("real-docs-index"))
    assistant = Assistant(settings)
    report = assistant.build()
    assert report.documents == 7 and not report.skipped
    return assistant


def _pdf_page_text(name: str, page: int) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(next(REAL_DOCS.glob(name + "*"))))
    try:
        return _SPACE.sub("", pdf[page - 1].get_textpage().get_text_range())
    finally:
        pdf.close()


def _on_page(quote: str, page_text: str) -> bool:
    # PDFium's raw page text breaks lines where the layout does; compare without whitespace.
    return _SPACE.sub("", quote)[:20] in page_text


def test_civil_code_pdf_cites_the_article_on_its_page(assistant: Assistant) -> None:
    answer = assistant.ask("向人民法院请求保护民事权利的诉讼时效期间是几年？")
    assert answer.outcome == "answered", answer.abstain_reason
    cited = [c for c in answer.citations if "第一百八十八条" in c.section]
    assert cited, [c.section for c in answer.citations]
    citation = cited[0]
    assert citation.kind == "law" and citation.title == "中华人民共和国民法典"
    assert citation.page is not None and citation.page_end is not None and citation.page_char_start is not None
    assert "三年" in citation.text
    page_text = _pdf_page_text("pdf03", citation.page)
    assert _on_page(citation.quotes[0], page_text) or _on_page(
        citation.quotes[0], _pdf_page_text("pdf03", citation.page_end)
    )
    data = answer.to_dict()["citations"][0]
    assert {"page", "page_end", "page_char_start", "kind"} <= set(data)  # type: ignore[arg-type]


def test_mine_safety_pdf_article_page(assistant: Assistant) -> None:
    passages = assistant.search("煤矿安全监管监察执法文书由什么人员负责制作？", k=3).passages
    hit = next(p for p in passages if "具有煤矿安全监管监察执法资格的人员负责制作" in p.text)
    assert "第五条" in hit.section
    assert hit.page is not None and "具有煤矿安全监管监察执法资格的人员负责制作" in _pdf_page_text("pdf01", hit.page)


def test_work_report_pdf_figure_and_page(assistant: Assistant) -> None:
    answer = assistant.ask("2023年北京市地区生产总值增长了多少？")
    assert answer.outcome == "answered", answer.abstain_reason
    citation = next(c for c in answer.citations if "5.2%" in c.text)
    assert citation.page is not None and "地区生产总值增长5.2%" in _pdf_page_text("pdf04", citation.page)


def test_docx_and_html_citations_have_headings_and_no_page(assistant: Assistant) -> None:
    docx = assistant.search("辽宁自由贸易试验区的实施范围有多大面积？", k=5).passages
    assert any("平方公里" in p.text and p.page is None for p in docx)
    html = assistant.ask("市场主体歇业需要满足什么条件？")
    cited = [c for c in html.citations if "第三十条" in c.section]
    assert cited and cited[0].page is None and "歇业" in cited[0].text


def test_metadata_the_documents_state_is_filterable(assistant: Assistant) -> None:
    documents = {d.doc_id: d for d in assistant.documents()}
    state_council = next(d for d in documents.values() if d.doc_id.startswith("docx02"))
    assert state_council.metadata.get("doc_number") == "国发〔2017〕15号"
    assert state_council.kind == "policy"
    guangzhou = next(d for d in documents.values() if d.doc_id.startswith("html03"))
    assert guangzhou.metadata.get("doc_number") == "穗建规字〔2024〕5号"
    civil_code = next(d for d in documents.values() if d.doc_id.startswith("pdf03"))
    assert civil_code.kind == "law" and len(civil_code.pages) == 234
    # The re-typeset report opens with its salutation, which is no title.
    report = next(d for d in documents.values() if d.doc_id.startswith("pdf04"))
    assert report.title != "各位代表：" and report.metadata.get("format") == "pdf"
