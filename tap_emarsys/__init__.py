"""tap-emarsys: a Singer tap that reads an Emarsys account (contacts, email data, lists, segments).

Where each concern lives: `tap` (settings, the stream list, the command), `streams` (the eleven
streams, declared), `export_stream` (the CSV export streams' base: units, layouts, bookmarks),
`json_stream` (the JSON endpoints' base), `export_runner` (exports built side by side, handed
back in order, re-requested when they fail), `records` (CSV rows to typed records, the value
converters), `contact_fields` (the account's fields), `account` (the run's settings and client),
`delivery_settings` (WebDAV/SFTP/notification settings), `join` and `members` (field groups and
contact ids), `windows` (time windows), `writer` (stdout), `state_file` (`--state` checks),
`report` (`--report`), and `sdk_overrides` (the only module touching private singer-sdk members).
"""
