"""The SMS gateway protocol, the provider error table, and the console and file gateways."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from alerts.core.phones import mask_phone
from alerts.errors import AlertsError


@dataclass(frozen=True)
class OutgoingSms:
    """One text message to one recipient."""

    to: str  # E.164
    body: str
    reference: str | None = None  # our delivery id, for logs; never sent to the provider


@dataclass(frozen=True)
class SendReceipt:
    """What the provider said when it accepted a message."""

    provider_id: str  # Twilio MessageSid (SM...), or a local id for console/file
    status: str  # the provider's initial status: "queued", "accepted", "sent"
    segments: int | None = None


class ErrorKind(StrEnum):
    """What the dispatcher should do about a failed send."""

    RETRYABLE = "retryable"  # try again later, with backoff
    RECIPIENT_INVALID = "recipient_invalid"  # suppress the number: it cannot receive SMS
    OPTED_OUT = "opted_out"  # the person replied STOP: opt them out
    CONTENT = "content"  # the message itself is wrong: fix the text, not the recipient
    OTHER = "other"  # configuration, credentials, or a code we do not know


class GatewayError(AlertsError):
    """A send failed; `kind` says what to do about it, `code` says what the provider said."""

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        code: str | None = None,
        retry_after: float | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.retry_after = retry_after
        self.http_status = http_status

    @property
    def retryable(self) -> bool:
        """True when sending the same message again later may succeed."""
        return self.kind is ErrorKind.RETRYABLE


# Twilio error codes (https://www.twilio.com/docs/api/errors) and our own transport codes.
# 30003/30005 only arrive in status callbacks, never in the create response; they are in the
# table so that the callback handler and the send path classify with the same function.
_KINDS: dict[str, ErrorKind] = {
    # Transport trouble: the request may not have reached the provider.
    "timeout": ErrorKind.RETRYABLE,
    "connection": ErrorKind.RETRYABLE,
    "20429": ErrorKind.RETRYABLE,  # too many requests
    "30001": ErrorKind.RETRYABLE,  # sender queue overflow
    "63018": ErrorKind.RETRYABLE,  # rate limit exceeded for the channel
    "30003": ErrorKind.RETRYABLE,  # unreachable handset: phone off or out of coverage
    "30005": ErrorKind.RETRYABLE,  # unknown handset: DESIGN treats it as transient; cap attempts
    "21211": ErrorKind.RECIPIENT_INVALID,  # invalid 'To' number
    "21612": ErrorKind.RECIPIENT_INVALID,  # 'To' not reachable by SMS
    "21614": ErrorKind.RECIPIENT_INVALID,  # 'To' is not a mobile number
    "30006": ErrorKind.RECIPIENT_INVALID,  # landline or unreachable carrier
    "21610": ErrorKind.OPTED_OUT,  # the recipient replied STOP to this sender
    "21617": ErrorKind.CONTENT,  # body over 1600 characters
    "21602": ErrorKind.CONTENT,  # body missing
    # 21408 (region not enabled) is deliberately absent: it is an account setting to fix in the
    # Twilio console, so suppressing the subscriber would be wrong; it falls to OTHER.
}


# What each code means, for the operator reading a number's messages (English, French).
# 30007 and 30008 are not in _KINDS: they say nothing about the recipient (OTHER).
_MEANINGS: dict[str, tuple[str, str]] = {
    "timeout": ("no answer from the provider in time", "pas de réponse du fournisseur à temps"),
    "connection": ("the provider could not be reached", "fournisseur injoignable"),
    "20429": ("too many requests to the provider", "trop de requêtes au fournisseur"),
    "30001": ("the sender's queue overflowed", "file d'envoi de l'expéditeur pleine"),
    "63018": ("the channel's rate limit was exceeded", "débit maximal du canal dépassé"),
    "30003": (
        "unreachable handset: phone off or out of coverage",
        "téléphone injoignable : éteint ou hors couverture",
    ),
    "30005": (
        "unknown handset: the carrier does not know the number, or the phone is off",
        "destinataire inconnu de l'opérateur, ou téléphone éteint",
    ),
    "30006": ("a landline, or a carrier out of reach", "ligne fixe ou opérateur injoignable"),
    "30007": ("filtered by the carrier (as spam)", "filtré par l'opérateur (pourriel)"),
    "30008": ("unknown error from the carrier", "erreur inconnue de l'opérateur"),
    "21211": ("not a valid phone number", "numéro de téléphone invalide"),
    "21612": ("the number cannot be reached by SMS", "numéro injoignable par texto"),
    "21614": ("not a mobile number", "pas un numéro de cellulaire"),
    "21610": ("the person replied STOP to this sender", "la personne a répondu STOP"),
    "21617": ("the text is over 1600 characters", "texte de plus de 1600 caractères"),
    "21602": ("the text is missing", "texte manquant"),
    "21408": (
        "sending to this region is not enabled on the account",
        "envoi vers cette région non activé sur le compte",
    ),
}


def error_meaning(code: str | None, lang: str = "en") -> str | None:
    """What a provider error code (or our transport code) means, in English or French;
    None for no code, and a plain "error CODE" for one we do not know."""
    if not code:
        return None
    key = code.strip()
    english, french = _MEANINGS.get(key, (None, None))
    if english is not None and french is not None:
        return french if lang == "fr" else english
    if key.startswith("http-") and key[5:].isdigit():
        answer = f"HTTP {key[5:]}"
        return f"{answer} du fournisseur" if lang == "fr" else f"{answer} from the provider"
    return f"erreur {key}" if lang == "fr" else f"error {key}"


def classify(status_code: int | None, code: int | str | None) -> ErrorKind:
    """Map an HTTP status and a provider error code to what the dispatcher should do."""
    key = None if code is None else str(code).strip()
    if key and key in _KINDS:
        return _KINDS[key]
    if status_code is None and key and key.startswith("http-") and key[5:].isdigit():
        # Our own "http-503" codes classify like the status they carry.
        status_code = int(key[5:])
    if status_code is not None and (status_code == 429 or 500 <= status_code <= 599):
        return ErrorKind.RETRYABLE
    return ErrorKind.OTHER


@runtime_checkable
class Gateway(Protocol):
    """Anything that can send one SMS.

    `send` is awaited on an event loop, many at once (the dispatcher's slots); several loops
    in several threads may share one gateway. Connections belong to the loop that opened
    them: `aclose`, awaited on that loop before it ends, releases them. `close` releases the
    rest (files, the gateway itself).
    """

    name: str

    async def send(self, message: OutgoingSms) -> SendReceipt:
        """Hand one message to the provider or raise GatewayError."""
        ...

    async def aclose(self) -> None:
        """Release what the running event loop holds (pooled connections)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


@runtime_checkable
class MessageLog(Protocol):
    """A gateway whose provider keeps a log of the messages it accepted, and can search it.

    After a crash, a delivery whose answer never came back is looked up there before it is
    sent again: found, it was sent; absent, it was not.
    """

    async def find_sent(
        self, to: str, body: str, since: datetime, exclude: frozenset[str] = frozenset()
    ) -> SendReceipt | None:
        """The message with this body to `to` created since `since` (none of `exclude`), or
        None; raise GatewayError when the log cannot be read."""
        ...


def message_log(gateway: Gateway) -> MessageLog | None:
    """The provider log behind this gateway (through wrappers), or None: it keeps none."""
    inner: object = gateway
    while hasattr(inner, "inner"):
        inner = getattr(inner, "inner")  # noqa: B009 (an object of any wrapper class)
    return inner if isinstance(inner, MessageLog) else None


def _local_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


class ConsoleGateway:
    """Prints each message on one line instead of sending it; for development and demos."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        # stderr, so a command's --json output on stdout stays one JSON document; resolved at
        # call time so pytest's capture and redirections are honoured.
        self._stream = stream
        self._lock = threading.Lock()

    async def send(self, message: OutgoingSms) -> SendReceipt:
        """Print the message with the number masked."""
        stream = self._stream if self._stream is not None else sys.stderr
        ref = f" [{message.reference}]" if message.reference else ""
        # One message, one line: escape newlines so output stays greppable.
        body = message.body.replace("\r", "\\r").replace("\n", "\\n")
        line = f"SMS to {mask_phone(message.to)}{ref}: {body}\n"
        with self._lock:
            stream.write(line)
            stream.flush()
        return SendReceipt(provider_id=_local_id("console"), status="sent")

    async def aclose(self) -> None:
        """No connections."""

    def close(self) -> None:
        """Nothing to release; the stream belongs to the caller."""


class FileGateway:
    """Appends each message as one JSON line to a file; for tests and dry runs."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    async def send(self, message: OutgoingSms) -> SendReceipt:
        """Append one JSON line describing the message."""
        provider_id = _local_id("file")
        record = {
            "to": message.to,
            "body": message.body,
            "reference": message.reference,
            "provider_id": provider_id,
            "at": datetime.now(UTC).isoformat(),
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        # Dispatchers in several threads may share this gateway: one locked write per line
        # keeps lines whole. A short local write; the event loop does not notice it.
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
        return SendReceipt(provider_id=provider_id, status="sent")

    async def aclose(self) -> None:
        """No connections."""

    def close(self) -> None:
        """Nothing stays open between sends."""
