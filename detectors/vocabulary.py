"""The words of events and records, spelled once: kinds, statuses, signals, unit states.

StrEnums, so a member is its string wherever one is expected (messages, labels, JSON); the
schemas (schemas/event.v1.schema.json, traffic.v1, reachability.v1) list the same values, and
tests/detectors/test_vocabulary.py keeps the two in step.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an incident is."""

    OUTAGE = "network_outage"
    RESTRICTION = "platform_restriction"
    THROTTLING = "throttling"


class Status(StrEnum):
    """Where an event's message stands in its lifecycle."""

    OPEN = "open"
    UPDATE = "update"
    RESOLVED = "resolved"


class Signal(StrEnum):
    """What a record measures."""

    TRAFFIC = "traffic"
    REACHABILITY = "reachability"


class UnitState(StrEnum):
    """A unit's hysteresis: idle -> pending -> active <-> recovering -> idle."""

    IDLE = "idle"
    PENDING = "pending"
    ACTIVE = "active"
    RECOVERING = "recovering"


# Plain strings, for the hot paths and for state (a checkpoint stores plain values).
OUTAGE: str = Kind.OUTAGE.value
RESTRICTION: str = Kind.RESTRICTION.value
THROTTLING: str = Kind.THROTTLING.value
KINDS: tuple[str, ...] = tuple(k.value for k in Kind)
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
SIGNALS: tuple[str, ...] = tuple(s.value for s in Signal)
OPEN: str = Status.OPEN.value
UPDATE: str = Status.UPDATE.value
RESOLVED: str = Status.RESOLVED.value
IDLE: str = UnitState.IDLE.value
PENDING: str = UnitState.PENDING.value
ACTIVE: str = UnitState.ACTIVE.value
RECOVERING: str = UnitState.RECOVERING.value
