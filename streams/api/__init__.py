"""The events API: the events topic kept in SQLite and served over HTTP, read-only.

`store` (SQLite, no Kafka), `query` (parameter validation), `consumer` (topic to store),
`atom` and `openapi` (documents), `metrics`, `http` (aiohttp handlers), `command` (the CLI).
"""
