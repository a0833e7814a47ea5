//! The node agent: inventory, desired policy, compile, apply; flows aggregated and shipped.
