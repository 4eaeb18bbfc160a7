"""A worker that loses records between its consumer and its handler the first time they come, as
Faust's consumer can after a rebalance (streams/commitwatch.py): every record whose event time is
at or after `RW_TEST_DROP_FROM` (ISO 8601) is dropped on its first delivery, unacknowledged.

    python -m tests.integration.dropping_worker worker --loglevel info
"""

from __future__ import annotations

import os
import sys

import orjson

from restrictwatch.streams import cli
from restrictwatch.streams.handler import Inbound, Output, RecordHandler

DROP_FROM = os.environ["RW_TEST_DROP_FROM"]
_receive = RecordHandler.receive
_dropped: set[tuple[str, int, int]] = set()


def receive(self: RecordHandler, inbound: Inbound, now: float) -> Output:
    where = (inbound.topic, inbound.partition, inbound.offset)
    if where not in _dropped and orjson.loads(inbound.value)["ts"] >= DROP_FROM:
        _dropped.add(where)
        return Output()
    return _receive(self, inbound, now)


RecordHandler.receive = receive  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
