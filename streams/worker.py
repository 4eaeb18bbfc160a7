"""The `worker` command: settings and config checked, the broker waited for, metrics served,
then the Faust app (streams/app.py, the one module built on Faust) runs until stopped."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from restrictwatch.detectors.config import load_config
from restrictwatch.streams import logs
from restrictwatch.streams.kafka_io import check_free, wait_for_broker
from restrictwatch.streams.settings import load_settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker", help="run a stream worker (settings from RW_* environment variables)"
    )
    logs.add_arguments(p)
    p.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from restrictwatch.streams.app import create_app, worker_for
    from restrictwatch.streams.metrics import serve_metrics

    log_format = logs.format_of(args)
    logs.configure(args.loglevel, log_format)  # bad values fail here, before any waiting
    settings = load_settings()
    config = load_config(settings.detector_config)  # a bad file fails before any waiting
    if settings.metrics_port:
        check_free(settings.metrics_host, settings.metrics_port, "RW_METRICS_PORT")
    wait_for_broker(settings, say=logging.getLogger("restrictwatch.worker").warning)
    observer = serve_metrics(settings) if settings.metrics_port else None
    app = create_app(settings, config, observer=observer)
    if observer is not None:
        observer.attach(app)
    worker_for(app, args.loglevel, log_format).execute_from_commandline()
    return 0
