-- Links to the city's other databases (`dossierhub link add|list|sync`, sinks/link.py): the
-- definition of each link, and one row per sync with the watermark it reached. The imported
-- rows go to link_<name>_rows (created by `link add`, its columns follow the source table).
-- The DSN is stored without a password (libpq reads it from PGPASSFILE / ~/.pgpass).
CREATE TABLE IF NOT EXISTS links
(
    name             String,
    dsn              String,
    source_table     String,
    key_column       String,
    watermark_column String,
    columns          Array(String),
    types            Array(String),
    added_at         DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY name;

CREATE TABLE IF NOT EXISTS link_syncs
(
    name         String,
    synced_at    DateTime('UTC'),
    watermark    String,
    watermark_us UInt64,
    rows         UInt64,
    seconds      Float64
)
ENGINE = MergeTree
ORDER BY (name, synced_at);
