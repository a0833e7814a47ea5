//! JSON bodies into typed values, with errors naming the field at fault
//! (`records[3].verdict: unknown variant ...`).

use crate::error::ServerError;
use serde::Deserialize;

/// Deserializes JSON, naming the path of the field at fault.
pub fn parse_json<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, ServerError> {
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
