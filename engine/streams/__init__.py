"""Reading and showing engine events: one Kafka reader (``kafka``), one JSONL reader
(``jsonl``) and one renderer of lifecycle events (``render``), used by every command."""
