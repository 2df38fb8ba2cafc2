"""The sink side of the hub: Kafka → ClickHouse, and the warehouse model analysts query."""
