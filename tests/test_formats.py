"""Format converters on real government files, on broken files, and a PDF round-trip of the paper."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from policyqa.errors import CorpusError
from policyqa.formats import SUPPORTED_SUFFIXES, ExtractedText, extract, fix_radicals
from policyqa.formats.docx import format_number

REAL_DOCS = Path(__file__).parents[2] / "shared" / "real-docs"
PAPER = Path(__file__).parents[1] / "corpus" / "bai2026-sci-tech-industry-integration.txt"


def _real(name: str) -> Path:
    if not REAL_DOCS.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{REAL_DOCS} is missing: CI must have the shared real documents")
        pytest.skip(f"{REAL_DOCS} is missing (the shared real documents are not on this machine)")
    matches = sorted(REAL_DOCS.glob(name + "*"))
    assert matches, f"no {name}* in {REAL_DOCS}"
    return matches[0]


_CACHE: dict[str, ExtractedText] = {}


def _extract(name: str) -> ExtractedText:
    if name not in _CACHE:
        _CACHE[name] = extract(_real(name))
    return _CACHE[name]


def _page(record: ExtractedText, number: int) -> str:
    start, end = record.pages[number - 1]
    return record.text[start:end]


def _bare_numbers(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.fullmatch(r"\s*[-–—]?\s*\d{1,4}\s*[-–—]?\s*", line)]


# --- real PDFs --------------------------------------------------------------------------------


def test_mine_safety_pdf_articles_on_their_pages_without_page_numbers() -> None:
    record = _extract("pdf01_")
    assert len(record.pages) == 44
    assert "第一条 为了规范煤矿安全监管监察执法工作，提高执法文书制作质量和水平" in _page(record, 2)
    assert "第三十三条 询问通知书。适用于煤矿安全监管部门对煤矿企业进行检查" in _page(record, 21)
    assert record.page_of(record.text.index("第五条 煤矿安全监管监察执法应当正确选择")) == 3
    # Page-number lines ("1" … "43") are gone, and no page starts with its number.
    assert _bare_numbers(record.text) == []
    assert not _page(record, 2).startswith("1")
    assert record.metadata["title"] == "煤矿安全监管监察执法文书制作规范"
    # Lines broken by the layout are joined without spaces between CJK characters.
    assert "根据《中华人民共和国安全生产法》《中华人民共和国行政处罚法》" in record.text


def test_pages_are_contiguous_and_cover_the_text() -> None:
    record = _extract("pdf01_")
    assert record.pages[0][0] == 0 and record.pages[-1][1] == len(record.text)
    for (_, end), (start, _) in zip(record.pages, record.pages[1:], strict=False):
        assert end == start


def test_civil_code_pdf_keeps_hierarchy_and_drops_page_numbers() -> None:
    record = _extract("pdf03_")
    assert len(record.pages) == 234
    assert record.metadata["title"] == "中华人民共和国民法典"  # from a GBK-encoded /Title
    assert record.metadata["date"] == "2020-05-28"
    assert "第七十六条 以取得利润并分配给股东等出资人为目的成立的法人，为营利法人。" in _page(record, 21)
    assert "第一千二百六十条 本法自2021年1月1日起施行。" in _page(record, 234)
    assert _bare_numbers(record.text) == []
    # A paragraph cut by a page break is one paragraph: page 21 ends mid-sentence.
    assert "执行机构为董事会或者执行董事的，董事长、执行董事或者经理按照法人章程" in record.text


def test_beijing_report_pdf_paragraphs() -> None:
    record = _extract("pdf04_")
    lines = record.text.splitlines()
    assert lines[0] == "各位代表："
    assert "一、2023年工作回顾" in lines  # WPS's CJK-digit autospace is layout, not text
    assert record.headings[0] == "一、2023年工作回顾"
    assert "现在，我代表北京市人民政府，向大会报告政府工作，请予审议，并请市政协委员提出意见。" in lines
    assert "title" not in record.metadata  # the copy has no title page: nothing is invented


# --- real DOCX --------------------------------------------------------------------------------


def test_legal_database_docx_has_no_footer_and_states_its_number() -> None:
    record = _extract("docx02_")
    assert record.pages == ()
    assert not re.search(r"第\s*\d+\s*页", record.text)
    assert "CHINESELAW" not in record.text.upper()
    meta = record.metadata
    assert meta["doc_number"] == "国发〔2017〕15号"
    assert meta["issuer"] == "国务院"
    assert meta["date"] == "2017-03-15"
    assert meta["status"] == "现行有效"
    assert meta["title"] == "国务院关于印发中国(辽宁)自由贸易试验区总体方案的通知"
    lines = record.text.splitlines()
    # The merged title/addressee/signature paragraph is split at its line breaks.
    assert "各省、自治区、直辖市人民政府，国务院各部委、各直属机构：" in lines
    assert "（一）指导思想。" in lines


def test_docx_renders_auto_numbered_chapters() -> None:
    record = _extract("docx03_")
    lines = record.text.splitlines()
    assert lines[0] == "第一章 总则"  # "第一章" lives only in numbering.xml
    # Word counts only the numbered paragraphs, so the second auto-numbered chapter shows as
    # 第二章 (the source's own slip: its literal "第二章 支持企业并购" comes before it).
    assert "第二章 支持引进海外先进适用技术" in lines
    assert "第四章 支持首台(套）重大技术装备的研制与应用" in lines
    assert lines.index("第一章 总则") < lines.index("第二章 支持企业并购")
    assert record.headings[:3] == ("第一章 总则", "第二章 支持企业并购", "第二章 支持引进海外先进适用技术")


@pytest.mark.parametrize(
    ("number", "fmt", "expected"),
    [
        (1, "chineseCounting", "一"),
        (10, "chineseCounting", "十"),
        (21, "chineseCountingThousand", "二十一"),
        (101, "chineseCountingThousand", "一百零一"),
        (110, "japaneseCounting", "一百一十"),
        (3, "ideographTraditional", "丙"),
        (12, "decimal", "12"),
    ],
)
def test_word_number_formats(number: int, fmt: str, expected: str) -> None:
    assert format_number(number, fmt) == expected


# --- real HTML --------------------------------------------------------------------------------


def test_regulation_html_main_text_only() -> None:
    record = _extract("html01_")
    lines = record.text.splitlines()
    assert lines[0] == "中华人民共和国市场主体登记管理条例"
    assert record.metadata["title"] == "中华人民共和国市场主体登记管理条例"
    assert record.metadata["date"] == "2021-07-27"
    assert "国务院令第746号" in record.metadata["doc_number"]
    articles = {m.group(0) for m in re.finditer(r"^第[一二三四五六七八九十]+条", record.text, re.M)}
    assert len(articles) == 55
    for noise in ("当前位置", "网站地图", "ICP备", "window.", "版权所有", "扫一扫"):
        assert noise not in record.text


def test_portal_html_metadata_panel_and_no_menus() -> None:
    record = _extract("html03_")
    meta = record.metadata
    assert meta["doc_number"] == "穗建规字〔2024〕5号"
    assert meta["issuer"] == "广州市住房和城乡建设局"
    assert meta["date"] == "2024-03-04"
    assert meta["expiry_date"] == "2029-03-03"
    assert "一、公共租赁住房保障家庭收入和财产准入限额" in record.text.splitlines()
    for noise in ("市委组织部", "版权所有", "当前位置", "扫一扫", "网站地图", "file_status"):
        assert noise not in record.text


# --- dispatch and bad files ---------------------------------------------------------------------


def _pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A minimal PDF from numbered object bodies (1 0 obj is the catalog)."""
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer_extra + b">>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return out


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    # A handcrafted /Encrypt dictionary whose /U entry the empty password cannot open.
    path = tmp_path / "locked.pdf"
    path.write_bytes(
        _pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
                b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>",
            ],
            trailer_extra=b"/Encrypt 4 0 R /ID [<" + b"0f" * 16 + b"> <" + b"0f" * 16 + b">] ",
        )
    )
    with pytest.raises(CorpusError, match="encrypted PDF: a password is required"):
        extract(path)


def test_image_only_pdf_has_no_text_layer(tmp_path: Path) -> None:
    image = b"\xff\x00\x00\x00\xff\x00\x00\x00\xff\xff\xff\xff"
    content = b"q 100 0 0 100 50 50 cm /Im1 Do Q"
    path = tmp_path / "scan.pdf"
    path.write_bytes(
        _pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R"
                b" /Resources << /XObject << /Im1 5 0 R >> >> >>",
                b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
                b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceRGB"
                b" /BitsPerComponent 8 /Length %d >>\nstream\n" % len(image) + image + b"\nendstream",
            ]
        )
    )
    with pytest.raises(CorpusError, match="no text layer: OCR is not supported"):
        extract(path)


def test_truncated_and_corrupt_pdfs_are_refused(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(_real("pdf01_").read_bytes()[:200_000])
    with pytest.raises(CorpusError, match="truncated PDF"):
        extract(truncated)
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n" + os.urandom(4096) + b"\n%%EOF\n")
    with pytest.raises(CorpusError, match="not a readable PDF"):
        extract(corrupt)


def test_truncated_and_corrupt_docx_are_refused(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.docx"
    truncated.write_bytes(_real("docx02_").read_bytes()[:15_000])
    with pytest.raises(CorpusError, match="corrupt or truncated zip"):
        extract(truncated)
    broken = tmp_path / "broken.docx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>")
    with pytest.raises(CorpusError, match="not a readable DOCX"):
        extract(broken)


def test_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(120):
                member.write(block)
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(CorpusError, match="zip bomb"):
        extract(bomb)


def test_html_scripts_and_frames_are_not_text(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<!doctype html><html><head><title>测试通知</title>"
        "<script>document.write('恶意脚本文本')</script><style>p{color:red}</style></head><body>"
        "<nav><a href='/'>首页</a><a href='/a'>机构</a></nav>"
        "<iframe src='http://example.invalid/x'>框架文本</iframe>"
        "<div><p>第一条 为了规范管理，制定本办法。本办法适用于全市范围内的各类主体。</p>"
        "<p>第二条 本办法自发布之日起施行，有效期五年。相关单位应当认真贯彻执行。</p></div>"
        "<noscript>请启用脚本</noscript></body></html>",
        encoding="utf-8",
    )
    record = extract(page)
    assert "第一条 为了规范管理，制定本办法。" in record.text
    assert "第二条 本办法自发布之日起施行" in record.text
    for hidden in ("恶意脚本文本", "框架文本", "color:red", "请启用脚本", "document.write"):
        assert hidden not in record.text


def test_truncated_html_keeps_what_it_has_and_garbage_is_refused(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.html"
    truncated.write_bytes(_real("html01_").read_bytes()[:25_000])
    record = extract(truncated)
    assert "第一条 为了规范市场主体登记管理行为" in record.text
    garbage = tmp_path / "garbage.html"
    garbage.write_bytes(os.urandom(2048).replace(b"<", b"x"))
    with pytest.raises(CorpusError, match="content does not match its extension"):
        extract(garbage)


def test_pdf_suffix_on_html_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "notice.pdf"
    fake.write_bytes(b"<!DOCTYPE html><html><body><p>not a pdf</p></body></html>")
    with pytest.raises(CorpusError, match="content does not match its extension.*HTML"):
        extract(fake)


def test_unsupported_suffix_and_empty_file(tmp_path: Path) -> None:
    assert SUPPORTED_SUFFIXES == {".pdf", ".docx", ".html", ".htm"}
    odd = tmp_path / "a.doc"
    odd.write_bytes(b"x")
    with pytest.raises(CorpusError, match="unsupported suffix"):
        extract(odd)
    empty = tmp_path / "a.pdf"
    empty.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty file"):
        extract(empty)


def test_radicals_map_to_ideographs_one_to_one() -> None:
    source = "⼈⺠⻔⻅⻓⻬⻛⻜⻢⻥⻆⻋⻉⻚⻄⻩⻘⻝⻨⼀"
    fixed = fix_radicals(source)
    assert fixed == "人民门见长齐风飞马鱼角车贝页西黄青食麦一"
    assert len(fixed) == len(source)


# --- fidelity: the paper printed to a two-column PDF by Chromium ---------------------------------

_HEADER = "财经问题研究 2026年第5期 产业经济栏目"
_FOOTER = "Research on Financial and Economic Issues"


def _paper_paragraphs() -> list[str]:
    paragraphs = []
    for block in PAPER.read_text(encoding="utf-8").split("\n"):
        block = block.replace("**", "").strip()
        if block:
            paragraphs.append(block)
    return paragraphs


def _paper_pdf(tmp_path: Path) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (make setup-browser)")
    paragraphs = _paper_paragraphs()
    title, rest = paragraphs[1], paragraphs[2:]
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in rest)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4; margin: 22mm 16mm 22mm 16mm;
  @top-center {{ content: "{_HEADER}"; font-size: 9pt; }}
  @bottom-left {{ content: "{_FOOTER}"; font-size: 9pt; }}
  @bottom-right {{ content: "- " counter(page) " -"; font-size: 9pt; }} }}
body {{ font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 10pt; line-height: 1.5; }}
h1 {{ font-size: 16pt; text-align: center; }}
.cols {{ column-count: 2; column-gap: 8mm; text-align: justify; }}
p {{ margin: 0 0 3pt 0; text-indent: 2em; }}
</style></head><body><h1>{html.escape(title)}</h1><div class="cols">{body}</div></body></html>"""
    source = tmp_path / "paper.html"
    source.write_text(page, encoding="utf-8")
    target = tmp_path / "paper.pdf"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", f"--print-to-pdf={target}"]
        + [source.as_uri()],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return target


def _sentences(paragraphs: list[str]) -> list[str]:
    out = []
    for paragraph in paragraphs:
        for sentence in re.split(r"(?<=[。！？])", paragraph):
            sentence = re.sub(r"\s+", "", sentence)
            if len(sentence) >= 12:
                out.append(sentence)
    return out


@pytest.mark.slow
@pytest.mark.browser
def test_two_column_paper_pdf_round_trip(tmp_path: Path) -> None:
    record = extract(_paper_pdf(tmp_path))
    squashed = re.sub(r"\s+", "", record.text)
    sentences = _sentences(_paper_paragraphs()[2:])
    missing = [s for s in sentences if s not in squashed]
    found = len(sentences) - len(missing)
    share = found / len(sentences)
    print(f"paper round trip: {found}/{len(sentences)} body sentences verbatim ({share:.1%}); missing: {missing}")
    assert len(record.pages) >= 4
    assert share >= 0.98
    assert _HEADER.replace(" ", "") not in squashed
    assert _FOOTER.replace(" ", "") not in squashed
    assert _bare_numbers(record.text) == []
    assert not re.search(r"-\s*\d+\s*-\s*$", record.text, re.M)  # "- 3 -" at a line end
