//! The control plane: axum handlers, SQLite store, connection graph, learning.
