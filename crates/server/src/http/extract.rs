//! Extractors that turn every bad input into a JSON error naming what is wrong: the
//! field (`records[3].verdict: unknown variant ...`), the query parameter, the header.
//! axum's own extractors answer in plain text; clients of a JSON API should never have
//! to parse that.

use crate::core::{Caller, Core};
use crate::error::ServerError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The caller, if the request carries a token. A token that is present but unknown is
/// refused here (401); a missing one is left to the core, which knows whether the call
/// is public.
pub struct Auth(pub Option<Caller>);

impl FromRequestParts<Arc<Core>> for Auth {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        core: &Arc<Core>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(Auth(None));
        };
        let text = value.to_str().map_err(|_| {
            ServerError::Unauthorized("the Authorization header is not text".into())
        })?;
        let token = text.strip_prefix("Bearer ").ok_or_else(|| {
            ServerError::Unauthorized("expected `Authorization: Bearer <token>`".into())
        })?;
        core.authenticate(token).map(|c| Auth(Some(c)))
    }
}

/// A JSON body: 415 without `Content-Type: application/json`, 413 over the route's
/// limit, 400 for broken JSON, 422 for JSON of the wrong shape.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<Core>> for JsonBody<T> {
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &Arc<Core>) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state).await?;
        crate::json::parse_json(&bytes).map(JsonBody)
    }
}

/// The media type of the body, without parameters (`charset=...`).
fn media_type(req: &Request) -> Option<&str> {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
}

async fn json_bytes(req: Request, state: &Arc<Core>) -> Result<Bytes, ServerError> {
    let json = media_type(&req).is_some_and(|v| v.eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ServerError::UnsupportedMediaType(
            "expected a body with `Content-Type: application/json`".into(),
        ));
    }
    body_bytes(req, state).await
}

async fn body_bytes(req: Request, state: &Arc<Core>) -> Result<Bytes, ServerError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status().as_u16() == 413 {
            ServerError::TooLarge(e.body_text())
        } else {
            ServerError::BadRequest(format!("cannot read the body: {}", e.body_text()))
        }
    })
}

/// A flow batch body, left unparsed: JSON, or the binary encoding of
/// [`bulkhead_api::wire`] (what agents send), chosen by `Content-Type`.
pub enum FlowBody {
    Json(Bytes),
    Wire(Bytes),
}

impl FromRequest<Arc<Core>> for FlowBody {
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &Arc<Core>) -> Result<Self, Self::Rejection> {
        let kind = media_type(&req).map(str::to_ascii_lowercase);
        match kind.as_deref() {
            Some("application/json") => body_bytes(req, state).await.map(FlowBody::Json),
            Some(bulkhead_api::wire::CONTENT_TYPE) => {
                body_bytes(req, state).await.map(FlowBody::Wire)
            }
            _ => Err(ServerError::UnsupportedMediaType(format!(
                "expected a body with `Content-Type: application/json` or `{}`",
                bulkhead_api::wire::CONTENT_TYPE
            ))),
        }
    }
}

/// Query parameters, 400 naming the parameter at fault.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(Params)
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ServerError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ServerError::BadRequest(format!("query: {inner}"))
        } else {
            ServerError::BadRequest(format!("query parameter `{path}`: {inner}"))
        }
    })
}

/// Path parameters, 400 if they do not parse.
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| ServerError::BadRequest(format!("path: {}", e.body_text())))
    }
}
