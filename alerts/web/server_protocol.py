"""The HTTP protocol `alerts serve` speaks: uvicorn's httptools protocol with a bound on the
head of a request (its request line and headers).

httptools buffers a head until it ends, however long: a client sending endless headers holds
as much of the server's memory as it likes, before any route (or signature check) runs.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Far more than any browser or Twilio sends (nginx's default allows 32 kB).
MAX_HEAD_BYTES = 64 * 1024
_TOO_LARGE = b"request head too large\n"


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol answering 431 and closing once a head exceeds MAX_HEAD_BYTES."""

    _in_head = True  # from the connection's start, and again after each request
    _head_bytes = 0
    _completed = False  # a request ended in the data being parsed

    def data_received(self, data: bytes) -> None:
        """Parse as uvicorn does, then count what is still head: while a head is incomplete,
        every byte parsed since its request began belongs to it. (Data that also ended the
        request before is not counted: it is mostly that request's body.)"""
        self._completed = False
        super().data_received(data)
        if self._completed or not self._in_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(_TOO_LARGE)).encode("ascii") + b"\r\n"
                b"connection: close\r\n\r\n" + _TOO_LARGE
            )
            self.transport.close()

    def on_message_begin(self) -> None:
        """A request begins: its head is counted from here."""
        self._in_head, self._head_bytes = True, 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        """The head is complete: what follows is the body."""
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is complete: what follows is the next one's head."""
        super().on_message_complete()
        self._in_head, self._head_bytes, self._completed = True, 0, True
