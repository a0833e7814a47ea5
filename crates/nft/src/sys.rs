//! The nf_tables netlink ABI constants this crate uses, from the kernel's uapi headers
//! (`linux/netfilter/nf_tables.h`, `linux/netfilter/nfnetlink.h`, `linux/netlink.h`).
//! They are part of the kernel's stable ABI.

// Netlink header flags and types.
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_APPEND: u16 = 0x800;
pub const NLMSG_ERROR: u16 = 0x2;
pub const NLA_F_NESTED: u16 = 0x8000;
/// Socket options (SOL_NETLINK).
pub const SOL_NETLINK: i32 = 270;
pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;
/// Extended-ack attribute with the kernel's error text.
pub const NLMSGERR_ATTR_MSG: u16 = 1;

// nfnetlink.
pub const NFNL_SUBSYS_NFTABLES: u16 = 10;
pub const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
pub const NFNL_MSG_BATCH_END: u16 = 0x11;
pub const NFPROTO_INET: u8 = 1;
pub const NFPROTO_IPV4: u8 = 2;

// Message types (NFT_MSG_*).
pub const NEWTABLE: u16 = 0;
pub const DELTABLE: u16 = 2;
pub const NEWCHAIN: u16 = 3;
pub const DELCHAIN: u16 = 5;
pub const NEWRULE: u16 = 6;
pub const DELRULE: u16 = 8;
pub const NEWSET: u16 = 9;
pub const DELSET: u16 = 11;
pub const NEWSETELEM: u16 = 12;
pub const DELSETELEM: u16 = 14;

// Attributes.
pub const TABLE_NAME: u16 = 1;
pub const TABLE_USERDATA: u16 = 6;
pub const CHAIN_TABLE: u16 = 1;
pub const CHAIN_NAME: u16 = 3;
pub const CHAIN_HOOK: u16 = 4;
pub const CHAIN_POLICY: u16 = 5;
pub const CHAIN_TYPE: u16 = 7;
pub const HOOK_HOOKNUM: u16 = 1;
pub const HOOK_PRIORITY: u16 = 2;
pub const RULE_TABLE: u16 = 1;
pub const RULE_CHAIN: u16 = 2;
pub const RULE_EXPRESSIONS: u16 = 4;
pub const LIST_ELEM: u16 = 1;
pub const EXPR_NAME: u16 = 1;
pub const EXPR_DATA: u16 = 2;
pub const DATA_VALUE: u16 = 1;
pub const DATA_VERDICT: u16 = 2;
pub const VERDICT_CODE: u16 = 1;
pub const VERDICT_CHAIN: u16 = 2;
pub const SET_TABLE: u16 = 1;
pub const SET_NAME: u16 = 2;
pub const SET_FLAGS: u16 = 3;
pub const SET_KEY_TYPE: u16 = 4;
pub const SET_KEY_LEN: u16 = 5;
pub const SET_DATA_TYPE: u16 = 6;
pub const SET_DATA_LEN: u16 = 7;
pub const SET_DESC: u16 = 9;
pub const SET_DESC_SIZE: u16 = 1;
pub const SET_ID: u16 = 10;
pub const SET_USERDATA: u16 = 13;
/// libnftnl's set userdata TLV types and nft's byte order ids.
pub const UDATA_SET_KEYBYTEORDER: u8 = 0;
pub const UDATA_SET_DATABYTEORDER: u8 = 1;
pub const BYTEORDER_HOST_ENDIAN: u32 = 1;
pub const SET_DESC_CONCAT: u16 = 2;
pub const SET_FIELD_LEN: u16 = 1;
pub const SET_ELEM_LIST_TABLE: u16 = 1;
pub const SET_ELEM_LIST_SET: u16 = 2;
pub const SET_ELEM_LIST_ELEMENTS: u16 = 3;
pub const SET_ELEM_KEY: u16 = 1;
pub const SET_ELEM_DATA: u16 = 2;
pub const SET_ELEM_FLAGS: u16 = 3;

// Set flags and data types.
pub const SET_F_INTERVAL: u32 = 0x4;
pub const SET_F_MAP: u32 = 0x8;
pub const SET_F_CONCAT: u32 = 0x80;
pub const SET_ELEM_INTERVAL_END: u32 = 0x1;
pub const DATA_TYPE_VERDICT: u32 = 0xffff_ff00;
/// nft's userspace type ids (for `nft list` to print keys by name); a concatenation's
/// type is its parts' ids, 6 bits each.
pub const TYPE_IPADDR: u32 = 7;
pub const TYPE_INET_PROTO: u32 = 12;
pub const TYPE_INET_SERVICE: u32 = 13;
pub const TYPE_MARK: u32 = 19;
pub const TYPE_BITS: u32 = 6;

// Verdicts (signed, sent as be32).
pub const NF_DROP: i32 = 0;
pub const NF_ACCEPT: i32 = 1;
pub const NFT_JUMP: i32 = -3;
pub const NFT_GOTO: i32 = -4;
pub const NFT_RETURN: i32 = -5;

// Hooks.
pub const NF_INET_LOCAL_IN: u32 = 1;
pub const NF_INET_FORWARD: u32 = 2;
pub const NF_INET_LOCAL_OUT: u32 = 3;

// Registers: the verdict register, 128-bit register 1 and the 32-bit ones after it.
pub const REG_VERDICT: u32 = 0;
pub const REG_1: u32 = 1;
/// `REG32_01`: the 32-bit register after register 1's first word; concatenations use the ones after it.
pub const REG32_01: u32 = 9;

// Expressions' attributes.
pub const PAYLOAD_DREG: u16 = 1;
pub const PAYLOAD_BASE: u16 = 2;
pub const PAYLOAD_OFFSET: u16 = 3;
pub const PAYLOAD_LEN: u16 = 4;
pub const PAYLOAD_NETWORK_HEADER: u32 = 1;
pub const PAYLOAD_TRANSPORT_HEADER: u32 = 2;
pub const META_DREG: u16 = 1;
pub const META_KEY: u16 = 2;
pub const META_SREG: u16 = 3;
/// `meta mark`: the packet's mark (`skb->mark`), which NFLOG sends as `NFULA_MARK`.
pub const META_MARK: u32 = 3;
pub const META_NFPROTO: u32 = 15;
pub const META_L4PROTO: u32 = 16;
pub const CMP_SREG: u16 = 1;
pub const CMP_OP: u16 = 2;
pub const CMP_DATA: u16 = 3;
pub const CMP_EQ: u32 = 0;
pub const CMP_NEQ: u32 = 1;
pub const BITWISE_SREG: u16 = 1;
pub const BITWISE_DREG: u16 = 2;
pub const BITWISE_LEN: u16 = 3;
pub const BITWISE_MASK: u16 = 4;
pub const BITWISE_XOR: u16 = 5;
pub const CT_DREG: u16 = 1;
pub const CT_KEY: u16 = 2;
pub const CT_SREG: u16 = 4;
pub const CT_STATE: u32 = 0;
pub const CT_MARK: u32 = 3;
/// `ct state` bits (host byte order): established and related.
pub const CT_STATE_INVALID: u32 = 1;
pub const CT_STATE_ESTABLISHED: u32 = 1 << 1;
pub const CT_STATE_UNTRACKED: u32 = 1 << 6;
pub const CT_STATE_RELATED: u32 = 1 << 2;
pub const LOOKUP_SET: u16 = 1;
pub const LOOKUP_SREG: u16 = 2;
pub const LOOKUP_DREG: u16 = 3;
pub const IMMEDIATE_DREG: u16 = 1;
pub const IMMEDIATE_DATA: u16 = 2;
pub const LOG_GROUP: u16 = 1;
pub const LOG_PREFIX: u16 = 2;

/// `NFTNL_UDATA_TABLE_COMMENT`: the table comment `nft list` prints.
pub const UDATA_TABLE_COMMENT: u8 = 0;
