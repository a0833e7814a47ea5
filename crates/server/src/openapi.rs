//! The OpenAPI 3 document of `/api/v1`, written by hand next to the routes it describes.
//! A test walks every documented path and method through the router, so a route renamed
//! in one place and not the other fails the build's tests.

use serde_json::{Value, json};

fn op(summary: &str, params: &[Value], body: Option<&str>, answer: &str, status: &str) -> Value {
    let mut o = json!({
        "summary": summary,
        "parameters": params,
        "responses": {
            status: {"description": "success", "content": {"application/json": {"schema": schema(answer)}}},
            "default": {"description": "error", "content": {"application/json": {"schema": schema("ErrorBody")}}}
        }
    });
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": schema(b)}}});
    }
    if summary.starts_with("[public]") {
        o["security"] = json!([]);
    }
    o
}

fn schema(name: &str) -> Value {
    match name.strip_suffix("[]") {
        Some(item) => {
            json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}})
        }
        None if name == "none" => json!({}),
        None => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

fn path(name: &str, what: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": what, "schema": {"type": "string"}})
}

fn query(name: &str, what: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": what, "schema": {"type": ty}})
}

fn flow_filters() -> Vec<Value> {
    vec![
        query(
            "workload",
            "records with this workload (or address) on either side",
            "string",
        ),
        query(
            "namespace",
            "records with a workload of this namespace on either side",
            "string",
        ),
        query("verdict", "allowed, denied or would-deny", "string"),
        query(
            "since",
            "a duration back from now (15m) or an RFC 3339 time",
            "string",
        ),
        query(
            "until",
            "a duration back from now or an RFC 3339 time",
            "string",
        ),
        query("limit", "page size, 1 to 10000 (default 1000)", "integer"),
        query("cursor", "next_cursor of the previous page", "integer"),
    ]
}

fn violation_filters() -> Vec<Value> {
    let mut f = flow_filters();
    f.retain(|p| p["name"] != "verdict");
    f
}

fn obj(props: &[&str]) -> Value {
    let p: serde_json::Map<String, Value> =
        props.iter().map(|k| (k.to_string(), json!({}))).collect();
    json!({"type": "object", "properties": p})
}

/// What `window` in a graph or flow page says (only with `since`/`until`): old windows
/// are answered by the hour, so the time covered can start earlier and end later.
fn covered_window() -> Value {
    json!({"type": "object",
           "description": "the time the counters cover: the asked window, widened to whole hours where it is older than the server's minute-by-minute memory",
           "properties": {"since": {"type": "string", "format": "date-time"},
                          "until": {"type": "string", "format": "date-time", "description": "absent: up to now"}}})
}

pub fn document() -> Value {
    let ns = path("namespace", "the workload's namespace");
    let wl = path("name", "the workload's name");
    let node = path("node", "the agent's node name");
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Bulkhead control plane", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Types: crate bulkhead-api. Every call needs `Authorization: Bearer <token>` unless marked public."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ErrorBody": obj(&["error", "details"]),
                "Health": obj(&["status", "version", "revision"]),
                "WorkloadInfo": obj(&["id", "labels", "namespace_labels", "ips", "ports", "node", "mode", "last_seen"]),
                "SetMode": obj(&["mode"]),
                "Session": obj(&["name", "role"]),
                "SelectingPolicy": obj(&["name", "kind", "ingress", "egress"]),
                "Revision": obj(&["revision"]),
                "FlowRecord": obj(&["source", "destination", "protocol", "port", "verdict", "rule", "packets", "bytes", "connections", "first_seen", "last_seen", "node"]),
                "FlowPage": obj(&["records", "next_cursor", "window"]),
                "FlowBatch": obj(&["instance", "sequence", "records", "dropped_records", "lost_events"]),
                "IngestResult": obj(&["accepted", "duplicate", "edges"]),
                "Graph": obj(&["nodes", "edges", "groups", "window"]),
                "CoveredWindow": covered_window(),
                "PolicyInfo": obj(&["name", "kind", "version", "source", "file", "created_at", "updated_at", "author"]),
                "ApplyRequest": obj(&["files", "dry_run"]),
                "DeleteRequest": obj(&["names"]),
                "ChangeResult": obj(&["revision", "policies"]),
                "ReplayRequest": obj(&["files", "since", "workload"]),
                "ReplayResult": obj(&["denied", "evaluated", "unresolved"]),
                "BaselineRequest": obj(&["workloads", "since", "until", "format", "outside_prefix"]),
                "BaselineResult": obj(&["format", "yaml", "baseline", "edges", "denied_edges"]),
                "ViolationPage": obj(&["violations", "next_cursor"]),
                "AuditPage": obj(&["entries", "next_cursor"]),
                "TokenInfo": obj(&["name", "role", "created_at", "created_by"]),
                "CreateToken": obj(&["name", "role"]),
                "CreatedToken": obj(&["name", "role", "token"]),
                "AgentInfo": obj(&["node", "status", "workloads", "last_seen", "in_sync"]),
                "AgentReport": obj(&["workloads", "cluster_cidrs", "host_ips", "status"]),
                "DesiredState": obj(&["revision", "policies", "modes", "default_mode", "inventory"])
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/health": {"get": op("[public] Readiness: 200 once the server answers", &[], None, "Health", "200")},
            "/api/v1/openapi.json": {"get": op("[public] This document", &[], None, "none", "200")},
            "/api/v1/workloads": {"get": op("All workloads the agents report", &[], None, "WorkloadInfo[]", "200")},
            "/api/v1/workloads/{namespace}/{name}": {"get": op("One workload", &[ns.clone(), wl.clone()], None, "WorkloadInfo", "200")},
            "/api/v1/workloads/{namespace}/{name}/mode": {"put": op("Set a workload's mode (learn, monitor, enforce)", &[ns.clone(), wl.clone()], Some("SetMode"), "Revision", "200")},
            "/api/v1/workloads/{namespace}/{name}/policies": {"get": op("The stored policies that select a workload, and the directions each isolates", &[ns, wl], None, "SelectingPolicy[]", "200")},
            "/api/v1/session": {"get": op("The caller's token name and role (any valid token)", &[], None, "Session", "200")},
            "/api/v1/flows": {"get": op("Flow records aggregated per edge, paged by edge id", &flow_filters(), None, "FlowPage", "200")},
            "/api/v1/graph": {"get": op("The connection graph", &flow_filters()[..4], None, "Graph", "200")},
            "/api/v1/policies": {
                "get": op("Every stored policy", &[], None, "PolicyInfo[]", "200"),
                "put": op("Apply policy files: validate, then create or update every policy they define, all or nothing", &[], Some("ApplyRequest"), "ChangeResult", "200"),
                "delete": op("Delete policies by name, all or nothing", &[], Some("DeleteRequest"), "ChangeResult", "200")
            },
            "/api/v1/policies/{name}": {
                "get": op("One policy (the name may hold a `/`)", &[path("name", "namespace/name or name")], None, "PolicyInfo", "200"),
                "delete": op("Delete one policy", &[path("name", "namespace/name or name")], None, "ChangeResult", "200")
            },
            "/api/v1/replay": {"post": op("Which recorded flows would these policy files deny? (stores nothing)", &[], Some("ReplayRequest"), "ReplayResult", "200")},
            "/api/v1/baseline": {"post": op("Learn a least-privilege policy set from the recorded flows of a window (native or kubernetes YAML, with each rule's evidence; stores nothing)", &[], Some("BaselineRequest"), "BaselineResult", "200")},
            "/api/v1/violations": {"get": op("Drift: recorded flows outside the policies in force (denied in enforce mode, would-deny in monitor mode), paged by edge id", &violation_filters(), None, "ViolationPage", "200")},
            "/api/v1/audit": {"get": op("The audit log, newest first", &[
                query("action", "e.g. policy.update", "string"), query("target", "a policy, workload or token name", "string"),
                query("since", "a duration back from now or an RFC 3339 time", "string"),
                query("limit", "1 to 1000 (default 100)", "integer"), query("cursor", "next_cursor of the previous page", "integer")
            ], None, "AuditPage", "200")},
            "/api/v1/events": {"get": {
                "summary": "Live updates (Server-Sent Events: flows, edges, policies, mode, workloads, agent, lagged)",
                "parameters": &flow_filters()[..3],
                "responses": {"200": {"description": "an event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
            }},
            "/api/v1/tokens": {
                "get": op("Tokens (admin only)", &[], None, "TokenInfo[]", "200"),
                "post": op("Create a token (admin only); its text is shown once", &[], Some("CreateToken"), "CreatedToken", "201")
            },
            "/api/v1/tokens/{name}": {"delete": {
                "summary": "Delete a token (admin only)", "parameters": [path("name", "the token's name")],
                "responses": {"204": {"description": "deleted"}, "default": {"description": "error", "content": {"application/json": {"schema": schema("ErrorBody")}}}}
            }},
            "/api/v1/agents": {"get": op("Agents and their status", &[], None, "AgentInfo[]", "200")},
            "/api/v1/agents/{node}": {"put": op("Agent report: the node's workloads and the agent's status", std::slice::from_ref(&node), Some("AgentReport"), "Revision", "200")},
            "/api/v1/agents/{node}/desired": {"get": {
                "summary": "Long poll for the desired state: at once if revision > after, else when it moves, else 204 after `wait` seconds",
                "parameters": [node.clone(), query("after", "the revision the agent has", "integer"), query("wait", "seconds to wait, at most 300 (default 30)", "integer")],
                "responses": {"200": {"description": "the desired state", "content": {"application/json": {"schema": schema("DesiredState")}}},
                              "204": {"description": "no change within `wait`"}}
            }},
            "/api/v1/agents/{node}/flows": {"post": flows_op(node)}
        }
    })
}

/// Flow batches take JSON or the binary encoding of `bulkhead_api::wire`.
fn flows_op(node: Value) -> Value {
    let mut o = op(
        "Ship a batch of flow records (up to 64 MiB); stored durably before the answer",
        &[node],
        Some("FlowBatch"),
        "IngestResult",
        "200",
    );
    o["requestBody"]["content"][bulkhead_api::wire::CONTENT_TYPE] = json!({
        "schema": {"type": "string", "format": "binary",
                   "description": "the binary encoding of FlowBatch (crates/api/src/wire): what agents send"}
    });
    o
}
