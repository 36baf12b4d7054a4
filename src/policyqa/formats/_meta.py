"""Metadata that a document states in its own text: labelled fields, 文号, signature, dates."""

from __future__ import annotations

import re
from collections.abc import Sequence

_CN_NUMERALS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_CN_NUMERALS.update({"六": 6, "七": 7, "八": 8, "九": 9, "十": 10})

# Label (spaces removed) -> metadata key.
_LABELS = {
    "发布部门": "issuer",
    "发文机关": "issuer",
    "发布机关": "issuer",
    "发布机构": "issuer",
    "制定机关": "issuer",
    "颁布机关": "issuer",
    "发文字号": "doc_number",
    "文号": "doc_number",
    "发文号": "doc_number",
    "发布日期": "date",
    "成文日期": "date",
    "发文日期": "date",
    "公布日期": "date",
    "印发日期": "date",
    "实施日期": "effective_date",
    "施行日期": "effective_date",
    "生效日期": "effective_date",
    "失效日期": "expiry_date",
    "时效性": "status",
    "效力状态": "status",
    "时效状态": "status",
    "有效性": "status",
    "文件状态": "status",
    "地区": "region",
    "所属地区": "region",
    "发布地区": "region",
}
_LABELLED = re.compile(r"^([\u4e00-\u9fff][\u4e00-\u9fff \u3000]{0,8}?)\s*[:：]\s*(\S.{0,80})$")
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,12}[〔\[［【(（]\s*\d{4}\s*[〕\]］】)）]\s*第?\s*\d+\s*号")
_DECREE = re.compile(
    r"(?:中华人民共和国)?(?:国务院|[\u4e00-\u9fff]{2,8}(?:部|委员会|总局|局|署|院|人民政府|政府))令\s*第?\s*\d+\s*号"
)
_STATUS = re.compile(r"有效|失效|废止|修订|修改|修正|施行|生效")
_DATE = re.compile(r"(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*(?:月|-|/|\.)\s*(\d{1,2})\s*日?")
_CN_DATE = re.compile(
    r"([〇零○Ｏ一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日"
)
_ORGAN = re.compile(
    r"^[\u4e00-\u9fff（）()]{2,40}(?:人民政府|国务院|委员会|办公厅|办公室|厅|局|部|署|院|会|政府|中心)$"
)
_STATED_DATE = re.compile(r"[(（]\s*(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)[^)）]{0,60}?(?:公布|通过|发布|印发)")
_ISSUER_IN_TITLE = re.compile(r"^(.{2,40}?(?:人民政府|国务院|委员会|办公厅|办公室|厅|局|部|署))关于")


def _cn_small(text: str) -> int:
    """一 .. 三十一 as an int."""
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_CN_NUMERALS.get(tens, 1) if tens else 1) * 10 + (_CN_NUMERALS.get(units, 0) if units else 0)
    return _CN_NUMERALS.get(text, 0)


def iso_date(text: str) -> str | None:
    """The first date in ``text`` as ``YYYY-MM-DD``: 2017年3月15日, 2017-03-15, 二〇一七年三月十五日."""
    if match := _DATE.search(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _CN_DATE.search(text):
        year = int("".join(str(_CN_NUMERALS[ch]) for ch in match.group(1)))
        month, day = _cn_small(match.group(2)), _cn_small(match.group(3))
    else:
        return None
    if not (1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def normalise_doc_number(text: str) -> str:
    """国发[2017]15号 -> 国发〔2017〕15号 (the bracket 公文 use), spaces dropped."""
    text = re.sub(r"\s+", "", text)
    return re.sub(r"[\[［【(（](\d{4})[\]］】)）]", r"〔\1〕", text)


def labelled_fields(lines: Sequence[str]) -> dict[str, str]:
    """Values of labelled lines such as ``发文字号：国发〔2017〕15号`` or ``时效性 : 现行有效``."""
    found: dict[str, str] = {}
    for line in lines:
        match = _LABELLED.match(line.strip())
        if not match:
            continue
        key = _LABELS.get(re.sub(r"[\s\u3000]+", "", match.group(1)))
        value = match.group(2).strip()
        if key is None or not value or key in found:
            continue
        if key in ("date", "effective_date", "expiry_date"):
            iso = iso_date(value)
            if iso is None:
                continue
            value = iso
        elif key == "doc_number":
            value = normalise_doc_number(value)
        elif key == "status" and not _STATUS.search(value):
            continue
        found[key] = value
    return found


def stated_metadata(lines: Sequence[str], title: str | None = None) -> dict[str, str]:
    """Everything the text states about itself; keys absent when the text does not say.

    Order of trust: labelled fields (a database or portal panel), then the document's own
    signature (organ name above a date at the end), then its opening lines (文号 under the
    title, "（2021年7月27日…公布）"), then a "X关于…" title.
    """
    lines = [line.strip() for line in lines if line.strip()]
    meta = labelled_fields(lines[:60])
    if title:
        meta.setdefault("title", title)
    head = "\n".join(lines[:12])[:800]
    if "doc_number" not in meta:
        if match := DOC_NUMBER.search(head) or _DECREE.search(head):
            meta["doc_number"] = normalise_doc_number(match.group(0))
    tail = lines[-8:]
    for index in range(len(tail) - 1, 0, -1):
        line = tail[index]
        if len(line) <= 20 and (iso := iso_date(line)) and _DATE_ONLY.match(line):
            meta.setdefault("date", iso)
            organ = tail[index - 1]
            if len(organ) <= 40 and _ORGAN.match(organ):
                meta.setdefault("issuer", organ)
            break
    if "date" not in meta and (match := _STATED_DATE.search(head)):
        if iso := iso_date(match.group(1)):
            meta["date"] = iso
    if "issuer" not in meta and title and (match := _ISSUER_IN_TITLE.match(title)):
        meta["issuer"] = match.group(1)
    return meta


_DATE_ONLY = re.compile(
    r"^(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}-\d{1,2}-\d{1,2}"
    r"|[〇零○Ｏ一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日)$"
)
