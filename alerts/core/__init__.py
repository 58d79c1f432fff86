"""The pure core: keywords, SMS encoding, replies, composition, schedule rules, time, phones."""
