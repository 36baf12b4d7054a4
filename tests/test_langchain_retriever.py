"""The LangChain retriever returns the same passages as Assistant.search, as Documents."""

from __future__ import annotations

from langchain_core.documents import Document

from policyqa import Assistant, PolicyQARetriever


def test_retriever_returns_documents_with_citation_metadata(mini_assistant: Assistant) -> None:
    retriever = PolicyQARetriever(assistant=mini_assistant, k=3)
    question = "技术成熟度曲线的低谷期需要什么政策"
    docs = retriever.invoke(question)
    expected = mini_assistant.search(question, k=3).passages
    assert docs and all(isinstance(d, Document) for d in docs)
    assert [d.id for d in docs] == [p.chunk_id for p in expected]
    assert [d.page_content for d in docs] == [p.text for p in expected]
    first = docs[0].metadata
    assert {"doc_id", "title", "section", "char_start", "char_end", "score"} <= set(first)
