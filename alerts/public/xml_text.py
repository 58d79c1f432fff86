"""Text as XML 1.0 allows it: what the feeds and CAP documents write from data.

Zone names, alert texts and the service's settings come from files, operators and the
database. XML 1.0 forbids most control characters, even escaped: lxml refuses them (the Atom
feed was a 500) and ElementTree writes them raw (the CAP document was not XML). They carry
nothing a reader could see, so they are dropped; the discouraged C1 range and DEL go too.
"""

from __future__ import annotations

import re

# Everything outside XML 1.0's Char production, plus DEL and C1 (discouraged by the spec).
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """The text without the characters an XML 1.0 document cannot hold."""
    return _NOT_XML.sub("", text)
