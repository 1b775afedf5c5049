//! SECS-II item encoding (SEMI E5 §9): the item tree of a data message body, value access for
//! the GEM layer, and a bounded SML rendering for people.
//!
//! The parser is iterative: list nesting lives in a stack capped by `max_depth`, so a body of
//! 10,000 nested lists costs no recursion and stops at the cap. Items are kept as offsets into
//! the body in a caller-owned vector (reused across messages, no per-item allocation); a list
//! announcing more children than the remaining bytes could hold (each item takes at least two
//! bytes) is rejected before any child is read.

use std::fmt::Write as _;
use std::ops::Range;

code_newtype! {
    /// SECS-II format code: the upper six bits of the format byte (E5 §9.2.2, table 1; values
    /// below are the octal codes of the standard).
    Secs2Format(u8) {
        LIST = 0o00 => "L",
        BINARY = 0o10 => "B",
        BOOLEAN = 0o11 => "BOOLEAN",
        ASCII = 0o20 => "A",
        JIS8 = 0o21 => "J",
        /// 2-byte character / localized string; written `W` in our SML.
        LOCALIZED = 0o22 => "W",
        I8 = 0o30 => "I8",
        I1 = 0o31 => "I1",
        I2 = 0o32 => "I2",
        I4 = 0o34 => "I4",
        F8 = 0o40 => "F8",
        F4 = 0o44 => "F4",
        U8 = 0o50 => "U8",
        U1 = 0o51 => "U1",
        U2 = 0o52 => "U2",
        U4 = 0o54 => "U4",
    }
}

impl Secs2Format {
    /// Bytes per element, `None` for a list (whose length counts items).
    pub fn element_size(self) -> Option<usize> {
        match self {
            Secs2Format::LIST => None,
            Secs2Format::I2 | Secs2Format::U2 => Some(2),
            Secs2Format::I4 | Secs2Format::U4 | Secs2Format::F4 => Some(4),
            Secs2Format::I8 | Secs2Format::U8 | Secs2Format::F8 => Some(8),
            _ => Some(1),
        }
    }

    pub fn is_known(self) -> bool {
        self.name().is_some()
    }
}

/// Whether `b` is a possible first byte of an item: a defined format code and 1..=3 length
/// bytes.
pub fn format_byte_valid(b: u8) -> bool {
    b & 3 != 0 && Secs2Format(b >> 2).is_known()
}

code_newtype! {
    /// Encoding code at the start of a localized ("2-byte character") item (E5 §9.2.2).
    Secs2Encoding(u16) {
        UCS2 = 1 => "UCS-2",
        UTF8 = 2 => "UTF-8",
        ISO646 = 3 => "ISO 646",
        ISO8859_1 = 4 => "ISO 8859-1",
        ISO8859_11 = 5 => "ISO 8859-11",
        TIS620 = 6 => "TIS 620",
        IS13194 = 7 => "IS 13194",
        SHIFT_JIS = 8 => "Shift-JIS",
        EUC_JP = 9 => "EUC-JP",
        EUC_KR = 10 => "EUC-KR",
        GB = 11 => "GB",
        EUC_CN = 12 => "EUC-CN",
        BIG5 = 13 => "Big5",
        EUC_TW = 14 => "EUC-TW",
    }
}

/// One item of a parsed body, as offsets (no borrow, so the vector can be reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secs2Item {
    pub format: Secs2Format,
    /// Offset of the item's format byte in the body.
    pub start: usize,
    /// 0 for the root.
    pub depth: u16,
    /// Offset of the item's data (after the length bytes) in the body.
    pub offset: usize,
    /// List: number of children. Others: data bytes.
    pub len: usize,
    /// Index, in the item vector, just past this item's subtree.
    pub next: usize,
}

impl Secs2Item {
    pub fn data_range(&self) -> Range<usize> {
        if self.format == Secs2Format::LIST {
            self.offset..self.offset
        } else {
            self.offset..self.offset.saturating_add(self.len)
        }
    }

    /// Number of values of a non-list item (list: number of children).
    pub fn count(&self) -> usize {
        match self.format.element_size() {
            Some(n) if self.format == Secs2Format::LOCALIZED => self.len.saturating_sub(2) / n,
            Some(n) => self.len / n,
            None => self.len,
        }
    }
}

/// What is wrong with a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Secs2ErrorKind {
    #[error("format byte with zero length bytes")]
    NlbZero,
    #[error("unknown format code {code:o} (octal)")]
    UnknownFormat { code: u8 },
    #[error("length bytes run past the end of the body")]
    LengthBytesTruncated,
    #[error("item data runs past the end of the body")]
    ItemPastEnd,
    #[error("list of {count} items cannot fit in the remaining bytes")]
    ListCountExceedsBody { count: usize },
    #[error("item length {len} is not a multiple of the element size")]
    LengthNotMultiple { len: usize },
    #[error("list nesting deeper than the configured cap")]
    TooDeep,
    #[error("{count} bytes after the root item")]
    TrailingBytes { count: usize },
}

impl Secs2ErrorKind {
    /// Stable anomaly code.
    pub fn code(self) -> &'static str {
        match self {
            Secs2ErrorKind::NlbZero => "secs2_zero_length_bytes",
            Secs2ErrorKind::UnknownFormat { .. } => "bad_secs2_format_code",
            Secs2ErrorKind::LengthBytesTruncated | Secs2ErrorKind::ItemPastEnd => "secs2_item_exceeds_body",
            Secs2ErrorKind::ListCountExceedsBody { .. } => "secs2_list_count_exceeds_body",
            Secs2ErrorKind::LengthNotMultiple { .. } => "secs2_length_not_multiple",
            Secs2ErrorKind::TooDeep => "secs2_depth_exceeded",
            Secs2ErrorKind::TrailingBytes { .. } => "secs2_trailing_bytes",
        }
    }

    /// The error is what a correct body cut short would also give (used when checking a
    /// prefix while resynchronising).
    pub fn is_truncation(self) -> bool {
        matches!(
            self,
            Secs2ErrorKind::LengthBytesTruncated
                | Secs2ErrorKind::ItemPastEnd
                | Secs2ErrorKind::ListCountExceedsBody { .. }
        )
    }
}

/// A body error and the body offset of the item header where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at body offset {offset}")]
pub struct Secs2Error {
    pub kind: Secs2ErrorKind,
    pub offset: usize,
}

/// Counts of a parsed body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Secs2Summary {
    /// Items in the body (all of them, including those past `max_items`).
    pub n_items: usize,
    /// Items beyond `max_items` were counted but not kept in the vector.
    pub items_capped: bool,
    /// Deepest nesting seen.
    pub max_depth: usize,
}

struct ItemHeader {
    format: Secs2Format,
    len: usize,
    header_len: usize,
    /// Bytes per element (1 for a list, whose length counts items).
    elem: usize,
}

/// Per 6-bit format code: 0 when E5 does not define it, else its element size in bytes (1 for
/// a list). One lookup per item instead of two matches on the hot path.
const FORMAT_ELEM: [u8; 64] = {
    let mut t = [0u8; 64];
    let defined: [(Secs2Format, u8); 16] = [
        (Secs2Format::LIST, 1),
        (Secs2Format::BINARY, 1),
        (Secs2Format::BOOLEAN, 1),
        (Secs2Format::ASCII, 1),
        (Secs2Format::JIS8, 1),
        (Secs2Format::LOCALIZED, 1),
        (Secs2Format::I8, 8),
        (Secs2Format::I1, 1),
        (Secs2Format::I2, 2),
        (Secs2Format::I4, 4),
        (Secs2Format::F8, 8),
        (Secs2Format::F4, 4),
        (Secs2Format::U8, 8),
        (Secs2Format::U1, 1),
        (Secs2Format::U2, 2),
        (Secs2Format::U4, 4),
    ];
    let mut i = 0;
    while i < defined.len() {
        t[defined[i].0 .0 as usize] = defined[i].1;
        i += 1;
    }
    t
};

fn parse_item_header(body: &[u8], pos: usize) -> Result<ItemHeader, Secs2Error> {
    let err = |kind| Secs2Error { kind, offset: pos };
    let Some(&fb) = body.get(pos) else {
        return Err(err(Secs2ErrorKind::ItemPastEnd));
    };
    let nlb = usize::from(fb & 3);
    if nlb == 0 {
        return Err(err(Secs2ErrorKind::NlbZero));
    }
    let format = Secs2Format(fb >> 2);
    let elem = usize::from(FORMAT_ELEM.get(usize::from(format.0)).copied().unwrap_or(0));
    if elem == 0 {
        return Err(err(Secs2ErrorKind::UnknownFormat { code: format.0 }));
    }
    let Some(lb) = body.get(pos + 1..pos + 1 + nlb) else {
        return Err(err(Secs2ErrorKind::LengthBytesTruncated));
    };
    let len = lb.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok(ItemHeader { format, len, header_len: 1 + nlb, elem })
}

/// Lists opened and not yet complete while parsing: per list, the children still to read and
/// its index in the item vector. The first [`OpenLists::INLINE`] levels live inline, so usual
/// bodies parse without allocating; deeper nesting (bounded by `max_depth`) goes to the heap.
struct OpenLists {
    inline: [(usize, usize); OpenLists::INLINE],
    n_inline: usize,
    deeper: Vec<(usize, usize)>,
}

impl OpenLists {
    const INLINE: usize = 8;

    fn new() -> Self {
        OpenLists { inline: [(0, 0); OpenLists::INLINE], n_inline: 0, deeper: Vec::new() }
    }

    fn len(&self) -> usize {
        self.n_inline + self.deeper.len()
    }

    fn is_empty(&self) -> bool {
        self.n_inline == 0
    }

    fn push(&mut self, e: (usize, usize)) {
        match self.inline.get_mut(self.n_inline) {
            Some(slot) => {
                *slot = e;
                self.n_inline += 1;
            }
            None => self.deeper.push(e),
        }
    }

    fn last_mut(&mut self) -> Option<&mut (usize, usize)> {
        if !self.deeper.is_empty() {
            return self.deeper.last_mut();
        }
        let i = self.n_inline.checked_sub(1)?;
        self.inline.get_mut(i)
    }

    fn pop(&mut self) {
        if self.deeper.pop().is_none() {
            self.n_inline = self.n_inline.saturating_sub(1);
        }
    }
}

/// Parses a whole body (one root item; an empty body is a header-only message and yields no
/// item) into `items` (cleared first), in pre-order.
///
/// `max_depth` bounds list nesting (0 allows only a scalar root); `max_items` bounds what is
/// kept in `items` (parsing and validation continue past it). On error, `items` holds what
/// was parsed before the error.
pub fn parse_secs2(
    body: &[u8],
    max_depth: usize,
    max_items: usize,
    items: &mut Vec<Secs2Item>,
) -> Result<Secs2Summary, Secs2Error> {
    items.clear();
    let mut summary = Secs2Summary::default();
    if body.is_empty() {
        return Ok(summary);
    }
    // Per open list: children still to read and its index in `items` (usize::MAX once items
    // are capped). Bounded by max_depth.
    let mut stack = OpenLists::new();
    let mut pos = 0usize;
    loop {
        let h = parse_item_header(body, pos)?;
        let data_start = pos + h.header_len;
        let remaining = body.len().saturating_sub(data_start);
        let depth = stack.len();
        let idx = if items.len() < max_items {
            items.push(Secs2Item {
                format: h.format,
                start: pos,
                depth: u16::try_from(depth).unwrap_or(u16::MAX),
                offset: data_start,
                len: h.len,
                next: 0,
            });
            items.len() - 1
        } else {
            summary.items_capped = true;
            usize::MAX
        };
        summary.n_items += 1;
        summary.max_depth = summary.max_depth.max(depth);
        let mut completed = true;
        if h.format == Secs2Format::LIST {
            pos = data_start;
            if h.len > 0 {
                if h.len > remaining / 2 {
                    return Err(Secs2Error {
                        kind: Secs2ErrorKind::ListCountExceedsBody { count: h.len },
                        offset: data_start - h.header_len,
                    });
                }
                if depth >= max_depth {
                    return Err(Secs2Error {
                        kind: Secs2ErrorKind::TooDeep,
                        offset: data_start - h.header_len,
                    });
                }
                stack.push((h.len, idx));
                completed = false;
            }
        } else {
            let elem = h.elem;
            let bad_len = if h.format == Secs2Format::LOCALIZED {
                // A non-empty localized item starts with its 2-byte encoding code.
                h.len == 1
            } else {
                h.len % elem != 0
            };
            if bad_len {
                return Err(Secs2Error {
                    kind: Secs2ErrorKind::LengthNotMultiple { len: h.len },
                    offset: pos,
                });
            }
            if h.len > remaining {
                return Err(Secs2Error { kind: Secs2ErrorKind::ItemPastEnd, offset: pos });
            }
            pos = data_start + h.len;
        }
        if completed {
            set_next(items, idx);
            // Close every list whose last child this was.
            while let Some(top) = stack.last_mut() {
                top.0 -= 1;
                if top.0 > 0 {
                    break;
                }
                let list_idx = top.1;
                stack.pop();
                set_next(items, list_idx);
            }
            if stack.is_empty() {
                break;
            }
        }
    }
    if pos < body.len() {
        return Err(Secs2Error {
            kind: Secs2ErrorKind::TrailingBytes { count: body.len() - pos },
            offset: pos,
        });
    }
    Ok(summary)
}

/// Whether `avail`, the first bytes of a body of `total_len` bytes, is consistent with a valid
/// body: a complete body must parse; a prefix may only fail by running out of bytes.
pub fn body_prefix_valid(
    avail: &[u8],
    total_len: usize,
    max_depth: usize,
    items: &mut Vec<Secs2Item>,
) -> bool {
    let complete = avail.len() >= total_len;
    // Only the validation matters here: keep few items.
    match parse_secs2(avail, max_depth, 256, items) {
        Ok(_) => complete,
        Err(e) => !complete && e.kind.is_truncation(),
    }
}

fn set_next(items: &mut [Secs2Item], idx: usize) {
    let n = items.len();
    if let Some(it) = items.get_mut(idx) {
        it.next = n;
    }
}

/// A parsed body: the bytes and the items over them.
#[derive(Clone, Copy, Debug)]
pub struct Secs2Tree<'a> {
    pub body: &'a [u8],
    pub items: &'a [Secs2Item],
}

/// Index of an item in a [`Secs2Tree`].
pub type ItemRef = usize;

impl<'a> Secs2Tree<'a> {
    pub fn new(body: &'a [u8], items: &'a [Secs2Item]) -> Self {
        Secs2Tree { body, items }
    }

    pub fn root(&self) -> Option<ItemRef> {
        if self.items.is_empty() {
            None
        } else {
            Some(0)
        }
    }

    pub fn item(&self, r: ItemRef) -> Option<&'a Secs2Item> {
        self.items.get(r)
    }

    pub fn format(&self, r: ItemRef) -> Option<Secs2Format> {
        self.item(r).map(|i| i.format)
    }

    /// Data bytes of a non-list item.
    pub fn data(&self, r: ItemRef) -> Option<&'a [u8]> {
        let it = self.item(r)?;
        if it.format == Secs2Format::LIST {
            return None;
        }
        self.body.get(it.data_range())
    }

    /// Children of a list (empty for other items). Stops early when items were capped.
    pub fn children(&self, r: ItemRef) -> Children<'a> {
        let (next, left) = match self.item(r) {
            Some(it) if it.format == Secs2Format::LIST => (r + 1, it.len),
            _ => (r + 1, 0),
        };
        Children { items: self.items, next, left }
    }

    /// The list's children if it is a list of exactly `n` items.
    pub fn list_of(&self, r: ItemRef, n: usize) -> Option<Vec<ItemRef>> {
        let it = self.item(r)?;
        if it.format != Secs2Format::LIST || it.len != n {
            return None;
        }
        let v: Vec<ItemRef> = self.children(r).collect();
        (v.len() == n).then_some(v)
    }

    /// The list's children if it is a list of exactly `N` items, without allocating.
    pub fn list_array<const N: usize>(&self, r: ItemRef) -> Option<[ItemRef; N]> {
        let it = self.item(r)?;
        if it.format != Secs2Format::LIST || it.len != N {
            return None;
        }
        let mut out = [0; N];
        let mut kids = self.children(r);
        for slot in &mut out {
            *slot = kids.next()?;
        }
        Some(out)
    }

    /// Number of children of a list item.
    pub fn list_len(&self, r: ItemRef) -> Option<usize> {
        let it = self.item(r)?;
        (it.format == Secs2Format::LIST).then_some(it.len)
    }

    /// A single unsigned value: U1..U8, a non-negative I1..I8, B or BOOLEAN of one byte.
    pub fn uint(&self, r: ItemRef) -> Option<u64> {
        match self.scalar(r)? {
            Scalar::U(v) => Some(v),
            Scalar::I(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// A single byte-sized code (acks and flags): B[1], U1, BOOLEAN[1], or a small integer.
    pub fn code(&self, r: ItemRef) -> Option<u8> {
        match self.scalar(r)? {
            Scalar::Bool(b) => Some(u8::from(b)),
            Scalar::U(v) => u8::try_from(v).ok(),
            Scalar::I(v) => u8::try_from(v).ok(),
            _ => None,
        }
    }

    /// Text of an A, J or localized item; other items give `None`.
    pub fn text(&self, r: ItemRef) -> Option<String> {
        let it = self.item(r)?;
        let d = self.data(r)?;
        match it.format {
            Secs2Format::ASCII => Some(ascii_text(d)),
            Secs2Format::JIS8 => Some(jis8_text(d)),
            Secs2Format::LOCALIZED => Some(localized_text(d).1),
            _ => None,
        }
    }

    /// The body bytes of an item's whole encoding (format byte to end of data; for a list,
    /// to the end of the body).
    pub fn encoding(&self, r: ItemRef) -> Option<&'a [u8]> {
        let it = self.item(r)?;
        self.body.get(it.start..)
    }

    /// A single value of a one-element item.
    pub fn scalar(&self, r: ItemRef) -> Option<Scalar> {
        let it = self.item(r)?;
        let d = self.data(r)?;
        let f = it.format;
        let text = matches!(f, Secs2Format::ASCII | Secs2Format::JIS8 | Secs2Format::LOCALIZED);
        // Numbers and codes: exactly one element.
        if !text && f.element_size()? != d.len() {
            return None;
        }
        Some(match f {
            Secs2Format::BINARY | Secs2Format::U1 => Scalar::U(u64::from(*d.first()?)),
            Secs2Format::BOOLEAN => Scalar::Bool(*d.first()? != 0),
            Secs2Format::U2 | Secs2Format::U4 | Secs2Format::U8 => Scalar::U(be_u64(d)),
            Secs2Format::I1 | Secs2Format::I2 | Secs2Format::I4 | Secs2Format::I8 => Scalar::I(be_i64(d)),
            Secs2Format::F4 => Scalar::F(f64::from(f32::from_bits(be_u64(d) as u32))),
            Secs2Format::F8 => Scalar::F(f64::from_bits(be_u64(d))),
            Secs2Format::ASCII | Secs2Format::JIS8 | Secs2Format::LOCALIZED => Scalar::Text(self.text(r)?),
            _ => return None,
        })
    }
}

/// One decoded value.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    U(u64),
    I(i64),
    F(f64),
    Bool(bool),
    Text(String),
}

/// Iterator over the children of a list.
pub struct Children<'a> {
    items: &'a [Secs2Item],
    next: usize,
    left: usize,
}

impl Iterator for Children<'_> {
    type Item = ItemRef;

    fn next(&mut self) -> Option<ItemRef> {
        if self.left == 0 {
            return None;
        }
        let it = self.items.get(self.next)?;
        let cur = self.next;
        self.left -= 1;
        // `next` is 0 only for an item whose subtree was cut by the item cap.
        self.next = if it.next > cur { it.next } else { usize::MAX };
        Some(cur)
    }
}

fn be_u64(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn be_i64(d: &[u8]) -> i64 {
    let u = be_u64(d);
    let bits = (d.len() * 8) as u32;
    if bits == 0 || bits >= 64 {
        return u as i64;
    }
    // Sign-extend from the item width.
    let shift = 64 - bits;
    ((u << shift) as i64) >> shift
}

/// ASCII item text: printable bytes as they are; other bytes as `\xNN` so nothing is lost.
pub fn ascii_text(d: &[u8]) -> String {
    match std::str::from_utf8(d) {
        Ok(s) if d.is_ascii() => s.to_owned(),
        _ => {
            let mut s = String::with_capacity(d.len());
            for &b in d {
                if b.is_ascii() {
                    s.push(char::from(b));
                } else {
                    let _ = write!(s, "\\x{b:02x}");
                }
            }
            s
        }
    }
}

/// One JIS X 0201 (JIS-8) byte as Unicode: the Roman half with ¥ and ‾ in place of `\` and
/// `~`, half-width katakana at 0xA1–0xDF; undefined bytes become U+FFFD.
pub fn jis8_char(b: u8) -> char {
    match b {
        0x5C => '\u{00A5}',
        0x7E => '\u{203E}',
        0x00..=0x7F => char::from(b),
        0xA1..=0xDF => char::from_u32(0xFF61 + u32::from(b - 0xA1)).unwrap_or('\u{FFFD}'),
        _ => '\u{FFFD}',
    }
}

/// JIS-8 item text (E5 format 021).
pub fn jis8_text(d: &[u8]) -> String {
    d.iter().map(|&b| jis8_char(b)).collect()
}

/// A localized item: its encoding and its text. UCS-2, UTF-8, ISO 646 and ISO 8859-1 are
/// decoded; other encodings come back as `\xNN` escapes of the raw bytes.
pub fn localized_text(d: &[u8]) -> (Secs2Encoding, String) {
    let (enc, chars) = match d {
        [a, b, rest @ ..] => (Secs2Encoding(u16::from_be_bytes([*a, *b])), rest),
        _ => return (Secs2Encoding(0), String::new()),
    };
    let text = match enc {
        Secs2Encoding::UCS2 => {
            let units = chars.chunks_exact(2).map(|c| match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0xFFFD,
            });
            char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')).collect()
        }
        Secs2Encoding::UTF8 => String::from_utf8_lossy(chars).into_owned(),
        Secs2Encoding::ISO646 => ascii_text(chars),
        Secs2Encoding::ISO8859_1 => chars.iter().map(|&b| char::from(b)).collect(),
        _ => {
            let mut s = String::with_capacity(chars.len() * 4);
            for &b in chars {
                let _ = write!(s, "\\x{b:02x}");
            }
            s
        }
    };
    (enc, text)
}

/// Longest string shown inside one SML item.
const SML_MAX_TEXT: usize = 120;
/// Most values shown for one array item.
const SML_MAX_VALUES: usize = 16;

/// Writes into a string up to a character budget, then records that it stopped.
struct Bounded {
    out: String,
    limit: usize,
    full: bool,
}

impl Bounded {
    fn push(&mut self, s: &str) {
        if self.full {
            return;
        }
        if self.out.len() + s.len() <= self.limit {
            self.out.push_str(s);
            return;
        }
        let room = self.limit.saturating_sub(self.out.len());
        let mut cut = room;
        while cut > 0 && !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.out.push_str(s.get(..cut).unwrap_or(""));
        self.out.push_str("...");
        self.full = true;
    }
}

/// Pieces of item text for quoting: a character, or a raw byte shown as `\xNN`.
enum TextUnit {
    Char(char),
    Byte(u8),
}

fn push_quoted(w: &mut Bounded, text: impl Iterator<Item = TextUnit>) {
    let mut q = String::with_capacity(64);
    q.push('"');
    for (n, u) in text.enumerate() {
        if n == SML_MAX_TEXT {
            q.push_str("...");
            break;
        }
        let _ = match u {
            TextUnit::Char('"') => write!(q, "\\\""),
            TextUnit::Char('\\') => write!(q, "\\\\"),
            TextUnit::Char(c) if c.is_control() => write!(q, "\\x{:02x}", u32::from(c)),
            TextUnit::Char(c) => write!(q, "{c}"),
            TextUnit::Byte(b) => write!(q, "\\x{b:02x}"),
        };
    }
    q.push('"');
    w.push(&q);
}

fn render_values(w: &mut Bounded, format: Secs2Format, d: &[u8], declared: usize) {
    let name = format.name().unwrap_or("?");
    let elem = format.element_size().unwrap_or(1);
    let count = declared / elem;
    let mut s = String::new();
    if count == 1 && format != Secs2Format::BINARY {
        let _ = write!(s, "<{name}");
    } else {
        let _ = write!(s, "<{name}[{count}]");
    }
    for (n, c) in d.chunks_exact(elem).enumerate() {
        if n == SML_MAX_VALUES {
            s.push_str(" ...");
            break;
        }
        let _ = match format {
            Secs2Format::BINARY => write!(s, " 0x{:02x}", c.first().copied().unwrap_or(0)),
            Secs2Format::BOOLEAN => {
                write!(s, " {}", if c.first().copied().unwrap_or(0) != 0 { "true" } else { "false" })
            }
            Secs2Format::I1 | Secs2Format::I2 | Secs2Format::I4 | Secs2Format::I8 => {
                write!(s, " {}", be_i64(c))
            }
            Secs2Format::F4 => write!(s, " {}", f32::from_bits(be_u64(c) as u32)),
            Secs2Format::F8 => write!(s, " {}", f64::from_bits(be_u64(c))),
            _ => write!(s, " {}", be_u64(c)),
        };
    }
    if d.len() < declared && d.len() / elem < SML_MAX_VALUES {
        s.push_str(" ...");
    }
    s.push('>');
    w.push(&s);
}

/// Renders a body (possibly a prefix of it: `total_len` is the real body length) as SML, e.g.
/// `<L[2] <A "ETCHX-4000"> <A "4.2.1">>`, in at most about `max_chars` characters; anything cut
/// ends in `...`. Invalid bytes end the rendering with `<!error>`.
pub fn render_sml(body: &[u8], total_len: usize, max_depth: usize, max_chars: usize) -> String {
    let mut w = Bounded { out: String::new(), limit: max_chars, full: false };
    let truncated_copy = body.len() < total_len;
    let mut stack: Vec<usize> = Vec::new();
    let mut pos = 0usize;
    while !w.full {
        if !stack.is_empty() {
            w.push(" ");
        }
        let h = match parse_item_header(body, pos) {
            Ok(h) => h,
            Err(_) if truncated_copy && pos >= body.len().saturating_sub(4) => {
                w.push("...");
                break;
            }
            Err(e) => {
                w.push(if e.kind.is_truncation() && truncated_copy { "..." } else { "<!error>" });
                break;
            }
        };
        let start = pos + h.header_len;
        if h.format == Secs2Format::LIST {
            pos = start;
            if h.len > 0 && stack.len() < max_depth {
                w.push(&format!("<L[{}]", h.len));
                stack.push(h.len);
                continue;
            }
            w.push(&format!("<L[{}]>", h.len));
        } else {
            let end = start.saturating_add(h.len);
            let d = body.get(start..end.min(body.len())).unwrap_or(&[]);
            if d.len() < h.len && !truncated_copy {
                w.push("<!error>");
                break;
            }
            match h.format {
                Secs2Format::ASCII => {
                    w.push("<A ");
                    push_quoted(
                        &mut w,
                        d.iter().map(|&b| {
                            if b.is_ascii() {
                                TextUnit::Char(char::from(b))
                            } else {
                                TextUnit::Byte(b)
                            }
                        }),
                    );
                    w.push(">");
                }
                Secs2Format::JIS8 => {
                    w.push("<J ");
                    push_quoted(&mut w, d.iter().map(|&b| TextUnit::Char(jis8_char(b))));
                    w.push(">");
                }
                Secs2Format::LOCALIZED => {
                    let (enc, text) = localized_text(d);
                    w.push(&format!("<W[{}] ", enc.name().unwrap_or("?")));
                    push_quoted(&mut w, text.chars().map(TextUnit::Char));
                    w.push(">");
                }
                f => render_values(&mut w, f, d, h.len),
            }
            pos = end;
            if d.len() < h.len {
                break;
            }
        }
        // Close finished lists.
        while let Some(top) = stack.last_mut() {
            *top -= 1;
            if *top > 0 {
                break;
            }
            stack.pop();
            w.push(">");
        }
        if stack.is_empty() {
            break;
        }
    }
    w.out
}

#[cfg(test)]
// Tests fail loudly on purpose.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(body: &[u8]) -> (Result<Secs2Summary, Secs2Error>, Vec<Secs2Item>) {
        let mut v = Vec::new();
        let r = parse_secs2(body, 64, 100_000, &mut v);
        (r, v)
    }

    /// protocols.md 1.6: body of the S1F13 worked example.
    const S1F13_BODY: &[u8] = &[
        0x01, 0x02, // L,2
        0x41, 0x06, b'M', b'D', b'L', b'N', b'-', b'A', // A "MDLN-A"
        0x41, 0x05, b'1', b'.', b'0', b'.', b'3', // A "1.0.3"
    ];

    #[test]
    fn format_table_matches_the_format_codes() {
        for code in 0..64u8 {
            let f = Secs2Format(code);
            let want = if f.is_known() { f.element_size().unwrap_or(1) } else { 0 };
            assert_eq!(usize::from(FORMAT_ELEM[usize::from(code)]), want, "format {code:o}");
        }
    }

    #[test]
    fn deep_nesting_beyond_the_inline_levels_parses() {
        // 20 nested lists around one U1: deeper than the inline part of the open-list stack.
        let mut body = Vec::new();
        for _ in 0..20 {
            body.extend([0x01, 0x01]);
        }
        body.extend([0xa5, 0x01, 0x07]);
        let (r, items) = parse(&body);
        let s = r.unwrap();
        assert_eq!((s.n_items, s.max_depth, items.len()), (21, 20, 21));
        assert!(items.iter().all(|i| i.next == 21));
    }

    #[test]
    fn s1f13_body() {
        let (r, v) = parse(S1F13_BODY);
        assert_eq!(r.unwrap().n_items, 3);
        let t = Secs2Tree::new(S1F13_BODY, &v);
        let kids = t.list_of(0, 2).unwrap();
        assert_eq!(t.text(kids[0]).as_deref(), Some("MDLN-A"));
        assert_eq!(t.text(kids[1]).as_deref(), Some("1.0.3"));
        assert_eq!(v[0].next, 3);
        assert_eq!(render_sml(S1F13_BODY, S1F13_BODY.len(), 64, 1000), r#"<L[2] <A "MDLN-A"> <A "1.0.3">>"#);
    }

    #[test]
    fn every_format_code() {
        let body: &[u8] = &[
            0x01, 0x10, // L,16
            0x01, 0x00, // L,0
            0x21, 0x02, 0x00, 0xff, // B 0x00 0xff
            0x25, 0x02, 0x00, 0x02, // BOOLEAN false true (any non-zero is true)
            0x41, 0x01, b'x', // A "x"
            0x45, 0x03, 0xba, 0xdd, 0x5c, // J: half-width katakana ko, n, and the yen sign
            0x49, 0x04, 0x00, 0x01, 0x00, 0xe9, // W UCS-2 "é"
            0x61, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // I8 -2
            0x65, 0x01, 0x80, // I1 -128
            0x69, 0x02, 0xff, 0xff, // I2 -1
            0x71, 0x04, 0x00, 0x00, 0x01, 0x00, // I4 256
            0x81, 0x08, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, // F8 1.5
            0x91, 0x04, 0x41, 0x78, 0x00, 0x00, // F4 15.5
            0xa1, 0x08, 0, 0, 0, 0, 0, 0, 0, 7, // U8 7
            0xa5, 0x01, 0xff, // U1 255
            0xa9, 0x02, 0x13, 0x89, // U2 5001
            0xb1, 0x04, 0x00, 0x00, 0x03, 0x84, // U4 900
        ];
        let (r, v) = parse(body);
        assert_eq!(r.unwrap().n_items, 17);
        let t = Secs2Tree::new(body, &v);
        let k: Vec<_> = t.children(0).collect();
        assert_eq!(k.len(), 16);
        assert_eq!(t.list_len(k[0]), Some(0));
        assert_eq!(t.text(k[4]).as_deref(), Some("\u{FF7A}\u{FF9D}\u{00A5}"));
        assert_eq!(t.text(k[5]).as_deref(), Some("é"));
        assert_eq!(t.scalar(k[6]), Some(Scalar::I(-2)));
        assert_eq!(t.scalar(k[7]), Some(Scalar::I(-128)));
        assert_eq!(t.scalar(k[8]), Some(Scalar::I(-1)));
        assert_eq!(t.scalar(k[9]), Some(Scalar::I(256)));
        assert_eq!(t.scalar(k[10]), Some(Scalar::F(1.5)));
        assert_eq!(t.scalar(k[11]), Some(Scalar::F(15.5)));
        assert_eq!(t.uint(k[12]), Some(7));
        assert_eq!(t.uint(k[13]), Some(255));
        assert_eq!(t.uint(k[14]), Some(5001));
        assert_eq!(t.uint(k[15]), Some(900));
        let sml = render_sml(body, body.len(), 64, 10_000);
        assert_eq!(
            sml,
            "<L[16] <L[0]> <B[2] 0x00 0xff> <BOOLEAN[2] false true> <A \"x\"> <J \"ｺﾝ¥\"> \
             <W[UCS-2] \"é\"> <I8 -2> <I1 -128> <I2 -1> <I4 256> <F8 1.5> <F4 15.5> <U8 7> \
             <U1 255> <U2 5001> <U4 900>>"
        );
    }

    #[test]
    fn malformed_bodies() {
        let cases: &[(&[u8], Secs2ErrorKind, usize)] = &[
            // nlb = 0
            (&[0x40, 0x01], Secs2ErrorKind::NlbZero, 0),
            // format code 077 (the corpus's A17), inside a list
            (
                &[0x01, 0x02, 0xa9, 0x02, 0x07, 0xd1, 0xfd, 0x00],
                Secs2ErrorKind::UnknownFormat { code: 0o77 },
                6,
            ),
            // length bytes missing
            (&[0x43, 0x00], Secs2ErrorKind::LengthBytesTruncated, 0),
            // A of 5 bytes with 2 present
            (&[0x41, 0x05, b'a', b'b'], Secs2ErrorKind::ItemPastEnd, 0),
            // U2 of 3 bytes
            (&[0xa9, 0x03, 0, 0, 0], Secs2ErrorKind::LengthNotMultiple { len: 3 }, 0),
            // list bomb: 16 M children announced in a few bytes
            (
                &[0x03, 0xff, 0xff, 0xff, 0x01, 0x00],
                Secs2ErrorKind::ListCountExceedsBody { count: 0xFF_FFFF },
                0,
            ),
            // trailing bytes after the root
            (&[0x21, 0x01, 0x00, 0x00], Secs2ErrorKind::TrailingBytes { count: 1 }, 3),
            // list children missing
            (&[0x01, 0x02, 0x21, 0x01, 0x00], Secs2ErrorKind::ListCountExceedsBody { count: 2 }, 0),
            // localized item of one byte: no room for its encoding code
            (&[0x49, 0x01, 0x00], Secs2ErrorKind::LengthNotMultiple { len: 1 }, 0),
        ];
        for (body, kind, offset) in cases {
            let (r, _) = parse(body);
            assert_eq!(r, Err(Secs2Error { kind: *kind, offset: *offset }), "{body:02x?}");
        }
        assert_eq!(Secs2ErrorKind::UnknownFormat { code: 0o77 }.code(), "bad_secs2_format_code");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // 10,000 nested L,1 around an empty list.
        let mut body = Vec::new();
        for _ in 0..10_000 {
            body.extend_from_slice(&[0x01, 0x01]);
        }
        body.extend_from_slice(&[0x01, 0x00]);
        let (r, v) = parse(&body);
        assert_eq!(r.unwrap_err().kind, Secs2ErrorKind::TooDeep);
        assert_eq!(v.len(), 65);
        let sml = render_sml(&body, body.len(), 64, 300);
        assert!(sml.len() < 310 && sml.ends_with("..."), "{sml}");
        // Within the cap it parses.
        let mut v = Vec::new();
        assert!(parse_secs2(&body, 20_000, 100_000, &mut v).is_ok());
    }

    #[test]
    fn item_cap_counts_the_rest() {
        let body = [0x01, 0x03, 0xa5, 0x01, 1, 0xa5, 0x01, 2, 0xa5, 0x01, 3];
        let mut v = Vec::new();
        let s = parse_secs2(&body, 64, 2, &mut v).unwrap();
        assert_eq!((s.n_items, s.items_capped, v.len()), (4, true, 2));
        let t = Secs2Tree::new(&body, &v);
        assert_eq!(t.children(0).count(), 1);
    }

    #[test]
    fn sml_is_bounded_and_truncates() {
        let mut body = vec![0x42, 0x03, 0xe8];
        body.extend(std::iter::repeat_n(b'x', 1000));
        let s = render_sml(&body, body.len(), 64, 1000);
        assert!(s.starts_with("<A \"xxx") && s.ends_with("...\">"), "{s}");
        // A bounded copy of a large binary item shows its real count.
        let mut pp = vec![0x01, 0x02, 0x41, 0x01, b'P', 0x23, 0x03, 0x20, 0x00];
        pp.extend(std::iter::repeat_n(0xAB, 100));
        let s = render_sml(&pp, pp.len() + 200_000, 64, 200);
        assert!(s.starts_with("<L[2] <A \"P\"> <B[204800] 0xab 0xab"), "{s}");
        assert!(s.contains("..."));
    }
}
