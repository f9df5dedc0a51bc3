"""Every option of a sandbox, declared once: `Sandbox(...)`, `SandboxBackend` and `serve` flags.

Each option is a field of `SandboxOptions` (the export forms published sources disagree on, of
`ExportVariants`); its metadata (`Flag`) says how `emarsys-sandbox serve` spells it. The keyword
arguments of `Sandbox(...)` and `SandboxBackend(...)`, the command's flags and their `--help`
all come from these fields, so a new option is one new field.

A bottom module: it imports only `auth` (the permission names) and `rds_columns` (the column
types an `--rds-table` flag may declare).
"""

from __future__ import annotations

import argparse
import inspect
import re
from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

from emarsys_sandbox.auth import PERMISSIONS
from emarsys_sandbox.rds_columns import ColumnType

HEADER_LABEL_FORMS = ("exact", "variant")
PAGE_HEADER_FORMS = ("every", "first")
OFFSET_COUNT_FORMS = ("rows", "lines")
DISTRIBUTION_KEY_FORMS = ("any", "documented")
_SAME = object()  # `Flag.serve_default`: the command's default is the library's


@dataclass(frozen=True)
class Flag:
    """How one option is spelled on `emarsys-sandbox serve`.

    Attributes:
        name: The flag. A boolean option defaulting to True is switched off by its flag
            (`--no-...`), one defaulting to False switched on.
        help: The `serve --help` line (docs/sandbox.md "Options" says more, with the sources).
        parse: Reads the flag's text (argparse `type`); None: the text itself.
        serve_default: The command's default where it differs from the library's
            (`serve --port 8099` but `Sandbox(port=0)`).
        choices: The accepted values, checked for the keyword argument too.
        metavar: The value's name in `--help`.
        gather: For a repeatable flag (argparse `append`): the given values -> the option.
    """

    name: str
    help: str
    parse: Callable[[str], Any] | None = None
    serve_default: Any = _SAME
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    gather: Callable[[list[Any]], Any] | None = None


def flag(name: str, help: str, *args: Any, **kwargs: Any) -> dict[str, Flag]:
    """Field metadata: the option's `serve` flag (`Flag(name, help, ...)`)."""
    return {"flag": Flag(name, help, *args, **kwargs)}


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


_COLUMN_SEPARATOR = re.compile(r",(?![^()]*\))")  # commas outside a type's parentheses


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


def gather_rds_tables(
    declared: list[tuple[str, str, dict[str, Any]]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """`--rds-table` flags -> `rds_tables` ({connection: {table: declaration}})."""
    tables: dict[str, dict[str, dict[str, Any]]] = {}
    for connection, table, declaration in declared:
        tables.setdefault(connection, {})[table] = declaration
    return tables


def _check_choices(options: Any) -> None:
    """ValueError naming the option and its forms when a value is not one of its choices."""
    for f in fields(options):
        flag = f.metadata.get("flag")
        value = getattr(options, f.name)
        if flag is None or flag.choices is None or flag.gather is not None:
            continue
        if value not in flag.choices:
            raise ValueError(
                f"sandbox option {f.name} must be one of {', '.join(flag.choices)} (got {value!r})"
            )


@dataclass(frozen=True)
class ExportVariants:
    """Where published Emarsys sources show more than one form, the one this account plays.

    Each default is the form the sandbox always had; a test picks another to see that a
    connector copes with a real account showing it (docs/emarsys-api.md §12). Each field's
    `Flag.help` says what it changes.
    """

    changes_last_update: bool = field(
        default=True,
        metadata=flag(
            "--no-changes-last-update",
            "getchanges CSV without the trailing `last update` column, as in the current "
            "published example (docs/emarsys-api.md §12.2)",
        ),
    )
    member_user_id: bool = field(
        default=True,
        metadata=flag(
            "--no-member-user-id",
            "contact list and segment CSV without the leading `user_id` column, as in every "
            "current published example (§12.1)",
        ),
    )
    header_labels: str = field(
        default="exact",
        metadata=flag(
            "--header-labels",
            "CSV header labels equal the GET /field names (exact) or are spelled as some "
            "accounts show them (variant, §12.3)",
            choices=HEADER_LABEL_FORMS,
        ),
    )
    ready_is_final: bool = field(
        default=False,
        metadata=flag(
            "--ready-is-final",
            "local exports end at `ready` (never `done`); the file is served from `ready` on "
            "(§12.4)",
        ),
    )
    page_header: str = field(
        default="every",
        metadata=flag(
            "--page-header",
            "which download pages start with the header row: every one, or only the first "
            "(offset 0) (§12.5)",
            choices=PAGE_HEADER_FORMS,
        ),
    )
    offset_counts: str = field(
        default="rows",
        metadata=flag(
            "--offset-counts",
            "download offset/limit count data rows, or file lines with the header as line 0 "
            "(§12.5)",
            choices=OFFSET_COUNT_FORMS,
        ),
    )
    distribution_keys: str = field(
        default="any",
        metadata=flag(
            "--distribution-keys",
            "exports take their (S)FTP server under sftp_settings or ftp_settings (any), or "
            "only under their documented key (§12.6)",
            choices=DISTRIBUTION_KEY_FORMS,
        ),
    )

    def __post_init__(self) -> None:
        _check_choices(self)


DEFAULT_VARIANTS = ExportVariants()


@dataclass(frozen=True)
class SandboxOptions:
    """One sandbox's options; `Flag.help` of each field says what it is for.

    Build it with `SandboxOptions.of(**keywords)`, the keywords of `Sandbox(...)` (the
    `ExportVariants` fields among them go into `variants`).
    """

    port: int = field(
        default=0,
        metadata=flag("--port", "TCP port on 127.0.0.1 (0: a free one)", int, serve_default=8099),
    )
    contacts: int = field(
        default=200, metadata=flag("--contacts", "synthetic account size", int, serve_default=1000)
    )
    seed: int = field(
        default=7,
        metadata=flag(
            "--seed",
            "seed of every generated value and of the fault sequence",
            int,
            serve_default=1,
        ),
    )
    responses: int | None = field(
        default=None,
        metadata=flag("--responses", "base email response events (default: 2 x contacts)", int),
    )
    export_delay: float | dict[str, float] = field(
        default=0.0,
        metadata=flag(
            "--export-delay",
            "seconds from export start to done (keyword: also {export type: seconds})",
            float,
        ),
    )
    timezone: str = field(
        default="Europe/Vienna",
        metadata=flag("--timezone", "zone the account renders naive timestamps in"),
    )
    rate_limit: int | None = field(
        default=1000,
        metadata=flag(
            "--rate-limit",
            "requests per window per API user (default 1000, the real limit, "
            "docs/emarsys-api.md §3.3, §12.11; 0 or off, keyword None: not enforced)",
            parse_rate_limit,
        ),
    )
    rate_window: float = field(
        default=60.0, metadata=flag("--rate-window", "rate window, seconds", float)
    )
    token_ttl: float = field(
        default=3600.0, metadata=flag("--token-ttl", "OAuth token lifetime, seconds", float)
    )
    rds_tables: dict[str, dict[str, dict[str, Any]]] | None = field(
        default=None,
        metadata=flag(
            "--rds-table",
            "declare an RDS table (* marks primary-key columns, :TYPE e.g. int, varchar(40), "
            "datetime, tinyint types a column); repeatable; keyword: {connection: {table: "
            '{"columns": [...], "primary_key": [...], "types": {...}}}}',
            parse_rds_table,
            metavar="CONN.TABLE:COL*[:TYPE],COL",
            gather=gather_rds_tables,
        ),
    )
    rds_autocreate: bool = field(
        default=False,
        metadata=flag("--rds-autocreate", "create unknown RDS tables from the first write"),
    )
    db_path: str | None = field(
        default=None, metadata=flag("--db", "SQLite file for RDS data (default: a temporary file)")
    )
    sftp_retry_interval: float = field(
        default=3600.0,
        metadata=flag(
            "--sftp-retry-interval",
            "seconds between upload attempts of an sftp export that failed",
            float,
        ),
    )
    notification_retry_delay: float = field(
        default=60.0,
        metadata=flag(
            "--notification-retry-delay",
            "seconds between the 5 attempts of an export notification",
            float,
        ),
    )
    email_keys_fold_case: bool = field(
        default=False,
        metadata=flag(
            "--email-keys-fold-case",
            "contact writes/reads keyed by e-mail match without regard to case "
            "(docs/emarsys-api.md §12.9; default: exact)",
        ),
    )
    denied_permissions: frozenset[str] = field(
        default=frozenset(),
        metadata=flag(
            "--deny-permission",
            "the OAuth2 API user lacks this permission: 403 without a replyCode on its "
            "endpoints (docs/emarsys-api.md §12.8; WSSE is not affected); repeatable",
            choices=tuple(sorted(PERMISSIONS)),
            metavar="NAME",
            gather=frozenset,
        ),
    )
    variants: ExportVariants = DEFAULT_VARIANTS

    def __post_init__(self) -> None:
        # a tuple or list of permission names is as good as a frozenset
        object.__setattr__(self, "denied_permissions", frozenset(self.denied_permissions))
        unknown = self.denied_permissions - PERMISSIONS
        if unknown:
            raise ValueError(
                f"denied_permissions: unknown {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(PERMISSIONS))}"
            )
        _check_choices(self)

    @classmethod
    def of(cls, **keywords: Any) -> SandboxOptions:
        """From the flat keywords of `Sandbox(...)`; TypeError naming any unknown one."""
        variant_names = {f.name for f in fields(ExportVariants)}
        known = {f.name for f in fields(cls)} | variant_names
        unknown = sorted(set(keywords) - known)
        if unknown:
            raise TypeError(
                f"unknown sandbox option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        variants = {k: keywords.pop(k) for k in list(keywords) if k in variant_names}
        base = keywords.pop("variants", DEFAULT_VARIANTS)
        return cls(**keywords, variants=ExportVariants(**{**_values(base), **variants}))


def _values(instance: Any) -> dict[str, Any]:
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


def option_fields() -> list[Field[Any]]:
    """Every option as its dataclass field, the export variants flattened in, in order."""
    return [f for f in fields(SandboxOptions) if f.name != "variants"] + list(
        fields(ExportVariants)
    )


def _default(f: Field[Any]) -> Any:
    return f.default if f.default is not MISSING else None


def keyword_signature(positional: tuple[str, ...] = ()) -> inspect.Signature:
    """A signature (`self`, then every option as a keyword) for `Sandbox.__init__` and the like.

    So `inspect.signature(Sandbox)` and `help(Sandbox)` name the options without a second list.
    """
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    by_name = {f.name: f for f in option_fields()}
    for name in positional:
        f = by_name.pop(name)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=_default(f),
                annotation=f.type,
            )
        )
    for f in by_name.values():
        parameters.append(
            inspect.Parameter(
                f.name, inspect.Parameter.KEYWORD_ONLY, default=_default(f), annotation=f.type
            )
        )
    return inspect.Signature(parameters)


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per option (dest = the option's name), with the command's defaults."""
    for f in option_fields():
        flag: Flag = f.metadata["flag"]
        default = _default(f) if flag.serve_default is _SAME else flag.serve_default
        if isinstance(default, bool):
            action = "store_false" if default else "store_true"
            parser.add_argument(flag.name, dest=f.name, action=action, help=flag.help)
            continue
        shown = "" if default is None or flag.gather else f" (default: {default})"
        kwargs: dict[str, Any] = {"dest": f.name, "help": flag.help + shown}
        if flag.parse is not None:
            kwargs["type"] = flag.parse
        if flag.choices is not None:
            kwargs["choices"] = flag.choices
        if flag.metavar is not None:
            kwargs["metavar"] = flag.metavar
        if flag.gather is not None:
            kwargs.update(action="append", default=[])
        else:
            kwargs["default"] = default
        parser.add_argument(flag.name, **kwargs)


def serve_keywords(arguments: argparse.Namespace) -> dict[str, Any]:
    """The `Sandbox(...)` keywords the parsed `serve` flags ask for."""
    keywords: dict[str, Any] = {}
    for f in option_fields():
        value = getattr(arguments, f.name)
        gather = f.metadata["flag"].gather
        keywords[f.name] = gather(value) if gather is not None else value
    return keywords
