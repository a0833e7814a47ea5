//! The eBPF backend: TC programs loaded, attached, pinned and fed with maps; ring-buffer flow events.
