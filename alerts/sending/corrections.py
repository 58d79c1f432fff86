"""What `alerts cancel` will do, shown before it does it: the correction in each language.

The shipped correction is the `cancelled` template, filled from the alert itself: the
neighbourhoods it went to and when it went out, in each resident's language, ending with
the opt-out word. The operator may give their own texts instead (`--notify-fr/--notify-en`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session, col

from alerts.core.composition import (
    LANGS,
    LANGUAGE_NAMES,
    AlertTexts,
    AlertTextTooLong,
    Estimate,
    MessageSpec,
    estimate,
    join_names,
)
from alerts.sending.cancelling import REACHED, CancelResult, cancel_alert, correction_texts
from alerts.sending.sending import AlertNotFound
from alerts.storage.models import Alert, Delivery
from alerts.wiring import Services

SHIPPED_TEMPLATE = "cancelled"
# The words residents are told to text to stop the service, per language.
OPT_OUT_WORDS = {"fr": "ARRET", "en": "STOP"}
# Where the alert went, when naming its neighbourhoods would not do.
_WHOLE_CITY = {"fr": "toute la ville", "en": "the whole city"}
_THEIR_AREA = {"fr": "votre secteur", "en": "your area"}
_MAX_NAMED_ZONES = 3


@dataclass(frozen=True)
class CancelDraft:
    """A cancellation previewed: what stops, and who gets which correction (nothing written)."""

    alert_id: int
    kind: str
    state: str  # the alert's state now
    pending: int  # deliveries not sent yet: they will be cancelled
    scheduled_recipients: int  # a scheduled alert: the people it will no longer reach
    earlier_correction_id: int | None  # a correction already queued: none goes again
    texts: AlertTexts | None  # the correction, if one is asked for
    by_lang: dict[str, int]  # who the correction reaches, by language
    estimate: Estimate | None
    warnings: tuple[str, ...] = ()

    @property
    def already_cancelled(self) -> bool:
        """Whether the alert was cancelled before."""
        return self.state == "cancelled"

    @property
    def recipients(self) -> int:
        """The correction's recipients (0 without one, or when it would be a second)."""
        if self.texts is None or self.earlier_correction_id is not None:
            return 0
        return sum(self.by_lang.values())


def prepare_cancel(
    services: Services, alert_id: int, notify: MessageSpec | None = None, *, shipped: bool = False
) -> CancelDraft:
    """Preview `alerts cancel`: with `shipped`, the shipped correction; else `notify`'s texts
    (the operator's own), or none."""
    settings = services.settings
    with services.session(read_only=True) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise AlertNotFound(alert_id)
        pending = session.execute(
            select(func.count()).where(
                col(Delivery.alert_id) == alert_id, col(Delivery.state) == "queued"
            )
        ).scalar_one()
        by_lang = _reached_by_lang(session, alert_id)
        first_sent = session.execute(
            select(func.min(col(Delivery.sent_at))).where(col(Delivery.alert_id) == alert_id)
        ).scalar_one_or_none()
        earlier = session.execute(
            select(func.max(col(Alert.id))).where(col(Alert.correction_of) == alert_id)
        ).scalar_one_or_none()
    texts = None
    if shipped:
        texts = shipped_correction(services, alert, first_sent)
    elif notify is not None:
        texts = correction_texts(services, notify, _common(services, alert, _zone_text(alert)))
    cost = None
    if texts is not None:
        cost = estimate(
            by_lang,
            texts,
            price_per_segment=settings.send.price_per_segment,
            currency=settings.send.currency,
            rate_per_second=settings.dispatch.rate_per_second,
            rate_unit=settings.dispatch.rate_unit,
            validity_seconds=settings.twilio.validity_period,
        )
    return CancelDraft(
        alert_id=alert_id,
        kind=alert.kind,
        state=alert.state,
        pending=pending,
        scheduled_recipients=alert.recipients if alert.state == "scheduled" else 0,
        earlier_correction_id=earlier,
        texts=texts,
        by_lang=by_lang,
        estimate=cost,
        # The config may override the shipped template too: both are checked.
        warnings=_opt_out_warnings(texts) if texts is not None else (),
    )


def cancel(services: Services, draft: CancelDraft) -> CancelResult:
    """Cancel as previewed: the correction's texts are the preview's, sent once."""
    return cancel_alert(services, draft.alert_id, draft.texts, once=True)


def shipped_correction(
    services: Services, alert: Alert, first_sent: datetime | None = None
) -> AlertTexts:
    """The `cancelled` template for this alert: its neighbourhoods (or "your area" when
    naming them would not fit) and the time it went out, in GSM-7 like the clock's notices."""
    tz = services.settings.service.tz
    went_out = (first_sent or alert.scheduled_for or alert.created_at).astimezone(tz)
    spec = MessageSpec(
        template=SHIPPED_TEMPLATE, variables={"date": went_out.strftime("%Y-%m-%d %H:%M")}
    )
    try:
        return correction_texts(
            services, spec, _common(services, alert, _zone_text(alert)), gsm_only=True
        )
    except AlertTextTooLong:
        return correction_texts(
            services, spec, _common(services, alert, _THEIR_AREA), gsm_only=True
        )


def _zone_text(alert: Alert) -> dict[str, str]:
    """Where the alert went, per language, as the correction names it."""
    target = alert.target or {}
    if target.get("kind") == "all":
        return _WHOLE_CITY
    names = [str(name) for name in target.get("zones") or []]
    if not names or len(names) > _MAX_NAMED_ZONES:
        return _THEIR_AREA
    return {lang: join_names(names, lang) for lang in LANGS}


def _common(services: Services, alert: Alert, zone: dict[str, str]) -> dict[str, dict[str, str]]:
    service = services.settings.service
    names = {"fr": service.name_fr, "en": service.name_en}
    return {lang: {"service": names[lang], "zone": zone[lang]} for lang in LANGS}


def _reached_by_lang(session: Session, alert_id: int) -> dict[str, int]:
    """Those the alert reached or may have reached (the correction's recipients), by
    language; as `cancel_alert` selects them."""
    rows = session.execute(
        select(col(Delivery.lang), func.count())
        .where(
            col(Delivery.alert_id) == alert_id,
            col(Delivery.state).in_(REACHED),
            col(Delivery.subscriber_id).is_not(None),
        )
        .group_by(col(Delivery.lang))
    ).all()
    found = dict.fromkeys(LANGS, 0)
    for lang, count in rows:
        found[lang] = found.get(lang, 0) + count
    return found


def _opt_out_warnings(texts: AlertTexts) -> tuple[str, ...]:
    """The operator's texts that do not tell residents how to stop the service."""
    return tuple(
        f"the {LANGUAGE_NAMES[lang]} correction does not say how to unsubscribe "
        f"({OPT_OUT_WORDS[lang]})"
        for lang in LANGS
        if OPT_OUT_WORDS[lang] not in texts[lang].text.upper()
    )
