"""What tests import: servers, clients and ground truth shared by several test folders.

Fixtures stay in conftest files (pytest finds them there); everything a test module imports by
name lives here, so no test imports a conftest. `sandbox_http` calls a sandbox over HTTP with its
own WSSE signer; `sftp` is a real SFTP server on 127.0.0.1; `ports` finds a free port;
`target_run` builds Singer messages and runs target-emarsys in-process with
`recording_client.RecordingClient`.
"""
