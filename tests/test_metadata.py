"""Metadata a document states about itself, and the search filters that use it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MINI_LAW

from policyqa import Assistant
from policyqa.documents import load_document
from policyqa.errors import QuestionError
from policyqa.filters import make_filter
from policyqa.metadata import infer_metadata, kind_label

LOCAL_HEAD = "2019年11月27日 北京市第十五届人民代表大会常务委员会第十六次会议通过\n\n<!-- INFO END -->\n\n第一条 …"
LAW_HEAD = (
    "1984年3月12日 第六届全国人民代表大会常务委员会第四次会议通过\n"
    "根据2020年10月17日第十三届全国人民代表大会常务委员会第二十二次会议《关于修改〈中华人民共和国专利法〉的决定》第四次修正"
)


def test_local_regulation_states_its_kind_region_year_and_issuer() -> None:
    found = infer_metadata("北京市促进科技成果转化条例", LOCAL_HEAD, "policy/beijing.md")
    assert found == {
        "kind": "local_regulation",
        "region": "北京",
        "year": 2019,
        "date": "2019-11-27",
        "issuer": "北京市人民代表大会常务委员会",
    }


def test_national_law_has_no_region_and_its_latest_amendment_is_its_year() -> None:
    found = infer_metadata("中华人民共和国专利法", LAW_HEAD, "laws/patent.md")
    assert found["kind"] == "law" and "region" not in found
    assert found["year"] == 2020 and found["issuer"] == "全国人民代表大会常务委员会"


@pytest.mark.parametrize(
    ("folder", "title", "kind"),
    [
        ("行政法规", "护士条例", "administrative_regulation"),
        ("司法解释", "关于审理案件的规定", "judicial_interpretation"),
        ("部门规章", "专利代理管理办法", "department_rule"),
        ("DLC/上海地方法规", "上海市绿化条例", "local_regulation"),
        ("案例", "某案", "case"),
    ],
)
def test_a_collections_folder_names_the_kind(folder: str, title: str, kind: str) -> None:
    assert infer_metadata(title, "正文", f"library/{folder}/{title}(2020-03-27).md")["kind"] == kind


def test_document_number_date_from_the_file_name_and_status() -> None:
    found = infer_metadata("关于印发方案的通知", "国发〔2017〕15号\n（已废止）\n各省", "docs/plan(2017-04-01).md")
    assert found["doc_number"] == "国发〔2017〕15号"
    assert found["year"] == 2017 and found["status"] == "repealed" and found["kind"] == "policy"


def test_a_plain_text_states_nothing() -> None:
    assert infer_metadata("Notes", "Some notes without dates.", "notes.txt") == {}


def test_sidecar_wins_over_what_the_text_states(tmp_path: Path) -> None:
    inferred = load_document(MINI_LAW)
    assert inferred.kind == "local_regulation" and inferred.metadata["region"] == "示范"
    copy = tmp_path / MINI_LAW.name
    copy.write_bytes(MINI_LAW.read_bytes())
    copy.with_name(copy.stem + ".meta.json").write_text('{"kind": "policy", "region": "Elsewhere"}', encoding="utf-8")
    declared = load_document(copy)
    assert declared.kind == "policy" and declared.metadata["region"] == "Elsewhere"
    assert declared.metadata["year"] == 2023  # what the sidecar leaves out still comes from the text


def test_kind_labels() -> None:
    assert kind_label("local_regulation") == "地方性法规" and kind_label("local_regulation", chinese=False) == (
        "Local regulation"
    )


def test_filters_parse_what_people_type() -> None:
    where = make_filter(kinds=["law"], regions=["Zhejiang", "青岛市"], years="2015-2021")
    assert where.regions == ("浙江", "青岛") and (where.year_from, where.year_to) == (2015, 2021)
    assert make_filter(years="2019").year_from == 2019 == make_filter(years="2019").year_to
    assert make_filter(years="2015-").year_to is None
    for bad in ("20x9", "2021-2015", "2015 2016"):
        with pytest.raises(QuestionError):
            make_filter(years=bad)
    with pytest.raises(QuestionError, match="Unknown document kind 'statute'"):
        make_filter(kinds=["statute"])


def test_search_keeps_to_the_filtered_documents(mini_assistant: Assistant) -> None:
    question = "科技成果转化的奖励比例是多少？"
    everything = mini_assistant.search(question, k=5).passages
    assert {p.doc_id for p in everything} == {"model-transfer-regulation", "tech-maturity-policy"}
    papers = mini_assistant.search(question, k=5, where=make_filter(kinds=["paper"])).passages
    assert papers and {p.doc_id for p in papers} == {"tech-maturity-policy"}
    assert mini_assistant.search(question, k=5, where=make_filter(years="1900-1901")).passages == ()
