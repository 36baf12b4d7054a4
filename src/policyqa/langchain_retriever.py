"""A LangChain retriever over policyqa's hybrid search.

Example:
    >>> retriever = PolicyQARetriever(assistant=Assistant(), k=5)
    >>> docs = retriever.invoke("What policy fits a technology in the trough of disillusionment?")
    >>> docs[0].metadata["section"]
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from .assistant import Assistant
from .settings import check_top_k


class PolicyQARetriever(BaseRetriever):
    """Passages as LangChain ``Document``s, with the citation fields in ``metadata``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    assistant: Assistant
    k: int = Field(default=5)
    doc_ids: list[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.assistant.search(query, k=check_top_k(self.k), doc_ids=self.doc_ids)
        documents = []
        for passage in result.passages:
            metadata = passage.to_dict()
            text = metadata.pop("text")
            documents.append(Document(page_content=str(text), metadata=metadata, id=passage.chunk_id))
        return documents
