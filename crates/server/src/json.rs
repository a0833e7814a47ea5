//! JSON bodies into typed values, with errors naming the field at fault
//! (`records[3].verdict: unknown variant ...`).

use crate::error::ServerError;
use serde::Deserialize;

/// Deserializes JSON, naming the path of the field at fault. Tracking the path costs
/// about as much as the parse itself, so it is done only for a body that failed: a
/// second parse, of a body that is answered with an error anyway.
pub fn parse_json<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ServerError> {
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let at = if path == "." {
                    String::new()
                } else {
                    format!("{path}: ")
                };
                ServerError::invalid(format!("{at}{inner}"))
            }
            _ => ServerError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })
}
