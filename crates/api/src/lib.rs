//! JSON types of the server API and the agent channel.
