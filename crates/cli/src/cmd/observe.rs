//! `bulkhead observe`: recorded flows, then (with --follow) live ones, one JSON object
//! per line (or a table).

use super::client::{Client, ClientArgs, query};
use crate::output::Format;
use bulkhead_api::{Event, FlowPage, FlowRecord, Verdict};
use clap::Args;
use std::io::Write;

#[derive(Args)]
pub struct ObserveArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// After the recorded flows, print new ones as agents report them, until interrupted.
    #[arg(long)]
    follow: bool,
    /// Only flows from or to this workload (namespace/name) or address.
    #[arg(long)]
    workload: Option<String>,
    /// Only flows with a workload of this namespace on either side.
    #[arg(long)]
    namespace: Option<String>,
    #[arg(long, value_parser = parse_verdict)]
    verdict: Option<Verdict>,
    /// Only flows seen in this last duration (`15m`, `2h`) or since an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    output: Format,
}

fn parse_verdict(s: &str) -> Result<Verdict, String> {
    s.parse()
}

pub fn run(args: ObserveArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let filters = [
        ("workload", args.workload.clone()),
        ("namespace", args.namespace.clone()),
        ("verdict", args.verdict.map(|v| v.to_string())),
    ];
    let mut printer = Printer::new(args.output);
    let mut cursor: Option<u64> = None;
    loop {
        let mut pairs = filters.to_vec();
        pairs.push(("since", args.since.clone()));
        pairs.push(("limit", Some("10000".into())));
        pairs.push(("cursor", cursor.map(|c| c.to_string())));
        let page: FlowPage =
            client.get(&format!("{}{}", bulkhead_api::paths::FLOWS, query(&pairs)))?;
        for r in &page.records {
            printer.print(r)?;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    if !args.follow {
        return Ok(());
    }
    let path = format!("{}{}", bulkhead_api::paths::EVENTS, query(&filters));
    client.events(&path, |name, data| {
        if name == "flows" {
            if let Ok(Event::Flows { records, .. }) = serde_json::from_str::<Event>(data) {
                for r in &records {
                    printer.print(r)?;
                }
            }
        } else if name == "lagged" {
            eprintln!("observe: fell behind the server; some live flows were skipped");
        }
        Ok(true)
    })
}

struct Printer {
    format: Format,
    header: bool,
}

impl Printer {
    fn new(format: Format) -> Printer {
        Printer {
            format,
            header: false,
        }
    }

    /// Flushes after every record, so `--follow` output reaches pipes at once.
    fn print(&mut self, r: &FlowRecord) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Json => writeln!(out, "{}", serde_json::to_string(r)?)?,
            Format::Table => {
                if !self.header {
                    writeln!(
                        out,
                        "{:<24} {:<24} {:<9} {:<10} {:>8} {:>10}  {:<24}  RULE",
                        "SOURCE", "DESTINATION", "PORT", "VERDICT", "PACKETS", "BYTES", "LAST SEEN"
                    )?;
                    self.header = true;
                }
                let port = format!("{}/{}", r.port, r.protocol);
                let rule = r.rule.as_deref().unwrap_or("-");
                writeln!(
                    out,
                    "{:<24} {:<24} {:<9} {:<10} {:>8} {:>10}  {:<24}  {rule}",
                    r.source,
                    r.destination,
                    port,
                    r.verdict,
                    r.packets,
                    r.bytes,
                    r.last_seen.to_string()
                )?;
            }
        }
        out.flush()?;
        Ok(())
    }
}
