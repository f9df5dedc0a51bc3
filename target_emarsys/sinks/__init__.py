"""One sink per destination kind: RDS tables, behavior events, contacts."""

from target_emarsys.sinks.behavior import BehaviorSink
from target_emarsys.sinks.contacts import ContactsSink
from target_emarsys.sinks.relational import RelationalSink

__all__ = ["BehaviorSink", "ContactsSink", "RelationalSink"]
