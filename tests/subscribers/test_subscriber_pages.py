"""`subscribers list` pages: the database returns the first N subscribers and counts the rest,
on SQLite and PostgreSQL, whatever their number of subscriptions."""

from __future__ import annotations

from alerts.subscribers.subscribers import add_subscriber, count_subscribers, list_subscribers
from alerts.wiring import Services


def _subscribe(town: Services, count: int) -> None:
    for n in range(count):
        add_subscriber(town, f"41855501{n:02d}", zone="Lac-Doré")
        if n % 2:  # every other one in two zones: two joined rows, one subscriber
            add_subscriber(town, f"41855501{n:02d}", zone="Saint-Éloi")


def test_a_limit_returns_the_first_subscribers_whole(town: Services) -> None:
    _subscribe(town, 7)
    page = list(list_subscribers(town, limit=3, include_phones=True))
    assert [view.phone for view in page] == ["+14185550100", "+14185550101", "+14185550102"]
    # The limit counts subscribers, not joined rows: the second keeps both its zones.
    assert page[1].zones == ["Lac-Doré", "Saint-Éloi"]
    assert len(list(list_subscribers(town))) == 7
    assert len(list(list_subscribers(town, limit=100))) == 7


def test_the_count_follows_the_same_filters(town: Services) -> None:
    _subscribe(town, 7)
    assert count_subscribers(town) == 7
    assert count_subscribers(town, zone="saint eloi") == 3
    assert count_subscribers(town, without_zone=True) == 0
    in_eloi = list(list_subscribers(town, zone="saint eloi", limit=2, include_phones=True))
    assert [view.phone for view in in_eloi] == ["+14185550101", "+14185550103"]
