"""target-emarsys: a Singer target that writes streams into an Emarsys account.

Each stream goes to one destination (`stream_destinations`): an RDS table (relational data,
by API requests or as CSV files over SFTP), behavior events (HDS) or contact upserts. Where a
concern lives:

- `target`: the settings, the sink class for each destination, and when STATE may leave
  (only once Emarsys has acknowledged every record before it).
- `sinks`: one sink per destination kind (`relational`, `relational_files`, `behavior`,
  `contacts`) on a shared base (`sinks.base`), writing through the run's `sinks.context`.
- `in_flight`: requests running in parallel, their key order, and the acknowledgement ledger
  and held STATE that follow them.
- `destinations`: the parsed `stream_destinations` setting.
- `values`, `validation`: record values in the forms Emarsys takes; record checks against
  the stream's schema.
- `reader`: Singer input, read a block at a time, its RECORDs handed on in runs of one
  stream; each bad line named by its number.
- `rejects`, `errors`: rows set aside under `on_record_error: log`; the target's own errors.
- `sdk_overrides`: every private singer-sdk member the target overrides (singer-sdk 0.54.x),
  pinned by `tests/target/test_sdk_guard.py`.

Talks to Emarsys only through `emarsys_api`; shares its command and connection settings with
tap-emarsys through `emarsys_singer`, never by importing the tap.
"""
