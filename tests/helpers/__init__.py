"""What tests import: servers, clients, command runs and ground truth, shared by the folders.

The tests are on one axis: a folder per package (`api`, `tap`, `target`, `sandbox`, `dbt`) and
one end-to-end folder (`e2e`; those that run Meltano in `e2e/meltano`, run one at a time).
Fixtures stay in conftest files (pytest finds them there); everything a test module imports by
name lives here, so no test imports a conftest or another test module, and the test folders
hold only tests (tests/test_architecture.py checks all three):

- `tap_runs` (tap-emarsys in-process, its output by kind), `truth` (ground truth in the tap's
  shape), `dbt_truth` (what the dbt marts must say, from that ground truth), `target_run`
  (Singer messages, target-emarsys in-process with `recording_client.RecordingClient` or
  against a sandbox), `clients` (EmarsysClient for a sandbox), `commands` (what a command run
  printed);
- `sandbox_http` (a sandbox over HTTP with the tests' own WSSE signer, export cells typed),
  `sftp` (a real SFTP server), `proxy` (a proxy in front of a sandbox that changes replies),
  `ports`;
- `loaders` (third-party Singer targets in venvs of their own; `python -m tests.helpers.loaders`
  builds them), `postgres_server` (a throwaway PostgreSQL server), `pipeline` (`tap-emarsys |
  <loader>` as two processes, the tap's output kept); `meltano` (the `meltano` command against a
  sandbox, and the `dev` environment's tap settings); `plugin_definitions` (the `plugins/` files
  and `meltano.yml` from `--about`; `python -m tests.helpers.plugin_definitions` rewrites them).
"""
