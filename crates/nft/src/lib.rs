//! The nftables backend: compiled rulesets applied over netlink in one batch; conntrack and NFLOG flow events.
