"""Metadata a document states about itself: kind, region, year, issuing body, document number, status.

Chinese legal and policy texts say what they are in their title and first lines:
"北京市…条例" with "…人民代表大会常务委员会…通过" is a local regulation of Beijing,
"最高人民法院关于…的解释" a judicial interpretation, "国发〔2017〕15号" a State
Council document number. Folder names of a law collection (行政法规/, 司法解释/ …)
say the same more reliably, so they are read first. A ``NAME.meta.json`` sidecar
overrides anything inferred here (``documents.load_document``).
"""

from __future__ import annotations

import re
from pathlib import PurePath

from .formats._meta import DOC_NUMBER, normalise_doc_number
from .places import leading_place
from .types import KIND_LAW, KIND_PAPER, KIND_TEXT

KIND_ADMINISTRATIVE_REGULATION = "administrative_regulation"
KIND_DEPARTMENT_RULE = "department_rule"
KIND_LOCAL_REGULATION = "local_regulation"
KIND_JUDICIAL_INTERPRETATION = "judicial_interpretation"
KIND_CASE = "case"
KIND_POLICY = "policy"
# Kinds that a question about "the law" / 法律 / 条例 may mean.
LEGAL_KINDS = frozenset(
    {
        KIND_LAW,
        KIND_ADMINISTRATIVE_REGULATION,
        KIND_DEPARTMENT_RULE,
        KIND_LOCAL_REGULATION,
        KIND_JUDICIAL_INTERPRETATION,
    }
)
# What a citation label shows before the section (Chinese, English).
KIND_LABELS = {
    KIND_PAPER: ("论文", "Paper"),
    KIND_LAW: ("法律", "Law"),
    KIND_ADMINISTRATIVE_REGULATION: ("行政法规", "Administrative regulation"),
    KIND_DEPARTMENT_RULE: ("部门规章", "Department rule"),
    KIND_LOCAL_REGULATION: ("地方性法规", "Local regulation"),
    KIND_JUDICIAL_INTERPRETATION: ("司法解释", "Judicial interpretation"),
    KIND_CASE: ("案例", "Case"),
    KIND_POLICY: ("政策文件", "Policy document"),
    KIND_TEXT: ("文本", "Text"),
}

# Folder names of law collections (the layout of the national database's exports).
_FOLDER_KINDS = {
    "行政法规": KIND_ADMINISTRATIVE_REGULATION,
    "部门规章": KIND_DEPARTMENT_RULE,
    "司法解释": KIND_JUDICIAL_INTERPRETATION,
    "地方性法规": KIND_LOCAL_REGULATION,
    "案例": KIND_CASE,
    "宪法": KIND_LAW,
    "宪法相关法": KIND_LAW,
    "民法典": KIND_LAW,
    "民法商法": KIND_LAW,
    "行政法": KIND_LAW,
    "经济法": KIND_LAW,
    "社会法": KIND_LAW,
    "刑法": KIND_LAW,
    "诉讼与非诉讼程序法": KIND_LAW,
}
_LOCAL_FOLDER = re.compile(r"地方法规$|地方性法规$")
# Lines before the body that carry dates and the issuing body ("2019年11月27日 北京市…通过").
_HEAD_CHARS = 600
_DATE = re.compile(r"(19[4-9]\d|20\d\d)\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_PATH_DATE = re.compile(r"\((19[4-9]\d|20\d\d)-(\d{2})-(\d{2})\)")
# An issuing body at the start of a head line, after its date: "2019年11月27日 北京市第十五届人民代表大会
# 常务委员会第十六次会议通过", "中华人民共和国国务院令第517号公布".
_ISSUER = re.compile(
    r"^(?:[\d\s年月日]+)?([\u4e00-\u9fff]{2,24}?(?:人民代表大会常务委员会|人民代表大会|人民政府办公厅|人民政府"
    r"|国务院办公厅|国务院|最高人民法院|最高人民检察院|委员会|部|局|署|总局|办公室))"
    r"(?:审判委员会|检察委员会)?(?:第[\u4e00-\u9fff\d]+次|令|公告|印发|发布|公布|通过)"
)
_LOCAL_PREFIX = re.compile(r"^([\u4e00-\u9fff]{2,6}?)(?:省|市|自治区|自治州|特别行政区|经济特区)")
# A department rule is promulgated by an order: "中华人民共和国商务部令2020年第1号", "国家知识产权局令第七十五号".
_RULE_ORDER = re.compile(
    r"(?:部|委员会|局|署|总局|银行)令\s*(?:(?:19|20)\d\d年)?\s*第\s*[〇零一二三四五六七八九十百千\d]+\s*号"
)
_SESSION = re.compile(r"第[一二三四五六七八九十百\d]+届")
_REPEALED = re.compile(r"已废止|已失效|失效日期|废止日期")
_IN_FORCE = re.compile(r"现行有效")
_NATIONAL_LAW_TITLE = re.compile(
    r"^(?:中华人民共和国)?[\u4e00-\u9fff]{1,30}法(?:典)?(?:（\d{4}年修正）)?$|^中华人民共和国宪法"
)


def infer_metadata(title: str, text: str, path: str) -> dict[str, object]:
    """What the document states about itself; only the fields it states."""
    head = text[:_HEAD_CHARS]
    found: dict[str, object] = {}
    kind = _kind(title, head, path)
    if kind:
        found["kind"] = kind
    if kind not in (KIND_LAW, KIND_JUDICIAL_INTERPRETATION) and (region := _region(title)):
        found["region"] = region
    dates = [(int(y), int(m), int(d)) for y, m, d in _DATE.findall(head)]
    dates += [(int(y), int(m), int(d)) for y, m, d in _PATH_DATE.findall(PurePath(path).name)]
    if dates:
        # The latest date of the head is the version in force (enacted, then amended …).
        year, month, day = max(dates)
        found["year"] = year
        found["date"] = f"{year:04d}-{month:02d}-{day:02d}"
    if match := DOC_NUMBER.search(head):
        found["doc_number"] = normalise_doc_number(match.group(0))
    for line in head.splitlines()[:12]:
        if match := _ISSUER.match(line.strip()):
            found["issuer"] = _SESSION.sub("", match.group(1))
            break
    if kind == KIND_LOCAL_REGULATION and "region" not in found and (region := _region(str(found.get("issuer", "")))):
        # 绍兴黄酒保护和发展条例 names no place in its title; its issuer, 绍兴市人民代表大会常务委员会, does.
        found["region"] = region
    if _REPEALED.search(head):
        found["status"] = "repealed"
    elif _IN_FORCE.search(head):
        found["status"] = "in_force"
    return found


def _region(title: str) -> str | None:
    """The province or city a local document's title opens with (浙江省… → 浙江; 青岛市… → 青岛)."""
    if place := leading_place(title):
        return place
    match = _LOCAL_PREFIX.match(title)
    return match.group(1) if match else None


def _kind(title: str, head: str, path: str) -> str | None:
    for part in reversed(PurePath(path).parts[:-1]):
        if part in _FOLDER_KINDS:
            return _FOLDER_KINDS[part]
        if _LOCAL_FOLDER.search(part):
            return KIND_LOCAL_REGULATION
    if title.startswith(("最高人民法院", "最高人民检察院")):
        return KIND_JUDICIAL_INTERPRETATION
    if _region(title) and "人民代表大会" in head:
        return KIND_LOCAL_REGULATION
    if "国务院令" in head:
        return KIND_ADMINISTRATIVE_REGULATION
    if _RULE_ORDER.search(head):
        return KIND_DEPARTMENT_RULE
    if _NATIONAL_LAW_TITLE.match(title) and "全国人民代表大会" in head:
        return KIND_LAW
    if DOC_NUMBER.search(head):
        return KIND_POLICY
    return None


def version_year(metadata: dict[str, object]) -> int | None:
    """The year of a document's version (its metadata's ``year``), if known."""
    year = metadata.get("year")
    return year if isinstance(year, int) else None


def kind_label(kind: str, chinese: bool = True) -> str:
    """The label a citation shows for a kind (法律 / Law …); unknown kinds as they are."""
    labels = KIND_LABELS.get(kind)
    return (labels[0] if chinese else labels[1]) if labels else kind
