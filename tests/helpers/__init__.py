"""What tests import: servers, clients, command runs and ground truth, shared by the folders.

The tests are on one axis: a folder per package (`api`, `tap`, `target`, `sandbox`, `dbt`) and
end-to-end folders (`e2e`, `meltano`, `warehouse`). Fixtures stay in conftest files (pytest finds
them there); everything a test module imports by name lives here, so no test imports a conftest:

- `tap_runs` (tap-emarsys in-process, its output by kind), `truth` (ground truth in the tap's
  shape), `target_run` (Singer messages, target-emarsys in-process with
  `recording_client.RecordingClient`), `clients` (EmarsysClient for a sandbox), `commands`
  (what a command run printed);
- `sandbox_http` (a sandbox over HTTP with the tests' own WSSE signer), `sftp` (a real SFTP
  server), `proxy` (a proxy in front of a sandbox that changes replies), `ports`.
"""
