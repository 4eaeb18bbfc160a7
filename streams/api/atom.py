"""An Atom 1.0 feed (RFC 4287) of event messages: one entry per message, so a reader sees an
incident open, change and resolve."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml"
TAG_AUTHORITY = "restrictwatch.dev,2026"
STATUS_WORDS = {"open": "Opened", "update": "Updated", "resolved": "Resolved"}


def entry_id(event_id: str, seq: int) -> str:
    return f"tag:{TAG_AUTHORITY}:event/{event_id}/{seq}"


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    el.text = text
    return el


def _details(m: dict[str, Any]) -> str:
    scope = []
    if m.get("regions"):
        scope.append("regions " + ", ".join(m["regions"]))
    if m["asns"]:
        scope.append("networks " + ", ".join(f"AS{a}" for a in m["asns"]))
    if m["platforms"]:
        scope.append("platforms " + ", ".join(m["platforms"]))
    lines = [
        m["summary"] + ".",
        f"Kind: {m['kind']}; country {m['country']}"
        + (f"; {'; '.join(scope)}" if scope else "; country-wide")
        + ".",
        f"Started {m['started_at']}, detected {m['detected_at']}"
        + (f", ended {m['ended_at']}" if m["ended_at"] else ", ongoing")
        + ".",
        f"Severity {m['severity']:.0%}, confidence {m['confidence']:.0%}"
        + (f", method {m['method']}" if m.get("method") else "")
        + ".",
    ]
    return "\n".join(lines)


def atom_feed(
    messages: Sequence[dict[str, Any]], base_url: str, self_url: str, country: str | None
) -> bytes:
    """The feed of `messages` (newest first); links point into this API at `base_url`."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    where = f" in {country}" if country else ""
    _text(feed, "id", f"tag:{TAG_AUTHORITY}:feed/{country or 'all'}")
    _text(feed, "title", f"restrictwatch: internet restrictions{where}")
    _text(feed, "subtitle", "Network outages, platform restrictions and throttling as detected")
    # A feed needs an updated time: the newest message's, or the epoch while there is none.
    _text(feed, "updated", messages[0]["emitted_at"] if messages else "1970-01-01T00:00:00Z")
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    _text(author, "name", "restrictwatch")
    ET.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=self_url, type=CONTENT_TYPE)
    _text(feed, "generator", "restrictwatch")
    for m in messages:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _text(entry, "id", entry_id(m["event_id"], m["seq"]))
        _text(entry, "title", f"{STATUS_WORDS[m['status']]}: {m['summary']}")
        _text(entry, "updated", m["emitted_at"])
        _text(entry, "published", m["emitted_at"])
        ET.SubElement(
            entry,
            f"{{{ATOM_NS}}}link",
            rel="alternate",
            type="application/json",
            href=f"{base_url}/v1/events/{m['event_id']}",
        )
        ET.SubElement(entry, f"{{{ATOM_NS}}}category", term=m["kind"])
        ET.SubElement(entry, f"{{{ATOM_NS}}}category", term=m["country"], label="country")
        _text(entry, "summary", _details(m), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
