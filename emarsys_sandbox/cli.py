"""`emarsys-sandbox serve`: run a sandbox until SIGINT/SIGTERM.

The first stdout line is one JSON object (`base_url`, `username`, `secret`, `client_id`,
`client_secret`, `token_url`) so scripts can read it; human-readable lines follow.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from types import FrameType
from typing import Any

from emarsys_sandbox.auth import PERMISSIONS
from emarsys_sandbox.exports import (
    DISTRIBUTION_KEY_FORMS,
    HEADER_LABEL_FORMS,
    OFFSET_COUNT_FORMS,
    PAGE_HEADER_FORMS,
)
from emarsys_sandbox.rds_columns import ColumnType
from emarsys_sandbox.server import Sandbox

_COLUMN_SEPARATOR = re.compile(r",(?![^()]*\))")


def parse_rds_table(spec: str) -> tuple[str, str, dict[str, Any]]:
    """`conn.table:col1*:int,col2:varchar(40),col3` -> (conn, table, declaration).

    `*` marks primary-key columns; `:type` (optional per column) declares a column type
    (`rds_columns.TYPE_NAMES`). Commas inside a type's parentheses (`decimal(10,2)`) do not
    split columns.
    """
    usage = f"--rds-table expects conn.table:col1*:type,col2 (got {spec!r})"
    try:
        name, columns_text = spec.split(":", 1)
        connection, table = name.split(".", 1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(usage) from exc
    columns = [c.strip() for c in _COLUMN_SEPARATOR.split(columns_text) if c.strip()]
    if not connection or not table or not columns:
        raise argparse.ArgumentTypeError(usage)
    names: list[str] = []
    keys: list[str] = []
    types: dict[str, str] = {}
    for column in columns:
        column_name, _, type_text = column.partition(":")
        column_name = column_name.strip()
        bare = column_name.rstrip("*")
        if not bare:
            raise argparse.ArgumentTypeError(usage)
        names.append(bare)
        if column_name.endswith("*"):
            keys.append(bare)
        if type_text.strip():
            try:
                types[bare] = ColumnType.parse(type_text).declared
            except ValueError as exc:
                raise argparse.ArgumentTypeError(f"--rds-table {spec!r}: {exc}") from None
    declared: dict[str, Any] = {"columns": names, "primary_key": keys}
    if types:
        declared["types"] = types
    return connection, table, declared


def parse_rate_limit(text: str) -> int | None:
    """`--rate-limit N`: requests per window; `0` or `off` switch enforcement off (None)."""
    if text.strip().lower() == "off":
        return None
    try:
        limit = int(text)
    except ValueError:
        limit = -1
    if limit < 0:
        raise argparse.ArgumentTypeError(
            f"--rate-limit expects a number of requests per window, 0 or off (got {text!r})"
        )
    return limit or None


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="emarsys-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a sandbox on 127.0.0.1 until stopped")
    serve.add_argument("--port", type=int, default=8099, help="TCP port (0: a free one)")
    serve.add_argument("--contacts", type=int, default=1000, help="synthetic account size")
    serve.add_argument("--seed", type=int, default=1, help="seed of the synthetic account")
    serve.add_argument("--responses", type=int, default=None, help="email response events")
    serve.add_argument("--export-delay", type=float, default=0.0, help="seconds until done")
    serve.add_argument("--timezone", default="Europe/Vienna", help="account time zone")
    serve.add_argument(
        "--rate-limit",
        type=parse_rate_limit,
        default=1000,
        help="requests per window per API user (default 1000, the real limit; 0 or off: none)",
    )
    serve.add_argument("--rate-window", type=float, default=60.0, help="window seconds")
    serve.add_argument("--token-ttl", type=float, default=3600.0, help="OAuth token seconds")
    serve.add_argument(
        "--rds-table",
        type=parse_rds_table,
        action="append",
        default=[],
        metavar="CONN.TABLE:COL*[:TYPE],COL",
        help="declare an RDS table (* marks primary-key columns, :TYPE e.g. int, "
        "varchar(40), datetime, tinyint types a column); repeatable",
    )
    serve.add_argument("--rds-autocreate", action="store_true", help="create unknown tables")
    serve.add_argument("--db", default=None, help="SQLite file for RDS data")
    serve.add_argument(
        "--no-changes-last-update",
        dest="changes_last_update",
        action="store_false",
        help="getchanges CSV without the trailing `last update` column",
    )
    serve.add_argument(
        "--no-member-user-id",
        dest="member_user_id",
        action="store_false",
        help="contact list and segment CSV without the leading `user_id` column",
    )
    serve.add_argument(
        "--header-labels",
        choices=HEADER_LABEL_FORMS,
        default="exact",
        help="CSV header labels equal the GET /field names (exact) or differ (variant)",
    )
    serve.add_argument(
        "--ready-is-final",
        action="store_true",
        help="local exports end at `ready` (never `done`); the file is served from `ready` on",
    )
    serve.add_argument(
        "--page-header",
        choices=PAGE_HEADER_FORMS,
        default="every",
        help="which download pages start with the header row",
    )
    serve.add_argument(
        "--offset-counts",
        choices=OFFSET_COUNT_FORMS,
        default="rows",
        help="download offset/limit count data rows or file lines (the header is line 0)",
    )
    serve.add_argument(
        "--distribution-keys",
        choices=DISTRIBUTION_KEY_FORMS,
        default="any",
        help="exports take sftp_settings or ftp_settings (any) or only their documented key",
    )
    serve.add_argument(
        "--email-keys-fold-case",
        action="store_true",
        help="contact writes/reads keyed by e-mail match without regard to case",
    )
    serve.add_argument(
        "--deny-permission",
        action="append",
        default=[],
        choices=sorted(PERMISSIONS),
        metavar="NAME",
        help="the OAuth2 API user lacks this permission (403 on its endpoints); repeatable",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `emarsys-sandbox` console script."""
    args = build_parser().parse_args(argv)
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for connection, table, declared in args.rds_table:
        tables.setdefault(connection, {})[table] = declared
    sandbox = Sandbox(
        contacts=args.contacts,
        seed=args.seed,
        responses=args.responses,
        export_delay=args.export_delay,
        timezone=args.timezone,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        token_ttl=args.token_ttl,
        rds_tables=tables,
        rds_autocreate=args.rds_autocreate,
        db_path=args.db,
        port=args.port,
        changes_last_update=args.changes_last_update,
        member_user_id=args.member_user_id,
        header_labels=args.header_labels,
        ready_is_final=args.ready_is_final,
        page_header=args.page_header,
        offset_counts=args.offset_counts,
        distribution_keys=args.distribution_keys,
        email_keys_fold_case=args.email_keys_fold_case,
        denied_permissions=frozenset(args.deny_permission),
    )
    sandbox.start()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(json.dumps(sandbox.credentials), flush=True)
    print(
        f"emarsys-sandbox serving {args.contacts} contacts (seed {args.seed}) at "
        f"{sandbox.base_url}",
        flush=True,
    )
    print(
        f"  WSSE user {sandbox.credentials['username']}; OAuth token URL "
        f"{sandbox.credentials['token_url']}; control under {sandbox.base_url}/_sandbox/",
        flush=True,
    )
    print("  stop with Ctrl-C (SIGINT) or SIGTERM", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.close()
        print("emarsys-sandbox stopped", file=sys.stderr, flush=True)
