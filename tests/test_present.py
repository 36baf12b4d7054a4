"""present.py: citation labels, short titles, pages, answer and card HTML (all text escaped)."""

from __future__ import annotations

import pytest

from policyqa_app.present import (
    answer_html,
    citation_card_html,
    citation_label,
    clip,
    columns,
    copy_text,
    kind_text,
    page_image_url,
    pages_label,
    section_tail,
    short_title,
)

PATENT = {
    "n": 2,
    "doc_id": "patent-law",
    "title": "中华人民共和国专利法（2020年修正）",
    "kind": "law",
    "section": "第二章 专利权的授予 > 第十二条",
    "text": "第十二条 任何单位或者个人实施他人专利的，应当与专利权人订立实施许可合同。",
    "char_start": 100,
    "char_end": 140,
    "page": None,
    "page_end": None,
    "score": 0.8,
    "quotes": ["任何单位或者个人实施他人专利的，应当与专利权人订立实施许可合同。"],
    "highlights": [[5, 38]],
}


@pytest.mark.parametrize(
    ("title", "short"),
    [
        ("中华人民共和国专利法", "专利法"),
        ("《中华人民共和国专利法》", "专利法"),
        ("中华人民共和国专利法（2020年修正）", "专利法"),
        ("北京市促进科技成果转化条例", "北京市促进科技成果转化条例"),
        ("科技创新和产业创新深度融合的政策需求与实践路径", "科技创新和产业创新深度融合…"),
        ("中华人民共和国", "中华人民共和国"),
        ("Policy Needs of Integration", "Policy Needs of Integration"),
    ],
)
def test_short_title_drops_the_state_name_and_version_and_clips_long_titles(title: str, short: str) -> None:
    assert short_title(title) == short


def test_clip_counts_wide_characters_twice_and_marks_the_cut() -> None:
    assert columns("专利a") == 5
    assert clip("专利法实施细则", 9) == "专利法实…"
    assert columns(clip("专利法实施细则", 9)) <= 9
    assert clip("short", 9) == "short"


def test_pages_label() -> None:
    assert pages_label(3) == "p. 3"
    assert pages_label(3, 3) == "p. 3"
    assert pages_label(3, 4) == "pp. 3–4"
    assert pages_label(None, None) == ""


def test_kind_text_is_chinese_with_english_for_an_english_reader() -> None:
    assert kind_text("local_regulation") == "地方性法规"
    assert kind_text("paper", english=True) == "论文 Paper"
    assert kind_text("") == ""
    assert kind_text("memo") == "memo"


def test_section_tail_is_the_last_step() -> None:
    assert section_tail("第二章 专利权的授予 > 第十二条") == "第十二条"


def test_citation_label_leads_with_document_and_kind_then_section_and_page() -> None:
    assert citation_label(PATENT) == "[2] 专利法 · 法律 · 第十二条"
    assert citation_label(PATENT, english=True) == "[2] 专利法 · 法律 Law · 第十二条"
    pdf = {**PATENT, "kind": "local_regulation", "title": "测试市促进科技成果转化办法", "page": 2, "page_end": 3}
    assert citation_label(pdf) == "[2] 测试市促进科技成果转化办法 · 地方性法规 · 第十二条 · pp. 2–3"


def test_answer_markers_link_to_their_own_answers_cards_and_sources_follow() -> None:
    rendered = answer_html("应当订立合同。[2] 另一句。[9]", False, turn=3, citations=[PATENT])
    assert '<a class="pq-marker" href="#pq-cite-3-2"><strong>[2]</strong></a>' in rendered
    assert '<strong class="pq-marker">[9]</strong>' in rendered  # no such citation: no link
    assert '<a class="pq-cite" href="#pq-cite-3-2">[2] 专利法 · 法律 · 第十二条</a>' in rendered


def test_answer_and_card_escape_document_text() -> None:
    hostile = {**PATENT, "title": "<img src=x onerror=alert(1)>法", "section": "<script>x</script>"}
    rendered = answer_html("<b>bold</b>[2]", False, turn=0, citations=[hostile])
    card = citation_card_html(hostile, english=True, glosses=[("<i>q</i>", [("专利权人", "<b>patentee</b>")])])
    for html_text in (rendered, card):
        assert "<img" not in html_text and "<script>" not in html_text and "<b>" not in html_text
        assert "onerror=alert(1)" in html_text  # shown as text
    assert "&lt;b&gt;patentee&lt;/b&gt;" in card


def test_card_leads_with_document_kind_section_and_page_and_glosses_for_english() -> None:
    pdf = {**PATENT, "doc_id": "测试 办法", "page": 2, "page_end": 2}
    card = citation_card_html(
        pdf, english=True, glosses=[(PATENT["quotes"][0], [("专利权人", "patentee")])], with_page=True, with_file=True
    )
    head = card.index('class="pq-card-head"')
    assert head < card.index("专利法") < card.index("法律 Law") < card.index("第十二条") < card.index("p. 2")
    assert "专利权人</span> — patentee" in card
    assert 'src="ui/page/%E6%B5%8B%E8%AF%95%20%E5%8A%9E%E6%B3%95/2.png?q=' in card
    assert 'href="ui/file/%E6%B5%8B%E8%AF%95%20%E5%8A%9E%E6%B3%95"' in card
    assert "<img" not in citation_card_html(PATENT, with_page=True)  # no pages: no image


def test_page_image_url_carries_the_quotes() -> None:
    assert page_image_url(PATENT) is None
    url = page_image_url({**PATENT, "page": 1, "quotes": ["甲 乙", "丙&丁"]})
    assert url == "ui/page/patent-law/1.png?q=%E7%94%B2+%E4%B9%99&q=%E4%B8%99%26%E4%B8%81"


def test_copy_text_names_title_kind_section_and_pages() -> None:
    text = copy_text({"answer": "应当订立合同。[2]", "citations": [{**PATENT, "page": 4, "page_end": 5}]})
    assert text.splitlines() == [
        "应当订立合同。[2]",
        "",
        "来源 Sources:",
        "[2] 中华人民共和国专利法（2020年修正） — 法律 Law, 第二章 专利权的授予 > 第十二条, pp. 4–5",
    ]


def test_a_partial_answer_shows_its_label_and_what_the_texts_do_not_state_apart() -> None:
    text = "《专利法》未提及克隆、<宠物>；其中相关的内容如下：\n应当订立合同。[2]"
    rendered = answer_html(text, False, turn=1, citations=[PATENT], partial=True)
    label, _, rest = rendered.partition("</p>")
    assert 'class="pq-partial"' in label and "Partly covered" in label and "未提及克隆、&lt;宠物&gt;" in label
    assert "应当订立合同" in rest and "未提及" not in rest
    assert "Partly covered" not in answer_html(text, False, turn=1, citations=[PATENT])
