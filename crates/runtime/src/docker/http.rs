//! Just enough HTTP/1.1 over a unix socket for the Docker Engine API: `GET` with a
//! whole body (`Content-Length` or chunked), and a chunked stream read line by line
//! (`/events`). One connection per request (`Connection: close` for whole bodies): the
//! agent asks a few questions per inventory change, so keep-alive would buy nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Bodies larger than this are refused: an inventory listing is kilobytes.
const MAX_BODY: usize = 64 << 20;

/// A response whose head has been read; the body is read by the caller.
pub struct Response {
    pub status: u16,
    chunked: bool,
    length: Option<usize>,
    reader: BufReader<UnixStream>,
}

/// Sends `GET path` to the engine listening at `socket`.
pub fn get(socket: &Path, path: &str, timeout: Option<Duration>) -> std::io::Result<Response> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: bulkhead\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("not an HTTP status line: {:?}", line.trim_end())))?;
    let (mut chunked, mut length) = (false, None);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("the connection closed inside the response head".into()));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if name == "content-length" {
                length = value.parse().ok();
            }
        }
    }
    Ok(Response {
        status,
        chunked,
        length,
        reader,
    })
}

fn bad(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}

impl Response {
    /// The whole body.
    pub fn body(mut self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        if self.chunked {
            while let Some(chunk) = self.chunk()? {
                out.extend_from_slice(&chunk);
                if out.len() > MAX_BODY {
                    return Err(bad("response body too large".into()));
                }
            }
        } else if let Some(n) = self.length {
            if n > MAX_BODY {
                return Err(bad("response body too large".into()));
            }
            out.resize(n, 0);
            self.reader.read_exact(&mut out)?;
        } else {
            self.reader
                .by_ref()
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)?;
        }
        Ok(out)
    }

    /// The next chunk of a chunked body; `None` at its end.
    fn chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(bad("the connection closed inside a chunked body".into()));
        }
        let size = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| bad(format!("bad chunk size {:?}", line.trim_end())))?;
        if size > MAX_BODY {
            return Err(bad("chunk too large".into()));
        }
        let mut data = vec![0; size];
        self.reader.read_exact(&mut data)?;
        let mut crlf = [0u8; 2];
        self.reader.read_exact(&mut crlf)?;
        if size == 0 {
            return Ok(None);
        }
        Ok(Some(data))
    }

    /// Streams the body as lines (the engine writes one JSON object per event, but a
    /// chunk boundary need not fall on a line boundary), calling `f` for each.
    /// Returns when the body ends, `f` returns false, or reading fails.
    pub fn lines(mut self, mut f: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let data = if self.chunked {
                match self.chunk()? {
                    Some(d) => d,
                    None => return Ok(()),
                }
            } else {
                let buf = self.reader.fill_buf()?.to_vec();
                if buf.is_empty() {
                    return Ok(());
                }
                self.reader.consume(buf.len());
                buf
            };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = line.trim_ascii();
                if !line.is_empty() && !f(line) {
                    return Ok(());
                }
            }
            if pending.len() > MAX_BODY {
                return Err(bad("event line too long".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A one-shot server answering any request with `reply`.
    fn serve(tag: &str, reply: &'static [u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("bh-http-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(reply).unwrap();
        });
        path
    }

    #[test]
    fn bodies_by_length_and_by_chunks() {
        let p = serve("len", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
        let r = get(&p, "/x", None).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body().unwrap(), b"hello");
        let p = serve(
            "chunk",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        );
        let r = get(&p, "/x", None).unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.body().unwrap(), b"abcde");
    }

    #[test]
    fn lines_across_chunk_boundaries() {
        let p = serve(
            "lines",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n6\r\n:1}\n{}\r\n1\r\n\n\r\n0\r\n\r\n",
        );
        let mut seen = Vec::new();
        get(&p, "/events", None)
            .unwrap()
            .lines(|l| {
                seen.push(String::from_utf8_lossy(l).to_string());
                true
            })
            .unwrap();
        assert_eq!(seen, vec!["{\"a\":1}", "{}"]);
    }

    #[test]
    fn a_truncated_chunked_body_is_an_error() {
        let p = serve(
            "trunc",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc",
        );
        assert!(get(&p, "/x", None).unwrap().body().is_err());
    }
}
