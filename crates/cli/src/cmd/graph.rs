//! `bulkhead graph`: the connection graph as JSON, Graphviz dot, or Mermaid.

use super::client::{Client, ClientArgs, query};
use bulkhead_api::{Graph, GraphEdge, GraphNode, NodeKind, Verdict};
use clap::{Args, ValueEnum};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Json,
    Dot,
    Mermaid,
}

#[derive(Args)]
pub struct GraphArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Only the edges of this workload (namespace/name) or address.
    #[arg(long)]
    workload: Option<String>,
    /// Only edges with a workload of this namespace on either side.
    #[arg(long)]
    namespace: Option<String>,
    #[arg(long, value_parser = |s: &str| s.parse::<Verdict>())]
    verdict: Option<Verdict>,
    /// Only edges with traffic in this last duration (`15m`) or since an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    output: GraphFormat,
}

pub fn run(args: GraphArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let q = query(&[
        ("workload", args.workload),
        ("namespace", args.namespace),
        ("verdict", args.verdict.map(|v| v.to_string())),
        ("since", args.since),
    ]);
    let graph: Graph = client.get(&format!("{}{q}", bulkhead_api::paths::GRAPH))?;
    let text = match args.output {
        GraphFormat::Json => serde_json::to_string_pretty(&graph)?,
        GraphFormat::Dot => dot(&graph),
        GraphFormat::Mermaid => mermaid(&graph),
    };
    println!("{text}");
    Ok(())
}

fn label(e: &GraphEdge) -> String {
    format!(
        "{}/{} {} ({} pkts)",
        e.port, e.protocol, e.verdict, e.packets
    )
}

fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Allowed => "darkgreen",
        Verdict::Denied => "red",
        Verdict::WouldDeny => "orange",
    }
}

/// Nodes by group id, in the order the groups are listed.
fn by_group(g: &Graph) -> BTreeMap<&str, Vec<&GraphNode>> {
    let mut out: BTreeMap<&str, Vec<&GraphNode>> = BTreeMap::new();
    for n in &g.nodes {
        out.entry(n.group.as_str()).or_default().push(n);
    }
    out
}

/// Graphviz: one cluster per namespace, nested clusters per app.
pub fn dot(g: &Graph) -> String {
    let mut o =
        String::from("digraph bulkhead {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    let nodes = by_group(g);
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let write_group = |o: &mut String, id: &str, indent: &str| {
        for n in nodes.get(id).into_iter().flatten() {
            let shape = if n.kind == NodeKind::External {
                ", shape=ellipse"
            } else {
                ""
            };
            let _ = writeln!(o, "{indent}{} [label={}{shape}];", q(&n.id), q(&n.id));
        }
    };
    for top in g.groups.iter().filter(|gr| gr.parent.is_none()) {
        let _ = writeln!(
            o,
            "  subgraph {} {{\n    label={};",
            q(&format!("cluster_{}", top.id)),
            q(&top.label)
        );
        write_group(&mut o, &top.id, "    ");
        for inner in g
            .groups
            .iter()
            .filter(|gr| gr.parent.as_deref() == Some(&top.id))
        {
            let _ = writeln!(
                o,
                "    subgraph {} {{\n      label={};",
                q(&format!("cluster_{}", inner.id)),
                q(&inner.label)
            );
            write_group(&mut o, &inner.id, "      ");
            o.push_str("    }\n");
        }
        o.push_str("  }\n");
    }
    for e in &g.edges {
        let _ = writeln!(
            o,
            "  {} -> {} [label={}, color={}];",
            q(&e.source),
            q(&e.destination),
            q(&label(e)),
            colour(e.verdict)
        );
    }
    o.push('}');
    o
}

/// Mermaid flowchart: subgraphs per namespace and app; node ids are made safe.
pub fn mermaid(g: &Graph) -> String {
    let mut o = String::from("flowchart LR\n");
    let ids: BTreeMap<&str, String> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), format!("n{i}")))
        .collect();
    let nodes = by_group(g);
    let text = |s: &str| s.replace('"', "#quot;");
    let write_nodes = |o: &mut String, group: &str, indent: &str| {
        for n in nodes.get(group).into_iter().flatten() {
            let id = &ids[n.id.as_str()];
            let _ = writeln!(o, "{indent}{id}[\"{}\"]", text(&n.id));
        }
    };
    for (i, top) in g
        .groups
        .iter()
        .enumerate()
        .filter(|(_, gr)| gr.parent.is_none())
    {
        let _ = writeln!(o, "  subgraph g{i}[\"{}\"]", text(&top.label));
        write_nodes(&mut o, &top.id, "    ");
        for (j, inner) in g
            .groups
            .iter()
            .enumerate()
            .filter(|(_, gr)| gr.parent.as_deref() == Some(&top.id))
        {
            let _ = writeln!(o, "    subgraph g{j}[\"{}\"]", text(&inner.label));
            write_nodes(&mut o, &inner.id, "      ");
            o.push_str("    end\n");
        }
        o.push_str("  end\n");
    }
    // linkStyle counts links in the order written, so count only those written.
    let mut links = 0;
    for e in &g.edges {
        let (Some(s), Some(d)) = (ids.get(e.source.as_str()), ids.get(e.destination.as_str()))
        else {
            continue;
        };
        let arrow = if e.verdict == Verdict::Allowed {
            "-->"
        } else {
            "-.->"
        };
        let _ = writeln!(o, "  {s} {arrow}|\"{}\"| {d}", text(&label(e)));
        let _ = writeln!(o, "  linkStyle {links} stroke:{}", colour(e.verdict));
        links += 1;
    }
    o
}
