"""What tap-emarsys and target-emarsys share as Singer connectors, so neither imports the other.

`emarsys_api` is the client (it knows nothing of Singer); this package is the thin Singer layer
both connectors put on it: the connection settings they declare in one wording
(`connection_settings`), the SFTP server settings both declare and parse the same way under
their own prefix (`sftp_settings`: the tap's `sftp_*`, the target's `rds_sftp_*`), the
command that prints the project's errors as one line instead of a traceback
(`command_errors`), which stream maps hand records on unchanged (`stream_maps`) and how a
SIGTERM or SIGINT ends the process for sure (`stop_signals`). It imports `emarsys_api` and
singer-sdk, never a connector.
"""
