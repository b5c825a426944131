"""uvicorn's httptools protocol with the gateway's JSON error envelope for malformed HTTP.

A request the HTTP parser cannot read (a bare LF in a header, a bad request line) never reaches
the application: uvicorn answers it itself, in ``text/plain``. This protocol class answers the
same 400 in the envelope every other error has (``app/api/errors.py``), so a client sees one
error format whatever the fault. ``__main__`` passes it to uvicorn as ``http=``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def malformed_http_body(message: str) -> bytes:
    return orjson.dumps(
        {
            "error": {"code": "bad_request", "message": message, "details": None},
            "correlation_id": uuid.uuid4().hex,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
    )


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = malformed_http_body(msg)
        content = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
