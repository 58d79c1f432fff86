"""Places: a zone name, address, point or map link to a zone; layer and gazetteer imports."""
