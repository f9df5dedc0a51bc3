"""One sink per destination kind: RDS tables, behavior events, contacts."""

from target_emarsys.sinks.behavior import BehaviorSink
from target_emarsys.sinks.contacts import ContactsSink
from target_emarsys.sinks.relational import RelationalSink
from target_emarsys.sinks.relational_files import RelationalFileSink

__all__ = ["BehaviorSink", "ContactsSink", "RelationalFileSink", "RelationalSink"]
