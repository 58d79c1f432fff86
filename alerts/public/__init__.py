"""Public data: the page, the feeds, CAP, the SVG map, their wording and cache."""
