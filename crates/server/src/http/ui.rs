//! The web UI's static files (`web-ui/dist`), served at `/` when the server is started
//! with a UI directory. No token is needed for them: they hold no data; the UI calls the
//! API with the token it was given (in the URL's fragment, which browsers never send).

use crate::error::ServerError;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use std::path::{Component, Path, PathBuf};

/// Answers a request no API route took: a file of `dir`, or `index.html` for paths
/// without an extension (the UI routes those itself), or a JSON 404.
pub async fn serve(dir: PathBuf, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/") || !matches!(*req.method(), Method::GET | Method::HEAD) {
        return super::no_route(req).await.into_response();
    }
    let Some(relative) = safe_relative(&path) else {
        return ServerError::NotFound(format!("no file {path}")).into_response();
    };
    let mut file = dir.join(&relative);
    if relative.as_os_str().is_empty() || relative.extension().is_none() {
        file = dir.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let ct = HeaderValue::from_static(content_type(&file));
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(_) => ServerError::NotFound(format!("no file {path}")).into_response(),
    }
}

/// The request path as a relative path with only normal components: `..`, roots and
/// prefixes are refused, so nothing outside the UI directory can be read.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path.trim_start_matches('/'));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_directory() {
        assert_eq!(
            safe_relative("/assets/app.js"),
            Some(PathBuf::from("assets/app.js"))
        );
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/a/../../x"), None);
    }
}
