-- The sink's durable record of offset ranges, and its dead-letter table.
--
-- sink_ranges: one row per state change of a range [first_offset, last_offset] of one topic
-- partition: 'pending' before its rows are inserted, 'confirmed' once all are stored,
-- 'aborted' once the rows of an unfinished attempt are deleted. No PARTITION BY, so one INSERT
-- is one part: a range record is written whole or not at all.
CREATE TABLE IF NOT EXISTS sink_ranges
(
    src_topic     String,
    src_partition Int32,
    first_offset  Int64,
    last_offset   Int64,
    state         String,
    rows          Int64,
    recorded_at   DateTime('UTC')
)
ENGINE = MergeTree
ORDER BY (src_topic, src_partition, first_offset, last_offset);

-- Messages the sink could not store (undecodable, or a value ClickHouse would reject or
-- silently mangle), with the reason; they count in their range like any stored row.
CREATE TABLE IF NOT EXISTS sink_deadletter
(
    src_topic     String,
    src_partition Int32,
    src_offset    Int64,
    schema_id     Int32,
    event_type    String,
    reason        String,
    raw_hex       String
)
ENGINE = MergeTree
ORDER BY (src_topic, src_partition, src_offset);
