"""Storage: engines, tables, migrations, queries on a Session, the zone catalog, the job store."""
