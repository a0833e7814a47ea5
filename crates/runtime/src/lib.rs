//! Workload sources behind one trait: lab, docker.
