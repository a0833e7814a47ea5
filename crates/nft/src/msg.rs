//! Netlink messages and attributes, written straight into one buffer: the whole batch is
//! a single `Vec<u8>` that goes to the kernel in one `send`.

use crate::sys;

/// A batch of nf_tables messages framed by BATCH_BEGIN/BATCH_END: one transaction.
pub struct Batch {
    buf: Vec<u8>,
    next_seq: u32,
    /// What each message does, by sequence number offset, for error messages.
    what: Vec<String>,
    first_seq: u32,
}

impl Batch {
    /// Starts a batch whose messages are numbered from `first_seq`.
    pub fn new(first_seq: u32) -> Batch {
        let mut b = Batch {
            buf: Vec::with_capacity(1 << 16),
            next_seq: first_seq,
            what: Vec::new(),
            first_seq,
        };
        b.header(
            sys::NFNL_MSG_BATCH_BEGIN,
            sys::NLM_F_REQUEST,
            0,
            "begin the transaction",
        );
        b.buf
            .extend_from_slice(&sys::NFNL_SUBSYS_NFTABLES.to_be_bytes()[..]);
        b.end_header_fix();
        b
    }

    /// Messages written apart (on another thread), to [`Batch::append`] to a batch
    /// later: no BATCH_BEGIN, numbered from 0 until appended.
    pub fn fragment() -> Batch {
        Batch {
            buf: Vec::new(),
            next_seq: 0,
            what: Vec::new(),
            first_seq: 0,
        }
    }

    /// Appends a [`Batch::fragment`]'s messages, renumbered to follow this batch's.
    pub fn append(&mut self, mut f: Batch) {
        let mut at = 0;
        while at + 16 <= f.buf.len() {
            let len = u32::from_ne_bytes([f.buf[at], f.buf[at + 1], f.buf[at + 2], f.buf[at + 3]]);
            f.buf[at + 8..at + 12].copy_from_slice(&self.next_seq.to_ne_bytes());
            self.next_seq += 1;
            // Messages are 4-byte aligned; a length below a header's would be our bug.
            at += (len as usize).max(16).div_ceil(4) * 4;
        }
        self.buf.extend_from_slice(&f.buf);
        self.what.append(&mut f.what);
    }

    /// Makes room for `bytes` more, at once.
    pub fn reserve(&mut self, bytes: usize) {
        self.buf.reserve(bytes);
    }

    /// Writes one nf_tables message for the `inet` family; `body` adds its attributes.
    /// The kernel answers a message only if it fails (with its sequence number); an
    /// acknowledgement per message would cost one socket buffer each, which a
    /// 100k-message batch cannot afford. Success is the commit's acknowledgement.
    pub fn msg(
        &mut self,
        kind: u16,
        flags: u16,
        what: impl Into<String>,
        body: impl FnOnce(&mut Attrs),
    ) {
        let ty = (sys::NFNL_SUBSYS_NFTABLES << 8) | kind;
        let flags = flags | sys::NLM_F_REQUEST;
        self.header(ty, flags, sys::NFPROTO_INET, what);
        self.buf.extend_from_slice(&[0, 0]); // res_id
        let start = self.current_start();
        body(&mut Attrs { buf: &mut self.buf });
        self.patch_len(start);
    }

    /// Closes the batch and returns its bytes. The end message asks for an
    /// acknowledgement: the kernel (6.10 and later) sends it once the transaction is
    /// committed, so it proves the whole batch is in force.
    pub fn finish(mut self) -> Finished {
        let flags = sys::NLM_F_REQUEST | sys::NLM_F_ACK;
        self.header(sys::NFNL_MSG_BATCH_END, flags, 0, "commit the transaction");
        self.buf
            .extend_from_slice(&sys::NFNL_SUBSYS_NFTABLES.to_be_bytes()[..]);
        self.end_header_fix();
        Finished {
            bytes: self.buf,
            first_seq: self.first_seq,
            what: self.what,
        }
    }

    /// nlmsghdr (length patched later) + nfgenmsg without its res_id.
    fn header(&mut self, ty: u16, flags: u16, family: u8, what: impl Into<String>) {
        self.what.push(what.into());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&self.next_seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        self.buf.extend_from_slice(&[family, 0]); // family, NFNETLINK_V0
        self.next_seq += 1;
    }

    fn current_start(&self) -> usize {
        // The message started 16 (nlmsghdr) + 4 (nfgenmsg) bytes before its attributes.
        self.buf.len() - 20
    }

    fn end_header_fix(&mut self) {
        let start = self.current_start();
        self.patch_len(start);
    }

    fn patch_len(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u32;
        self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// A finished batch: its bytes and what each message (by sequence number) does.
pub struct Finished {
    pub bytes: Vec<u8>,
    pub first_seq: u32,
    pub what: Vec<String>,
}

impl Finished {
    /// What the message with sequence number `seq` does, if it is in this batch.
    pub fn describe(&self, seq: u32) -> Option<&str> {
        let i = seq.checked_sub(self.first_seq)? as usize;
        self.what.get(i).map(String::as_str)
    }

    /// The sequence number of the commit (the batch end), whose acknowledgement
    /// proves the transaction is in force.
    pub fn commit_seq(&self) -> u32 {
        self.first_seq + self.what.len() as u32 - 1
    }
}

/// Appends attributes (type-length-value, 4-byte aligned) to a message.
pub struct Attrs<'a> {
    buf: &'a mut Vec<u8>,
}

impl Attrs<'_> {
    pub fn bytes(&mut self, ty: u16, value: &[u8]) {
        let len = 4 + value.len();
        // Attribute lengths are u16; every value written here is far smaller.
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
    }

    /// A big-endian u32, the encoding of nf_tables' numeric attributes.
    pub fn be32(&mut self, ty: u16, v: u32) {
        self.bytes(ty, &v.to_be_bytes());
    }

    pub fn be16(&mut self, ty: u16, v: u16) {
        self.bytes(ty, &v.to_be_bytes());
    }

    /// A NUL-terminated string.
    pub fn str(&mut self, ty: u16, s: &str) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self.buf[start + 2..start + 4].copy_from_slice(&ty.to_ne_bytes());
        self.pad();
    }

    /// A nested attribute holding whatever `f` writes.
    pub fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Attrs)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        f(&mut Attrs { buf: self.buf });
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        let ty = ty | sys::NLA_F_NESTED;
        self.buf[start + 2..start + 4].copy_from_slice(&ty.to_ne_bytes());
    }

    /// Bytes written since `mark` (see [`Attrs::mark`]); nests must stay below 64 KiB.
    pub fn since(&self, mark: usize) -> usize {
        self.buf.len() - mark
    }

    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_and_aligned() {
        let mut b = Batch::new(7);
        b.msg(sys::NEWTABLE, sys::NLM_F_CREATE, "add table", |a| {
            a.str(sys::TABLE_NAME, "abc");
            a.nest(sys::TABLE_USERDATA, |n| n.be32(1, 5));
        });
        let f = b.finish();
        // begin (20) + table msg (20 + 8 "abc\0" + 12 nest) + end (20).
        assert_eq!(f.bytes.len(), 20 + 40 + 20);
        let len = u32::from_ne_bytes([f.bytes[20], f.bytes[21], f.bytes[22], f.bytes[23]]);
        assert_eq!(len, 40);
        assert_eq!(f.describe(8), Some("add table"));
        assert_eq!(f.describe(9), Some("commit the transaction"));
        assert_eq!(f.commit_seq(), 9);
        // The nested attribute carries the NESTED flag.
        let nest_ty = u16::from_ne_bytes([f.bytes[50], f.bytes[51]]);
        assert_eq!(nest_ty, sys::TABLE_USERDATA | sys::NLA_F_NESTED);
    }
}
