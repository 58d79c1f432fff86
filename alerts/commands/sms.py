"""`alerts sms ...`: run the SMS conversation from the terminal, exactly as the webhook does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from alerts.commands.context import JSON_OPTION, console, print_json, print_json_line, services
from alerts.errors import AlertsError, InvalidInput, UsageError

if TYPE_CHECKING:
    from alerts.sms.turn import InboundSms, TurnOutcome
    from alerts.wiring import Services

app = typer.Typer(help="Text messages: the conversation behind the webhook.", no_args_is_help=True)


@app.command("receive")
def receive(
    ctx: typer.Context,
    body: list[str] = typer.Argument(None, help="The text the resident sent."),
    sender: str = typer.Option(None, "--from", help="The resident's phone number."),
    sid: str = typer.Option(None, "--sid", help="MessageSid (replaying one changes nothing)."),
    batch: Path = typer.Option(
        None, "--batch", help='JSON lines {"from", "body", "sid"}; one JSON line out per message.'
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Handle one inbound text (no signature check) and print the reply."""
    from alerts.sms.conversation import handle_inbound

    wired = services(ctx)
    if batch is not None:
        if sender or body:
            raise UsageError("--batch takes no --from or message text")
        for number, message in _batch(batch):
            if isinstance(message, str):
                print_json_line(_error(number, message))
                continue
            try:
                outcome = handle_inbound(wired, message)
            except AlertsError as exc:
                print_json_line(_error(number, str(exc)))
                continue
            except Exception as exc:
                # One line failing (the database refused it) does not stop the others. Its
                # message is not shown: a database error may quote the number or the text.
                print_json_line(_error(number, f"failed ({type(exc).__name__})"))
                continue
            print_json_line(_shape(outcome))
        return
    if not sender or not body:
        raise UsageError("give --from PHONE and the message text (or --batch FILE)")
    outcome = _receive(wired, sender, " ".join(body), sid)
    if as_json:
        print_json(_shape(outcome))
    else:
        console.print(outcome.reply or "(no reply)", markup=False)


def _receive(wired: Services, sender: str, body: str, sid: str | None) -> TurnOutcome:
    from alerts.sms.conversation import handle_inbound
    from alerts.sms.turn import InboundSms

    message = InboundSms(sender=sender, body=body, message_sid=sid or _local_sid())
    return handle_inbound(wired, message)


def _shape(outcome: TurnOutcome) -> dict[str, object]:
    return {"reply": outcome.reply, "action": outcome.action}


def _error(number: int, problem: str) -> dict[str, object]:
    return {"reply": None, "action": "error", "line": number, "error": f"line {number}: {problem}"}


def _local_sid() -> str:
    return "SMcli" + uuid.uuid4().hex[:27]


def _batch(path: Path) -> Iterator[tuple[int, InboundSms | str]]:
    """Line numbers with their message, or a one-line problem for a line that is not one."""
    from alerts.sms.turn import InboundSms

    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                message = InboundSms(
                    sender=str(record["from"]),
                    body=str(record.get("body", "")),
                    message_sid=str(record.get("sid") or _local_sid()),
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                yield number, "expected a JSON object with 'from' and 'body'"
                continue
            yield number, message
