//! Decoding a binary batch: a cursor over the body that never reads past its end and
//! names the field at fault. A body is untrusted input: every count is checked against
//! the bytes left before anything is allocated for it.

use super::{
    BatchView, DecodeError, HAS_INSTANCE, HAS_SEQUENCE, MAGIC, MIN_RECORD, RecordView, unzigzag,
};
use crate::flow::{IpProtocol, Verdict};
use crate::time::Timestamp;

pub(super) struct Reader<'a> {
    pub body: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    fn fail(&self, field: impl FnOnce() -> String, message: impl Into<String>) -> DecodeError {
        DecodeError {
            at: self.at,
            field: field(),
            message: message.into(),
        }
    }

    fn byte(&mut self, field: impl FnOnce() -> String) -> Result<u8, DecodeError> {
        let Some(&b) = self.body.get(self.at) else {
            return Err(self.fail(field, "the body ends here"));
        };
        self.at += 1;
        Ok(b)
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    fn varint(&mut self, field: impl Fn() -> String) -> Result<u64, DecodeError> {
        let start = self.at;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.body.get(self.at) else {
                self.at = start;
                return Err(self.fail(field, "the body ends inside a number"));
            };
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift == 63 && b > 1 {
                    break;
                }
                return Ok(v);
            }
        }
        self.at = start;
        Err(self.fail(field, "a number longer than 64 bits"))
    }

    fn str(&mut self, field: impl Fn() -> String) -> Result<&'a str, DecodeError> {
        let len = self.varint(&field)?;
        let left = self.body.len() - self.at;
        if len > left as u64 {
            return Err(self.fail(field, format!("{len} bytes claimed, {left} left")));
        }
        let body = self.body;
        let bytes = &body[self.at..self.at + len as usize];
        let s = std::str::from_utf8(bytes).map_err(|e| self.fail(&field, format!("{e}")))?;
        self.at += len as usize;
        Ok(s)
    }

    /// A count of items taking at least `min` bytes each, checked against what is left.
    fn count(&mut self, field: &str, min: usize) -> Result<usize, DecodeError> {
        let n = self.varint(|| field.to_string())?;
        let left = (self.body.len() - self.at) as u64;
        if n.saturating_mul(min as u64) > left {
            return Err(self.fail(
                || field.to_string(),
                format!("{n} claimed, but only {left} bytes are left"),
            ));
        }
        Ok(n as usize)
    }

    pub fn batch(mut self) -> Result<BatchView<'a>, DecodeError> {
        if !self.body.starts_with(MAGIC) {
            return Err(self.fail(
                || "magic".into(),
                "not a Bulkhead flow batch (expected \"BHF\" version 1)",
            ));
        }
        self.at = MAGIC.len();
        let flags = self.byte(|| "flags".into())?;
        if flags & !(HAS_INSTANCE | HAS_SEQUENCE) != 0 {
            self.at -= 1;
            return Err(self.fail(|| "flags".into(), format!("unknown flags {flags:#04x}")));
        }
        let mut view = BatchView::default();
        if flags & HAS_INSTANCE != 0 {
            view.instance = Some(self.str(|| "instance".into())?);
        }
        if flags & HAS_SEQUENCE != 0 {
            view.sequence = Some(self.varint(|| "sequence".into())?);
        }
        view.dropped_records = self.varint(|| "dropped_records".into())?;
        view.lost_events = self.varint(|| "lost_events".into())?;
        let n = self.count("strings", 1)?;
        view.strings.reserve(n);
        for i in 0..n {
            view.strings.push(self.str(|| format!("strings[{i}]"))?);
        }
        let n = self.count("records", MIN_RECORD)?;
        view.records.reserve(n);
        let mut prev = 0i64;
        for i in 0..n {
            let r = self.record(i, view.strings.len() as u64, prev)?;
            prev = r.first_seen.millis();
            view.records.push(r);
        }
        if self.at != self.body.len() {
            let extra = self.body.len() - self.at;
            return Err(self.fail(
                || "records".into(),
                format!("{extra} bytes after the last record"),
            ));
        }
        Ok(view)
    }

    fn record(&mut self, i: usize, strings: u64, prev: i64) -> Result<RecordView, DecodeError> {
        let f = |name: &'static str| move || format!("records[{i}].{name}");
        let name = |r: &mut Self, field: &'static str, offset: u64| {
            let start = r.at;
            let v = r.varint(f(field))?;
            if v >= strings + offset {
                r.at = start;
                return Err(r.fail(f(field), format!("string {v} of {strings}")));
            }
            Ok(v)
        };
        let source = name(self, "source", 0)? as u32;
        let destination = name(self, "destination", 0)? as u32;
        let rule = name(self, "rule", 1)?;
        let protocol = IpProtocol(self.byte(f("protocol"))?);
        let code = self.byte(f("verdict"))?;
        let Some(verdict) = Verdict::ALL.get(usize::from(code)).copied() else {
            self.at -= 1;
            return Err(self.fail(f("verdict"), format!("unknown verdict code {code}")));
        };
        let start = self.at;
        let port = self.varint(f("port"))?;
        let port = u16::try_from(port).map_err(|_| {
            self.at = start;
            self.fail(f("port"), format!("{port} is above 65535"))
        })?;
        let packets = self.varint(f("packets"))?;
        let bytes = self.varint(f("bytes"))?;
        let connections = self.varint(f("connections"))?;
        let first = prev.wrapping_add(unzigzag(self.varint(f("first_seen"))?));
        let last = first.wrapping_add(unzigzag(self.varint(f("last_seen"))?));
        Ok(RecordView {
            source,
            destination,
            rule: rule.checked_sub(1).map(|r| r as u32),
            protocol,
            port,
            verdict,
            packets,
            bytes,
            connections,
            first_seen: Timestamp(first),
            last_seen: Timestamp(last),
        })
    }
}
