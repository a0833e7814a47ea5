//! Network labs: namespaces, veths, bridges, listeners and probes.
