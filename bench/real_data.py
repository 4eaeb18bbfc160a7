"""Real daily counts (OONI web connectivity, Tor users) as our records.

The source files are in data/real/acsac/ (see its README). Per country and day:

* one `reachability.v1` record: platform `web` (the OONI web-connectivity test list as a whole:
  the counts do not say which sites were measured), `probes` = `total`, `ok` = `ok`, and
  `failures` = `dns`, `http`, `tls` (the layer where interference was seen; the three with `ok`
  sum to `total`). OONI's `error` column (measurements that failed to run) overlaps the others
  and has no place in the schema: it is left out. Days with no measurement are left out.
* one `traffic.v1` record: platform `tor`, `value` = Tor Metrics' estimated users. Days without
  an estimate are left out.

Both at 00:00 UTC of the day, sources `ooni` and `tor-metrics`; records in time order.

    python -m bench.real_data --country RU --out records-ru.jsonl
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "data" / "real"
ACSAC = REAL / "acsac"
COUNTRIES: tuple[str, ...] = ("CN", "IR", "MM", "PK", "RU", "TR")
OONI_SOURCE = "ooni"
TOR_SOURCE = "tor-metrics"
WEB = "web"
TOR = "tor"
DAY = 86400


def day_ts(day: str) -> str:
    """00:00 UTC of a YYYY-MM-DD day, RFC 3339."""
    return f"{date.fromisoformat(day).isoformat()}T00:00:00Z"


def ooni_records(country: str, folder: Path = ACSAC) -> Iterator[dict[str, Any]]:
    path = folder / f"ooni-data-{country.lower()}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            total = int(row["total"])
            if total < 1:
                continue
            failures = {layer: int(row[layer]) for layer in ("dns", "http", "tls")}
            yield {
                "signal": "reachability",
                "ts": day_ts(row["date"]),
                "country": country,
                "platform": WEB,
                "probes": total,
                "ok": int(row["ok"]),
                "failures": failures,
                "source": OONI_SOURCE,
            }


def tor_records(country: str, folder: Path = ACSAC) -> Iterator[dict[str, Any]]:
    path = folder / f"tor-data-{country.lower()}.csv"
    if not path.exists():
        return
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row["users"]:
                continue
            yield {
                "signal": "traffic",
                "ts": day_ts(row["date"]),
                "country": country,
                "platform": TOR,
                "value": float(row["users"]),
                "source": TOR_SOURCE,
            }


def records(country: str, folder: Path = ACSAC, tor: bool = True) -> list[dict[str, Any]]:
    """Every record of one country, in time order (probes before traffic on the same day)."""
    rows = list(ooni_records(country, folder))
    if tor:
        rows += tor_records(country, folder)
    rows.sort(key=lambda r: (r["ts"], r["signal"] != "reachability"))
    return rows


def lines(country: str, folder: Path = ACSAC, tor: bool = True) -> list[bytes]:
    """The records as JSON lines, as `restrictwatch replay` reads them."""
    return [orjson.dumps(r) for r in records(country, folder, tor)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--country", required=True, choices=COUNTRIES)
    parser.add_argument("--out", required=True, help="JSON-lines file to write ('-': stdout)")
    parser.add_argument("--no-tor", action="store_true", help="OONI records only")
    args = parser.parse_args(argv)
    data = b"".join(line + b"\n" for line in lines(args.country, tor=not args.no_tor))
    if args.out == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(args.out).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
