"""The webhooks under abuse, served by a real `alerts serve` (uvicorn) in a subprocess:
hundreds of large unsigned or forged requests (chunked forms of many large fields, multipart
uploads, oversized bodies) are refused from their headers, leave the server's memory flat and
no temporary files; shifted-signature and NUL-laden signed requests are refused or answered."""

from __future__ import annotations

import itertools
import os
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from alerts.web.server_protocol import MAX_HEAD_BYTES
from tests.support.processes import clean_env, free_port, run_cli, start_cli, stop, wait_until
from tests.support.webhooks import PUBLIC, TOKEN, inbound_fields, signed

MB = 1024 * 1024
GROWTH_BOUND = 20 * MB  # the server's peak memory may grow by less than this
POLITE_BYTES = 32 * MB  # a body sent whole unless the server answers first
BLAST_BYTES = 4 * MB  # a body sent without waiting for an answer
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "b0undary"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`alerts serve` on the demo town with a temporary-file folder of its own."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = clean_env(
        ALERTS_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        ALERTS_PUBLIC_URL=PUBLIC,
        TWILIO_AUTH_TOKEN=TOKEN,
        TMPDIR=str(temp),
    )
    from alerts.demo.run import DEMO_LAYER

    imported = run_cli(env, tmp_path, "zones", "import", str(DEMO_LAYER))
    assert imported.returncode == 0, imported.stderr
    port = free_port()
    process = start_cli(
        env, tmp_path, "serve", "--port", str(port), "--no-scheduler", "--workers", "0",
        log=tmp_path / "serve.log",
    )  # fmt: skip

    def healthy() -> bool:
        try:
            return httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    try:
        assert wait_until(healthy, 60), (tmp_path / "serve.log").read_text()
        yield process, port, temp
    finally:
        stop(process, timeout=20)


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in bytes: its resident memory now and at its peak."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- abusive requests, over raw sockets (a client must be able to stop sending) --------------


def chunked_form(total: int) -> Iterator[bytes]:
    """A chunked urlencoded body of many 64 kB fields, chunk by chunk, then its end."""
    for number in itertools.count():
        if number * 64 * 1024 >= total:
            break
        data = f"{'&' if number else ''}f{number}=".encode() + b"a" * (64 * 1024 - 16)
        yield f"{len(data):x}\r\n".encode() + data + b"\r\n"
    yield b"0\r\n\r\n"


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    """Pieces of a body in the chunked transfer coding, then its end."""
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def multipart_parts(total: int) -> tuple[int, Iterator[bytes]]:
    """A multipart body of 900 kB fields and one 2 MB file: its length, and its pieces."""
    field = b"a" * (900 * 1024)
    pieces = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="x.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + b"\x00" * (2 * MB)
        + b"\r\n"
    ]
    for number in range(max(1, (total - 2 * MB) // len(field))):
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f{number}"\r\n\r\n'
        pieces.append(head.encode() + field + b"\r\n")
    pieces.append(f"--{BOUNDARY}--\r\n".encode())
    return sum(len(piece) for piece in pieces), iter(pieces)


def head(headers: dict[str, str]) -> bytes:
    lines = [
        "POST /sms/inbound HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send(port: int, request_head: bytes, body: Iterator[bytes], polite: bool) -> tuple[int, int]:
    """Send a request's head, then its body piece by piece: a polite client stops as soon as
    the server answers, a blasting one sends everything it can. (status or 0, bytes sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request_head)
        sent = 0
        answered = polite and bool(select.select([sock], [], [], 1.0)[0])
        for piece in body:
            if answered:
                break
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed meanwhile
            sent += len(piece)
            answered = polite and bool(select.select([sock], [], [], 0)[0])
        try:
            sock.shutdown(socket.SHUT_WR)
            reply = sock.recv(64)
        except (ConnectionResetError, BrokenPipeError, OSError):
            return 0, sent
    parts = reply.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), sent


def abusive(port: int, kind: str, polite: bool) -> tuple[int, int]:
    """One abusive request of `kind`; (status, body bytes sent)."""
    size = POLITE_BYTES if polite else BLAST_BYTES
    forged = {"X-Twilio-Signature": "forged"}
    if kind in ("unsigned-chunked", "chunked"):
        headers = {"Content-Type": FORM, "Transfer-Encoding": "chunked"}
        headers |= forged if kind == "chunked" else {}
        return send(port, head(headers), chunked_form(size), polite)
    if "multipart" in kind:
        length, pieces = multipart_parts(size)
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        if "chunked" in kind:
            headers["Transfer-Encoding"] = "chunked"
            pieces = chunked(pieces)
        else:
            headers["Content-Length"] = str(length)
        headers |= {} if kind.startswith("unsigned") else forged
        return send(port, head(headers), pieces, polite)
    if kind == "long-head":  # endless headers: the head itself is what grows
        start = b"POST /sms/inbound HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Twilio-Signature: forged\r\n"
        if polite:  # one byte over the bound: the server reads it all, then answers
            pad = MAX_HEAD_BYTES + 1 - len(start) - len("X-Pad: \r\n")
            return send(port, start + b"X-Pad: " + b"a" * pad + b"\r\n", iter(()), polite)
        # A blast of headers as long as a polite body: buffered whole, it would show.
        lines = (f"X-Pad-{n}: ".encode() + b"a" * 16000 + b"\r\n" for n in range(2048))
        return send(port, start, lines, polite)
    assert kind == "oversized"
    pieces = (b"f=" + b"a" * (64 * 1024 - 3) + b"&" for _ in range(size // (64 * 1024)))
    headers = {"Content-Type": FORM, "Content-Length": str(size // (64 * 1024) * 64 * 1024)}
    return send(port, head(headers | forged), pieces, polite)


EXPECTED = {
    "unsigned-chunked": 403,
    "unsigned-chunked-multipart": 403,
    "unsigned-multipart": 403,
    "chunked": 411,
    "chunked-multipart": 415,
    "multipart": 415,
    "oversized": 413,
    "long-head": 431,
}


def test_abusive_requests_leave_the_servers_memory_flat(
    server: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    process, port, temp = server
    base = f"http://127.0.0.1:{port}"
    # Warm up every path a request can take (imports, first turn) with small requests.
    fields = inbound_fields("AIDE", sender="+14185550150")
    assert httpx2.post(f"{base}/sms/inbound", data=fields, headers=signed("/sms/inbound", fields),
                       timeout=30).status_code == 200  # fmt: skip
    for headers in ({}, {"X-Twilio-Signature": "forged"}):
        httpx2.post(f"{base}/sms/inbound", data={"Body": "x"}, headers=headers, timeout=30)
    time.sleep(0.5)
    rss_before, peak_before = memory(process.pid)
    files_before = open_files(process.pid)

    statuses: dict[str, set[int]] = {kind: set() for kind in EXPECTED}
    polite_bytes = {kind: 0 for kind in EXPECTED}
    for number in range(40):  # 40 rounds of 8 kinds: 320 requests
        polite = number % 4 != 3  # one round in four blasts its body without waiting
        for kind in EXPECTED:
            status, sent = abusive(port, kind, polite)
            if polite:
                statuses[kind].add(status)
                polite_bytes[kind] = max(polite_bytes[kind], sent)
            elif status != 0:  # a blasting client may see its connection reset instead
                statuses[kind].add(status)
            grown = memory(process.pid)[1] - peak_before
            assert grown < GROWTH_BOUND, f"peak memory grew by {grown / MB:.0f} MB after {kind}"
    assert statuses == {kind: {status} for kind, status in EXPECTED.items()}
    assert set(polite_bytes.values()) == {0}  # each refusal came before any body was sent

    rss_after, peak_after = memory(process.pid)
    assert peak_after - peak_before < GROWTH_BOUND
    assert rss_after - rss_before < GROWTH_BOUND
    assert wait_until(lambda: open_files(process.pid) <= files_before, 10), os.listdir(
        f"/proc/{process.pid}/fd"
    )
    assert list(temp.iterdir()) == []  # nothing spooled to disk
    assert process.poll() is None


def test_the_largest_request_twilio_could_send_is_answered(
    server: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    _, port, _ = server
    fields = inbound_fields("é" * 1600)
    fields |= {f"Pad{n}": "p" * 1400 for n in range(36)}  # about 60 kB once encoded
    headers = signed("/sms/inbound", fields)
    headers |= {f"X-Pad-{n}": "h" * 1000 for n in range(40)}  # and a 40 kB head
    response = httpx2.post(f"http://127.0.0.1:{port}/sms/inbound", data=fields, headers=headers,
                           timeout=30)  # fmt: skip
    assert response.status_code == 200 and "<Message>" in response.text


def _shifted(fields: dict[str, str]) -> dict[str, str]:
    moved = {k: v for k, v in fields.items() if k != "NumMedia"}
    moved["MessageSid"] = fields["MessageSid"] + "NumMedia" + fields["NumMedia"]
    return moved


def test_shifted_and_nul_laden_signed_requests_on_a_real_server(
    server: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    _, port, _ = server
    url = f"http://127.0.0.1:{port}/sms/inbound"
    with httpx2.Client(timeout=30) as client:
        for number in range(20):
            sender = f"+1418555{number:04d}"
            fields = inbound_fields(f"abonner Lac-Dor\x00é {number}\x00", sender=sender)
            headers = signed("/sms/inbound", fields)
            answered = client.post(url, data=fields, headers=headers)
            assert answered.status_code == 200 and "<Message>" in answered.text
            assert "erreur" not in answered.text  # not the apology
            replayed = client.post(url, data=_shifted(fields), headers=headers)
            assert replayed.status_code == 400
