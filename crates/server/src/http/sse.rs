//! `GET /api/v1/events`: live updates as Server-Sent Events, filtered like `/flows`.

use super::extract::{Auth, Params};
use crate::core::{Access, Core};
use crate::error::ServerError;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use bulkhead_api::{Event, FlowQuery};
use futures::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub async fn events(
    State(core): State<Arc<Core>>,
    auth: Auth,
    Params(q): Params<FlowQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ServerError> {
    core.authorize(auth.0.as_ref(), Access::Read)?;
    let rx = core.subscribe();
    let shutdown = core.watch_shutdown();
    let stream =
        futures::stream::unfold((rx, shutdown, q), |(mut rx, mut shutdown, q)| async move {
            loop {
                let next = tokio::select! {
                    r = rx.recv() => r,
                    _ = shutdown.wait_for(|s| *s) => return None,
                };
                let event = match next {
                    Ok(e) => filter(&e, &q),
                    Err(RecvError::Lagged(missed)) => Some(Event::Lagged { missed }),
                    Err(RecvError::Closed) => return None,
                };
                let Some(event) = event else { continue };
                // Serializing our own types cannot fail; skip rather than end the stream.
                let Ok(sse) = SseEvent::default().event(event.name()).json_data(&event) else {
                    continue;
                };
                return Some((Ok(sse), (rx, shutdown, q)));
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The event as this client asked for it: flow records and edges filtered, or nothing.
fn filter(e: &Event, q: &FlowQuery) -> Option<Event> {
    match e {
        Event::Flows { node, records } => {
            let records: Vec<_> = records.iter().filter(|r| q.matches(r)).cloned().collect();
            (!records.is_empty()).then(|| Event::Flows {
                node: node.clone(),
                records,
            })
        }
        Event::Edges { edges } => {
            let edges: Vec<_> = edges
                .iter()
                .filter(|e| q.matches(&e.to_record(None)))
                .cloned()
                .collect();
            (!edges.is_empty()).then_some(Event::Edges { edges })
        }
        other => Some(other.clone()),
    }
}
