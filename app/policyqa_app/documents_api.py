"""The document routes: upload and remove (admin), one document's metadata and original file (reader).

Roles. Reader keys (``POLICYQA_API_KEYS``) read; admin keys (``POLICYQA_ADMIN_KEYS``) read
and also add and remove documents. An admin route needs the admin key in the request's
``Authorization: Bearer`` or ``X-API-Key`` header (a browser session or a proxy's user
name is a reader here; the UI's Documents tab adds and removes for a session signed in
with an admin key, through ``Service.add_documents`` and ``remove_document`` as this route
does). With no key and no identity header configured, the admin routes are
served to loopback clients naming a loopback host only, like the feedback export.

Uploads. ``POST /api/v1/documents`` takes ``multipart/form-data``; each file part is
streamed into a private temporary folder (at most ``max_upload_bytes`` per file, else
413), ``DocumentLibrary.add`` checks and adds them in a worker thread, and the folder is
deleted before the response goes out. Questions meanwhile are answered from the build
that is live; the new one is served once the add has published it.

Example:
    >>> router.include_router(documents_router(service))
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at runtime.

import hmac
import ipaddress
import mimetypes
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from policyqa import DocumentInfo
from policyqa.library import ERROR, DocumentLibrary, DocumentNotFoundError, NotManagedError

from .config import AppSettings, key_digest
from .errors import ApiError
from .security import LOOPBACK_HOST_NAMES, host_name, presented_key
from .service import Service, indexed_file_bytes

API_PREFIX = "/api/v1"
DOCUMENTS_PATH = f"{API_PREFIX}/documents"
# Files one upload may carry; the route's body limit is this many files of the largest size.
MAX_UPLOAD_FILES = 10
# Room for the multipart boundaries and part headers of that many files.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_FILE_NAME_CHARS = 120
MAX_DOC_ID_CHARS = 200
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_ASCII_NAME = re.compile(r"[^A-Za-z0-9._-]")
_CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".md": "text/markdown",
    ".txt": "text/plain",
}


def upload_body_limits(settings: AppSettings) -> dict[str, int]:
    """The body limit of the upload route, for ``BodyLimitMiddleware``: every file at its largest."""
    return {DOCUMENTS_PATH: MAX_UPLOAD_FILES * settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES}


# --- roles -----------------------------------------------------------------------------------


def is_loopback(request: Request) -> bool:
    """True when the TCP peer is on loopback and the ``Host`` names loopback too.

    The peer alone is not enough: a page on an attacker's domain that rebinds its DNS to
    127.0.0.1 reaches the server from loopback, but names its own domain in ``Host``.
    """
    peer = request.client.host if request.client else ""
    try:
        on_loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False
    return on_loopback and host_name(request.headers.get("host", "")) in LOOPBACK_HOST_NAMES


def is_admin(request: Request, settings: AppSettings) -> bool:
    """True when the request may add and remove documents (see the module docstring).

    Every admin digest is compared, in constant time.
    """
    if not settings.auth_required:
        return is_loopback(request)
    key = presented_key(request.headers)
    if key is None:
        return False
    digest = key_digest(key)
    found = False
    for candidate in sorted(settings.admin_key_digests):
        found |= hmac.compare_digest(candidate, digest)
    return found


# --- the multipart upload --------------------------------------------------------------------


def safe_file_name(name: str) -> str:
    """The client's file name, made safe to create in our folder: its last path part, no control
    characters, no leading dots, at most ``MAX_FILE_NAME_CHARS`` (the suffix kept); "upload" when nothing is left."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip()
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = f".{suffix[:16]}" if suffix else ""
    stem = stem[: MAX_FILE_NAME_CHARS - len(suffix)] or "upload"
    return stem + suffix


@dataclass
class _Upload:
    name: str
    path: Path
    size: int = 0
    handle: BinaryIO | None = None


@dataclass
class _UploadReader:
    """Streams the file parts of a multipart body into ``folder``, one sub-folder each.

    Each file keeps its (safe) name, which ``DocumentLibrary.add`` records as the source
    name and, for a text stating no title, as the title. A sub-folder per file keeps two
    files of the same name apart, and a ``.meta.json`` part from being read as a sidecar.
    """

    folder: Path
    max_bytes: int
    max_files: int = MAX_UPLOAD_FILES
    uploads: list[_Upload] = field(default_factory=list)
    refusal: ApiError | None = None
    _header_name: bytes = b""
    _header_value: bytes = b""
    _disposition: bytes = b""
    _current: _Upload | None = None
    _pending: list[tuple[_Upload, bytes]] = field(default_factory=list)

    def on_part_begin(self) -> None:
        self._disposition, self._current = b"", None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._disposition)
        if self.refusal or b"filename" not in options:
            return  # a plain field: not ours, and bounded by the body limit
        if len(self.uploads) >= self.max_files:
            self.refusal = ApiError(413, "payload_too_large", f"An upload carries at most {self.max_files} files.")
            return
        raw = options[b"filename"]
        name = safe_file_name(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))
        slot = self.folder / str(len(self.uploads))
        slot.mkdir(mode=0o700)
        upload = _Upload(name, slot / name)
        upload.handle = upload.path.open("xb")
        self.uploads.append(upload)
        self._current = upload

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current
        if upload is None or self.refusal:
            return
        upload.size += end - start
        if upload.size > self.max_bytes:
            self.refusal = ApiError(
                413,
                "payload_too_large",
                f"{upload.name}: a file may have at most {self.max_bytes:,} bytes (POLICYQA_MAX_UPLOAD_BYTES).",
            )
            return
        self._pending.append((upload, data[start:end]))

    def on_part_end(self) -> None:
        self._current = None

    def _flush(self) -> None:
        """Write what the last chunk brought (in a worker thread: file I/O stays off the event loop)."""
        pending, self._pending = self._pending, []
        for upload, data in pending:
            assert upload.handle is not None
            upload.handle.write(data)

    def close(self) -> None:
        for upload in self.uploads:
            if upload.handle is not None:
                upload.handle.close()

    async def read(self, request: Request, boundary: bytes) -> list[_Upload]:
        """Every file of the body, written and closed; ApiError for too large a file or a malformed body.

        After a refusal the rest of the body is read and dropped (the route's body limit
        bounds it): a client still sending would otherwise miss the answer.
        """
        from python_multipart.exceptions import FormParserError
        from python_multipart.multipart import MultipartParser

        callbacks: Any = {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }
        parser = MultipartParser(boundary, callbacks)
        try:
            stream = request.stream()
            async for chunk in stream:
                if self.refusal:
                    continue
                try:
                    parser.write(chunk)
                except FormParserError:
                    self.refusal = ApiError(400, "malformed_multipart", "The multipart body cannot be parsed.")
                if self._pending:
                    await run_in_threadpool(self._flush)
            if not self.refusal:
                try:
                    parser.finalize()
                except FormParserError:
                    self.refusal = ApiError(400, "malformed_multipart", "The multipart body ends too early.")
        finally:
            await run_in_threadpool(self.close)
        if self.refusal:
            raise self.refusal
        return self.uploads


def _boundary(request: Request) -> bytes:
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise ApiError(
            415, "unsupported_media_type", "Send the files as multipart/form-data, one file part per document."
        )
    return boundary if isinstance(boundary, bytes) else str(boundary).encode("latin-1")


# --- answers ----------------------------------------------------------------------------------


def _content_disposition(document: DocumentInfo, suffix: str) -> str:
    """``attachment`` with an ASCII name (the id) and the original name in RFC 5987 form."""
    source = document.metadata.get("source_name")
    original = safe_file_name(source if isinstance(source, str) and source else f"{document.doc_id}{suffix}")
    ascii_name = _ASCII_NAME.sub("_", document.doc_id)[:MAX_FILE_NAME_CHARS] + suffix
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(original, safe='')}"


def _metadata(document: DocumentInfo, library: DocumentLibrary | None) -> dict[str, object]:
    row = library.list([document])[0] if library is not None else None
    meta = document.metadata
    return {
        "doc_id": document.doc_id,
        "title": document.title,
        "kind": document.kind,
        "region": meta.get("region"),
        "year": meta.get("year"),
        "issuer": meta.get("issuer"),
        "doc_number": meta.get("doc_number"),
        "pages": len(document.pages) or None,
        "chunks": document.chunks,
        "chars": document.chars,
        "sha256": document.sha256,
        "sections": list(document.sections),
        "managed": bool(row and row.managed),
        "added": None if row is None else row.to_dict()["added"],
    }


def client_reason(reason: str | None, folder: str) -> str | None:
    """A file's error reason without our temporary folder in it."""
    if reason is None:
        return None
    return re.sub(re.escape(folder) + r"/\d+/", "", reason).replace(folder, "")


def documents_router(service: Service) -> APIRouter:
    """``POST /api/v1/documents``, ``DELETE``/``GET /api/v1/documents/{doc_id}`` and ``GET …/{doc_id}/file``."""

    def library() -> DocumentLibrary | None:
        return service.library()

    def managed_library() -> DocumentLibrary:
        found = library()
        if found is None:
            raise ApiError(409, "no_managed_folder", "The server has no managed folder (POLICYQA_MANAGED_DIR).")
        return found

    async def admin(request: Request) -> None:
        if is_admin(request, service.settings):
            return
        if not service.settings.auth_required:
            raise ApiError(
                403,
                "forbidden",
                "Without API keys, documents are added and removed on the server itself only "
                "(http://127.0.0.1 or localhost).",
            )
        raise ApiError(
            403,
            "forbidden",
            "Adding and removing documents needs an admin key (POLICYQA_ADMIN_KEYS) "
            "in Authorization: Bearer KEY or X-API-Key.",
        )

    async def fresh() -> None:
        await run_in_threadpool(service.refresh_index)

    async def indexed(doc_id: str) -> DocumentInfo:
        if len(doc_id) <= MAX_DOC_ID_CHARS:
            _, document = await run_in_threadpool(service.indexed_document, doc_id)
            if document is not None:
                return document
        raise ApiError(404, "not_found", "No indexed document has this id (see /api/v1/documents).")

    router = APIRouter(tags=["corpus"])

    @router.post(
        DOCUMENTS_PATH,
        dependencies=[Depends(admin)],
        summary="Add documents (admin): multipart/form-data, one file part each; 201 when one went in.",
        status_code=201,
    )
    async def add_documents(request: Request) -> JSONResponse:
        boundary = _boundary(request)
        managed_library()  # 409 before the body is read
        with tempfile.TemporaryDirectory(prefix="policyqa-upload-") as folder:
            reader = _UploadReader(Path(folder), service.settings.max_upload_bytes)
            try:
                uploads = await reader.read(request, boundary)
            except ClientDisconnect:
                # The body limit answered 413/408, or the client left: nobody reads this.
                return JSONResponse({}, status_code=400)
            if not uploads:
                raise ApiError(422, "invalid_request", "The upload holds no file part (a part with a filename).")
            # The service adds through the library and serves the new build before it returns.
            report = await run_in_threadpool(service.add_documents, [u.path for u in uploads])
        files = [
            replace(row, source=upload.name, reason=client_reason(row.reason, folder)).to_dict()
            for row, upload in zip(report.files, uploads, strict=True)
        ]
        body: dict[str, object] = {"files": files, "indexed": report.build is not None}
        if report.added:
            return JSONResponse(body, status_code=201)
        if all(row.status == ERROR for row in report.files):
            error = {"code": "no_document_added", "message": "No file could be added; each file says why."}
            return JSONResponse({"error": error, **body}, status_code=422)
        return JSONResponse(body, status_code=200)

    @router.delete(
        f"{DOCUMENTS_PATH}/{{doc_id}}",
        dependencies=[Depends(admin)],
        summary="Remove a document added through the API or `policyqa add` (admin).",
    )
    async def remove_document(doc_id: str) -> dict[str, str]:
        managed_library()
        if len(doc_id) > MAX_DOC_ID_CHARS:
            raise ApiError(404, "not_found", "No document has this id.")
        try:
            await run_in_threadpool(service.remove_document, doc_id)
        except DocumentNotFoundError as exc:
            raise ApiError(404, "not_found", "No document has this id.") from exc
        except NotManagedError as exc:  # its message names the server's path: not for the client
            raise ApiError(
                409,
                "not_managed",
                "This document is part of a corpus folder, not added through the API or `policyqa add`: "
                "it cannot be removed here.",
            ) from exc
        return {"removed": doc_id}

    @router.get(
        f"{DOCUMENTS_PATH}/{{doc_id}}",
        dependencies=[Depends(fresh)],
        summary="One indexed document: title, kind, region, year, issuer, number, pages, chunks, sections.",
    )
    async def document(doc_id: str) -> dict[str, object]:
        found = await indexed(doc_id)
        return await run_in_threadpool(_metadata, found, library())

    @router.get(
        f"{DOCUMENTS_PATH}/{{doc_id}}/file",
        dependencies=[Depends(fresh)],
        summary="The original file of an indexed document, as an attachment.",
        response_class=Response,
    )
    async def document_file(doc_id: str) -> Response:
        found = await indexed(doc_id)
        raw = await run_in_threadpool(indexed_file_bytes, found)
        if raw is None:
            raise ApiError(404, "not_found", "The document's file is gone or changed since it was indexed.")
        suffix = Path(found.path).suffix.lower()
        media_type = _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(found.path)[0] or "application/octet-stream"
        if media_type in ("text/plain", "text/markdown"):
            try:
                raw.decode("utf-8")
                media_type += "; charset=utf-8"
            except UnicodeDecodeError:
                pass
        headers = {
            # Set here, not by media_type: Starlette would call every text/* UTF-8.
            "Content-Type": media_type,
            "Content-Disposition": _content_disposition(found, suffix),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
        return Response(raw, headers=headers)

    return router


__all__ = ["DOCUMENTS_PATH", "documents_router", "is_admin", "is_loopback", "upload_body_limits"]
