//! BACnet tag encoding (ASHRAE 135 clause 20.2): tag headers, primitive application values,
//! a cursor for the service decoders and a structural check of a whole tag stream.
//!
//! Initial octet: tag number (bits 7–4; 15 = extended, the number in the next octet), class
//! (bit 3: 0 application, 1 context), length/value/type (bits 2–0): 0–4 the content length,
//! 5 an extended length (next octet 0–253, or 254 + 2 octets, or 255 + 4 octets), and in a
//! context tag 6 = opening, 7 = closing. An application Boolean carries its value in the LVT.

use std::fmt;

use serde::{Serialize, Serializer};

use super::{BacnetError, Flags};

/// Largest tag content accepted (an extended length can announce up to 4 GiB). Segmented
/// messages reassemble to at most a few hundred kilobytes.
pub const MAX_TAG_CONTENT: usize = 1 << 20;
/// Deepest nesting of opening/closing tags decoded.
pub const MAX_NESTING: usize = 32;

/// Application tag numbers (20.2.1.4).
pub mod app {
    pub const NULL: u8 = 0;
    pub const BOOLEAN: u8 = 1;
    pub const UNSIGNED: u8 = 2;
    pub const SIGNED: u8 = 3;
    pub const REAL: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const OCTET_STRING: u8 = 6;
    pub const CHARACTER_STRING: u8 = 7;
    pub const BIT_STRING: u8 = 8;
    pub const ENUMERATED: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const OBJECT_IDENTIFIER: u8 = 12;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagClass {
    Application,
    Context,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// Primitive data in `content`.
    Primitive,
    /// Context opening tag (LVT 6).
    Opening,
    /// Context closing tag (LVT 7).
    Closing,
    /// Application Boolean: the raw LVT, which is the value.
    AppBoolean(u8),
}

/// One tag with its content.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    pub number: u8,
    pub class: TagClass,
    pub kind: TagKind,
    pub content: &'a [u8],
}

impl fmt::Debug for Tag<'_> {
    /// The content as its length only (it may be a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("number", &self.number)
            .field("class", &self.class)
            .field("kind", &self.kind)
            .field("content", &super::Octets(self.content.len()))
            .finish()
    }
}

impl Tag<'_> {
    pub fn is_context(&self, n: u8) -> bool {
        self.class == TagClass::Context && self.kind == TagKind::Primitive && self.number == n
    }

    pub fn is_opening(&self, n: u8) -> bool {
        self.kind == TagKind::Opening && self.number == n
    }

    pub fn is_closing(&self, n: u8) -> bool {
        self.kind == TagKind::Closing && self.number == n
    }

    pub fn is_application(&self) -> bool {
        self.class == TagClass::Application
    }
}

fn byte(input: &[u8], at: usize) -> Result<u8, BacnetError> {
    input.get(at).copied().ok_or_else(|| BacnetError::need(at + 1, input.len()))
}

/// Parses one tag and its content. Returns the tag and the bytes used (header and content).
///
/// `Incomplete` when the header or the content runs past `input`; `Malformed` for an extended
/// length above [`MAX_TAG_CONTENT`] and for an application-class tag with LVT 6 or 7 (some
/// stacks read those as opening/closing tags whatever the class; the standard does not).
pub fn parse_tag(input: &[u8]) -> Result<(Tag<'_>, usize), BacnetError> {
    let b0 = byte(input, 0)?;
    let mut at = 1;
    let mut number = b0 >> 4;
    if number == 0x0f {
        number = byte(input, 1)?;
        at = 2;
    }
    let class = if b0 & 0x08 != 0 { TagClass::Context } else { TagClass::Application };
    let lvt = b0 & 0x07;
    if class == TagClass::Application && number == app::BOOLEAN {
        return Ok((Tag { number, class, kind: TagKind::AppBoolean(lvt), content: &[] }, at));
    }
    let len = match lvt {
        6 | 7 if class == TagClass::Application => {
            return Err(BacnetError::malformed(0, "tag_app_lvt_open_close"));
        }
        6 => return Ok((Tag { number, class, kind: TagKind::Opening, content: &[] }, at)),
        7 => return Ok((Tag { number, class, kind: TagKind::Closing, content: &[] }, at)),
        5 => {
            let l = byte(input, at)?;
            at += 1;
            match l {
                254 => {
                    let v = u16::from_be_bytes([byte(input, at)?, byte(input, at + 1)?]);
                    at += 2;
                    usize::from(v)
                }
                255 => {
                    let v = u32::from_be_bytes([
                        byte(input, at)?,
                        byte(input, at + 1)?,
                        byte(input, at + 2)?,
                        byte(input, at + 3)?,
                    ]);
                    at += 4;
                    usize::try_from(v).unwrap_or(usize::MAX)
                }
                n => usize::from(n),
            }
        }
        n => usize::from(n),
    };
    if len > MAX_TAG_CONTENT {
        return Err(BacnetError::malformed(0, "tag_length_too_large"));
    }
    match input.get(at..at + len) {
        Some(content) => Ok((Tag { number, class, kind: TagKind::Primitive, content }, at + len)),
        None => Err(BacnetError::need(at + len, input.len())),
    }
}

/// BACnetObjectIdentifier (20.2.14): 10-bit type and 22-bit instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BacnetObjectId {
    pub object_type: u16,
    pub instance: u32,
}

impl BacnetObjectId {
    /// Object type of the Device object.
    pub const DEVICE: u16 = 8;
    /// Object type of the File object.
    pub const FILE: u16 = 10;
    /// Instance 4194303: "uninitialised", used as a wildcard for the device being asked.
    pub const WILDCARD_INSTANCE: u32 = 0x3f_ffff;

    pub fn from_u32(v: u32) -> Self {
        // Both parts are masked to their widths, so the casts cannot lose bits.
        BacnetObjectId { object_type: (v >> 22) as u16, instance: v & 0x3f_ffff }
    }

    pub fn is_device(&self) -> bool {
        self.object_type == Self::DEVICE
    }
}

impl fmt::Display for BacnetObjectId {
    /// `analog-input,1`, `proprietary-130,5` (types 128–1023) or `object-type-70,5` (reserved).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match super::record::object_type_name(self.object_type) {
            Some(n) => write!(f, "{n},{}", self.instance),
            None if self.object_type >= 128 => {
                write!(f, "proprietary-{},{}", self.object_type, self.instance)
            }
            None => write!(f, "object-type-{},{}", self.object_type, self.instance),
        }
    }
}

impl Serialize for BacnetObjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Date (20.2.12); None where the octet is 0xFF (unspecified). Month 13/14 mean odd/even
/// months, day 32 the last day, 33/34 odd/even days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BacnetDate {
    pub year: Option<u16>,
    pub month: Option<u8>,
    pub day: Option<u8>,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: Option<u8>,
}

fn any(v: u8) -> Option<u8> {
    (v != 0xff).then_some(v)
}

impl fmt::Display for BacnetDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            Some(y) => write!(f, "{y:04}")?,
            None => f.write_str("*")?,
        }
        for v in [self.month, self.day] {
            match v {
                Some(v) => write!(f, "-{v:02}")?,
                None => f.write_str("-*")?,
            }
        }
        Ok(())
    }
}

/// Time (20.2.13); None where the octet is 0xFF (unspecified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BacnetTime {
    pub hour: Option<u8>,
    pub minute: Option<u8>,
    pub second: Option<u8>,
    pub hundredths: Option<u8>,
}

impl fmt::Display for BacnetTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [self.hour, self.minute, self.second, self.hundredths];
        for (i, v) in parts.into_iter().enumerate() {
            let sep = match i {
                0 => "",
                3 => ".",
                _ => ":",
            };
            f.write_str(sep)?;
            match v {
                Some(v) => write!(f, "{v:02}")?,
                None => f.write_str("*")?,
            }
        }
        Ok(())
    }
}

/// CharacterString character sets (20.2.9).
pub mod charset {
    pub const UTF8: u8 = 0;
    pub const DBCS: u8 = 1;
    pub const JIS_X_0208: u8 = 2;
    pub const UCS4: u8 = 3;
    pub const UCS2: u8 = 4;
    pub const ISO_8859_1: u8 = 5;

    pub fn name(c: u8) -> Option<&'static str> {
        Some(match c {
            UTF8 => "utf-8",
            DBCS => "ibm-microsoft-dbcs",
            JIS_X_0208 => "jis-x-0208",
            UCS4 => "ucs-4",
            UCS2 => "ucs-2",
            ISO_8859_1 => "iso-8859-1",
            _ => return None,
        })
    }
}

/// A CharacterString: the character set octet and the encoded characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CharString<'a> {
    pub charset: u8,
    pub bytes: &'a [u8],
}

impl fmt::Debug for CharString<'_> {
    /// Length only: a CharacterString may be a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CharString").field("charset", &self.charset).field("len", &self.bytes.len()).finish()
    }
}

impl CharString<'_> {
    /// Flags an encoding the character set does not allow: invalid UTF-8, UCS-2 of odd length,
    /// UCS-4 not a multiple of 4, undefined character sets.
    pub fn check(&self, flags: &mut Flags) {
        match self.charset {
            charset::UTF8 if std::str::from_utf8(self.bytes).is_err() => {
                flags.malformed("charstring_invalid_utf8");
            }
            charset::UCS2 if self.bytes.len() % 2 != 0 => flags.malformed("charstring_ucs2_odd_length"),
            charset::UCS4 if self.bytes.len() % 4 != 0 => flags.malformed("charstring_ucs4_bad_length"),
            c if charset::name(c).is_none() => flags.malformed("charstring_unknown_charset"),
            _ => {}
        }
    }

    /// The text, for the character sets decoded here (UTF-8 with invalid sequences replaced,
    /// ISO 8859-1, UCS-2), at most `cap` bytes of UTF-8 (cut at a character boundary). None
    /// for the other character sets, which are kept as bytes.
    pub fn to_text(&self, cap: usize) -> Option<String> {
        let mut out = String::new();
        let mut push = |c: char| {
            if out.len() + c.len_utf8() > cap {
                return false;
            }
            out.push(c);
            true
        };
        match self.charset {
            charset::UTF8 => {
                for chunk in self.bytes.utf8_chunks() {
                    for c in chunk.valid().chars() {
                        if !push(c) {
                            return Some(out);
                        }
                    }
                    if !chunk.invalid().is_empty() && !push(char::REPLACEMENT_CHARACTER) {
                        return Some(out);
                    }
                }
            }
            charset::ISO_8859_1 => {
                for &b in self.bytes {
                    if !push(char::from(b)) {
                        return Some(out);
                    }
                }
            }
            charset::UCS2 => {
                for c in self.bytes.chunks_exact(2) {
                    let u = match *c {
                        [a, b] => u32::from(u16::from_be_bytes([a, b])),
                        _ => 0,
                    };
                    if !push(char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER)) {
                        return Some(out);
                    }
                }
            }
            _ => return None,
        }
        Some(out)
    }
}

/// A primitive application value, borrowing its bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AppValue<'a> {
    Null,
    Boolean(bool),
    Unsigned(u64),
    Signed(i64),
    Real(f32),
    Double(f64),
    OctetString(&'a [u8]),
    CharacterString(CharString<'a>),
    BitString {
        unused_bits: u8,
        bits: &'a [u8],
    },
    Enumerated(u64),
    Date(BacnetDate),
    Time(BacnetTime),
    ObjectId(BacnetObjectId),
    /// Application tags 13–15 (reserved) and extended application tag numbers.
    Reserved {
        tag: u8,
        content: &'a [u8],
    },
}

/// Unsigned (20.2.4): 1 to 8 octets, big-endian. The standard's types need at most 4; 8 are
/// accepted for Unsigned64 properties.
pub fn decode_unsigned(c: &[u8]) -> Result<u64, &'static str> {
    if c.is_empty() || c.len() > 8 {
        return Err("unsigned_bad_length");
    }
    Ok(c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Enumerated (20.2.11): as Unsigned.
pub fn decode_enumerated(c: &[u8]) -> Result<u64, &'static str> {
    decode_unsigned(c).map_err(|_| "enumerated_bad_length")
}

/// Signed (20.2.5): 1 to 8 octets, two's complement.
pub fn decode_signed(c: &[u8]) -> Result<i64, &'static str> {
    let Some(&first) = c.first() else {
        return Err("signed_bad_length");
    };
    if c.len() > 8 {
        return Err("signed_bad_length");
    }
    let init: i64 = if first & 0x80 != 0 { -1 } else { 0 };
    Ok(c.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

/// Real (20.2.6): IEEE-754 single, 4 octets.
pub fn decode_real(c: &[u8]) -> Result<f32, &'static str> {
    match *c {
        [a, b, c0, d] => Ok(f32::from_be_bytes([a, b, c0, d])),
        _ => Err("real_bad_length"),
    }
}

/// Double (20.2.7): IEEE-754 double, 8 octets.
pub fn decode_double(c: &[u8]) -> Result<f64, &'static str> {
    let a: [u8; 8] = c.try_into().map_err(|_| "double_bad_length")?;
    Ok(f64::from_be_bytes(a))
}

/// Date (20.2.12): year − 1900, month, day, weekday.
pub fn decode_date(c: &[u8]) -> Result<BacnetDate, &'static str> {
    match *c {
        [y, m, d, w] => Ok(BacnetDate {
            year: any(y).map(|y| 1900 + u16::from(y)),
            month: any(m),
            day: any(d),
            weekday: any(w),
        }),
        _ => Err("date_bad_length"),
    }
}

/// Time (20.2.13): hour, minute, second, hundredths.
pub fn decode_time(c: &[u8]) -> Result<BacnetTime, &'static str> {
    match *c {
        [h, m, s, x] => Ok(BacnetTime { hour: any(h), minute: any(m), second: any(s), hundredths: any(x) }),
        _ => Err("time_bad_length"),
    }
}

/// ObjectIdentifier (20.2.14): exactly 4 octets.
pub fn decode_object_id(c: &[u8]) -> Result<BacnetObjectId, &'static str> {
    match *c {
        [a, b, c0, d] => Ok(BacnetObjectId::from_u32(u32::from_be_bytes([a, b, c0, d]))),
        _ => Err("objectid_bad_length"),
    }
}

/// CharacterString (20.2.9): the character set octet, then the characters. Zero octets is an
/// encoding error (even an empty string carries its character set).
pub fn decode_charstring(c: &[u8]) -> Result<CharString<'_>, &'static str> {
    match c.split_first() {
        Some((&cs, bytes)) => Ok(CharString { charset: cs, bytes }),
        None => Err("charstring_empty"),
    }
}

/// BitString (20.2.10): the count of unused bits in the last octet, then the bits.
pub fn decode_bitstring<'a>(c: &'a [u8], flags: &mut Flags) -> Result<(u8, &'a [u8]), &'static str> {
    let Some((&unused, bits)) = c.split_first() else {
        return Err("bitstring_empty");
    };
    if unused > 7 {
        flags.malformed("bitstring_unused_bits_gt_7");
    } else if unused > 0 && bits.is_empty() {
        flags.malformed("bitstring_unused_bits_without_data");
    }
    Ok((unused, bits))
}

/// A context-tagged Boolean (20.2.3): one octet, 0 or 1.
pub fn decode_context_boolean(c: &[u8], flags: &mut Flags) -> Result<bool, &'static str> {
    match *c {
        [v] => {
            if v > 1 {
                flags.flag("boolean_value_gt_1");
            }
            Ok(v != 0)
        }
        _ => Err("boolean_bad_length"),
    }
}

/// Decodes an application-tagged primitive. Encodings the type forbids are errors (a stable
/// code); questionable but decodable ones (Boolean LVT > 1, bad character data, BitString
/// unused bits > 7) are flagged in `flags`.
pub fn decode_app_value<'a>(tag: &Tag<'a>, flags: &mut Flags) -> Result<AppValue<'a>, &'static str> {
    if tag.class != TagClass::Application {
        return Err("tag_not_application");
    }
    let c = tag.content;
    Ok(match (tag.number, tag.kind) {
        (app::BOOLEAN, TagKind::AppBoolean(lvt)) => {
            if lvt > 1 {
                flags.malformed("boolean_lvt_gt_1");
            }
            AppValue::Boolean(lvt != 0)
        }
        (app::NULL, _) => {
            if !c.is_empty() {
                return Err("null_bad_length");
            }
            AppValue::Null
        }
        (app::UNSIGNED, _) => AppValue::Unsigned(decode_unsigned(c)?),
        (app::SIGNED, _) => AppValue::Signed(decode_signed(c)?),
        (app::REAL, _) => AppValue::Real(decode_real(c)?),
        (app::DOUBLE, _) => AppValue::Double(decode_double(c)?),
        (app::OCTET_STRING, _) => AppValue::OctetString(c),
        (app::CHARACTER_STRING, _) => {
            let s = decode_charstring(c)?;
            s.check(flags);
            AppValue::CharacterString(s)
        }
        (app::BIT_STRING, _) => {
            let (unused_bits, bits) = decode_bitstring(c, flags)?;
            AppValue::BitString { unused_bits, bits }
        }
        (app::ENUMERATED, _) => AppValue::Enumerated(decode_enumerated(c)?),
        (app::DATE, _) => AppValue::Date(decode_date(c)?),
        (app::TIME, _) => AppValue::Time(decode_time(c)?),
        (app::OBJECT_IDENTIFIER, _) => AppValue::ObjectId(decode_object_id(c)?),
        (n, _) => {
            flags.flag("tag_reserved_application_type");
            AppValue::Reserved { tag: n, content: c }
        }
    })
}

/// Checks a whole tag stream (service data): every tag complete, opening and closing tags
/// nested and matched no deeper than [`MAX_NESTING`], every application value decodable.
/// Returns the number of tags. Soft findings go to `flags`.
pub fn check_tags(data: &[u8], flags: &mut Flags) -> Result<usize, BacnetError> {
    let mut stack = [0u8; MAX_NESTING];
    let mut depth = 0usize;
    let mut at = 0usize;
    let mut count = 0usize;
    while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
        let (tag, used) = parse_tag(rest).map_err(|e| e.shifted(at))?;
        match tag.kind {
            TagKind::Opening => {
                let slot = stack.get_mut(depth).ok_or(BacnetError::malformed(at, "tag_nesting_too_deep"))?;
                *slot = tag.number;
                depth += 1;
            }
            TagKind::Closing => {
                let open = depth.checked_sub(1).and_then(|d| stack.get(d)).copied();
                if open != Some(tag.number) {
                    return Err(BacnetError::malformed(at, "tag_nesting_mismatch"));
                }
                depth -= 1;
            }
            _ if tag.is_application() => {
                decode_app_value(&tag, flags).map_err(|r| BacnetError::malformed(at, r))?;
            }
            _ => {}
        }
        at += used;
        count += 1;
    }
    if depth != 0 {
        return Err(BacnetError::malformed(data.len(), "tag_unclosed"));
    }
    Ok(count)
}

/// A cursor over service data for the service decoders. Errors carry offsets from the start of
/// the data given to [`TagReader::new`].
#[derive(Clone, Copy)]
pub struct TagReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl fmt::Debug for TagReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TagReader")
            .field("data", &super::Octets(self.data.len()))
            .field("pos", &self.pos)
            .finish()
    }
}

impl<'a> TagReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        TagReader { data, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    /// A `Malformed` error at the cursor.
    pub fn fail(&self, reason: &'static str) -> BacnetError {
        BacnetError::malformed(self.pos, reason)
    }

    /// The next tag without consuming it, with its length; None at the end.
    pub fn peek_len(&self) -> Result<Option<(Tag<'a>, usize)>, BacnetError> {
        if self.is_empty() {
            return Ok(None);
        }
        parse_tag(self.rest()).map(Some).map_err(|e| e.shifted(self.pos))
    }

    pub fn peek(&self) -> Result<Option<Tag<'a>>, BacnetError> {
        Ok(self.peek_len()?.map(|(t, _)| t))
    }

    /// Consumes and returns the next tag; None at the end.
    pub fn next_tag(&mut self) -> Result<Option<Tag<'a>>, BacnetError> {
        let next = self.peek_len()?;
        Ok(next.map(|(t, n)| {
            self.pos += n;
            t
        }))
    }

    /// The next tag, which must exist (else `Incomplete`).
    pub fn required(&mut self) -> Result<Tag<'a>, BacnetError> {
        self.next_tag()?.ok_or(BacnetError::Incomplete { needed: None })
    }

    /// Consumes the next tag if it is context primitive `n`, returning its content.
    pub fn ctx(&mut self, n: u8) -> Result<Option<&'a [u8]>, BacnetError> {
        match self.peek_len()? {
            Some((t, used)) if t.is_context(n) => {
                self.pos += used;
                Ok(Some(t.content))
            }
            _ => Ok(None),
        }
    }

    /// Optional context primitive `n` decoded with `f`.
    pub fn ctx_with<T>(
        &mut self,
        n: u8,
        f: impl FnOnce(&'a [u8]) -> Result<T, &'static str>,
    ) -> Result<Option<T>, BacnetError> {
        let at = self.pos;
        match self.ctx(n)? {
            Some(c) => f(c).map(Some).map_err(|r| BacnetError::malformed(at, r)),
            None => Ok(None),
        }
    }

    /// Required context primitive `n` decoded with `f`: `Incomplete` at the end of the data,
    /// `Malformed` (`service_missing_parameter`) when another tag is there instead.
    pub fn req_with<T>(
        &mut self,
        n: u8,
        f: impl FnOnce(&'a [u8]) -> Result<T, &'static str>,
    ) -> Result<T, BacnetError> {
        if self.is_empty() {
            return Err(BacnetError::Incomplete { needed: None });
        }
        match self.ctx_with(n, f)? {
            Some(v) => Ok(v),
            None => Err(self.fail("service_missing_parameter")),
        }
    }

    /// Consumes an opening tag `n` if it is next.
    pub fn opening(&mut self, n: u8) -> Result<bool, BacnetError> {
        match self.peek_len()? {
            Some((t, used)) if t.is_opening(n) => {
                self.pos += used;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Consumes a required opening tag `n`.
    pub fn req_opening(&mut self, n: u8) -> Result<(), BacnetError> {
        if self.is_empty() {
            return Err(BacnetError::Incomplete { needed: None });
        }
        if self.opening(n)? {
            Ok(())
        } else {
            Err(self.fail("service_missing_parameter"))
        }
    }

    /// Consumes the closing tag `n`, which must be next.
    pub fn closing(&mut self, n: u8) -> Result<(), BacnetError> {
        match self.peek_len()? {
            Some((t, used)) if t.is_closing(n) => {
                self.pos += used;
                Ok(())
            }
            Some(_) => Err(self.fail("tag_nesting_mismatch")),
            None => Err(BacnetError::Incomplete { needed: None }),
        }
    }

    /// True when the closing tag `n` is next.
    pub fn at_closing(&self, n: u8) -> Result<bool, BacnetError> {
        Ok(self.peek()?.is_some_and(|t| t.is_closing(n)))
    }

    /// The next tag, which must be an application tag (`Incomplete` at the end).
    pub fn app(&mut self) -> Result<Tag<'a>, BacnetError> {
        let at = self.pos;
        let t = self.required()?;
        if t.is_application() {
            Ok(t)
        } else {
            self.pos = at;
            Err(self.fail("service_missing_parameter"))
        }
    }

    /// The next application tag decoded, which must be of application type `n`.
    pub fn app_value(&mut self, n: u8, flags: &mut Flags) -> Result<AppValue<'a>, BacnetError> {
        let at = self.pos;
        let t = self.app()?;
        if t.number != n {
            self.pos = at;
            return Err(self.fail("service_unexpected_type"));
        }
        decode_app_value(&t, flags).map_err(|r| BacnetError::malformed(at, r))
    }

    /// After opening tag `n` was consumed: skips to and past the matching closing tag and
    /// returns the enclosed bytes. Nesting is bounded by [`MAX_NESTING`].
    pub fn skip_to_closing(&mut self, n: u8) -> Result<&'a [u8], BacnetError> {
        let start = self.pos;
        let mut stack = [0u8; MAX_NESTING];
        let mut depth = 0usize;
        loop {
            let at = self.pos;
            let t = self.required()?;
            match t.kind {
                TagKind::Opening => {
                    let slot =
                        stack.get_mut(depth).ok_or(BacnetError::malformed(at, "tag_nesting_too_deep"))?;
                    *slot = t.number;
                    depth += 1;
                }
                TagKind::Closing if depth == 0 => {
                    if t.number != n {
                        return Err(BacnetError::malformed(at, "tag_nesting_mismatch"));
                    }
                    return Ok(self.data.get(start..at).unwrap_or_default());
                }
                TagKind::Closing => {
                    if stack.get(depth - 1) != Some(&t.number) {
                        return Err(BacnetError::malformed(at, "tag_nesting_mismatch"));
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(d: &[u8]) -> (Tag<'_>, usize) {
        parse_tag(d).unwrap()
    }

    #[test]
    fn headers() {
        // 0x21 0x05: application Unsigned (tag 2), length 1, value 5.
        let (t, n) = tag(&[0x21, 0x05]);
        assert_eq!((t.number, t.class, t.content, n), (2, TagClass::Application, &[5u8][..], 2));
        // 0x0c + 4: context tag 0, length 4.
        let (t, _) = tag(&[0x0c, 0x02, 0x00, 0x00, 0x7b]);
        assert!(t.is_context(0));
        // 0x3e / 0x3f: context 3 opening / closing.
        assert!(tag(&[0x3e]).0.is_opening(3));
        assert!(tag(&[0x3f]).0.is_closing(3));
        // 0xf9 0x20 0x07: extended tag number 32, context, length 1.
        let (t, n) = tag(&[0xf9, 0x20, 0x07]);
        assert_eq!((t.number, t.class, n), (32, TagClass::Context, 3));
        // 0x75 0x06 ...: CharacterString with extended length 6.
        let (t, n) = tag(&[0x75, 0x06, 0x00, b'a', b'b', b'c', b'd', b'e']);
        assert_eq!((t.content.len(), n), (6, 8));
        // 0x65 0xfe 0x01 0x00: OctetString, 2-byte length 256.
        let mut long = vec![0x65, 0xfe, 0x01, 0x00];
        long.extend([0u8; 256]);
        assert_eq!(tag(&long).0.content.len(), 256);
        // 0x65 0xff + 4-byte length 2^31: above the cap.
        assert_eq!(
            parse_tag(&[0x65, 0xff, 0x80, 0x00, 0x00, 0x00]),
            Err(BacnetError::malformed(0, "tag_length_too_large"))
        );
        // 4-byte length 300 with 10 bytes: incomplete.
        assert!(matches!(parse_tag(&[0x65, 0xff, 0, 0, 1, 0x2c, 1, 2]), Err(BacnetError::Incomplete { .. })));
        // Application Boolean true: 0x11, no content.
        assert_eq!(tag(&[0x11]).0.kind, TagKind::AppBoolean(1));
    }

    #[test]
    fn application_lvt_6_7_is_not_an_opening_tag() {
        // 0x06: tag 0, class bit clear (application), LVT 6; 0x47: application tag 4, LVT 7.
        assert_eq!(parse_tag(&[0x06]), Err(BacnetError::malformed(0, "tag_app_lvt_open_close")));
        assert_eq!(parse_tag(&[0x47]), Err(BacnetError::malformed(0, "tag_app_lvt_open_close")));
        // 0x0e: the same with the class bit set is a context opening tag 0.
        assert!(parse_tag(&[0x0e]).unwrap().0.is_opening(0));
    }

    #[test]
    fn values() {
        let mut f = Flags::default();
        fn v<'a>(d: &'a [u8], f: &mut Flags) -> Result<AppValue<'a>, &'static str> {
            decode_app_value(&parse_tag(d).unwrap().0, f)
        }
        assert_eq!(v(&[0x44, 0x41, 0xac, 0x00, 0x00], &mut f), Ok(AppValue::Real(21.5)));
        assert_eq!(v(&[0x31, 0xff], &mut f), Ok(AppValue::Signed(-1)));
        assert_eq!(v(&[0x32, 0x80, 0x00], &mut f), Ok(AppValue::Signed(-32768)));
        assert_eq!(v(&[0x91, 0x03], &mut f), Ok(AppValue::Enumerated(3)));
        assert_eq!(v(&[0x00], &mut f), Ok(AppValue::Null));
        assert_eq!(
            v(&[0xc4, 0x02, 0x00, 0x00, 0x7b], &mut f),
            Ok(AppValue::ObjectId(BacnetObjectId { object_type: 8, instance: 123 }))
        );
        // Unsigned of 8 bytes accepted, 9 bytes refused.
        assert_eq!(v(&[0x25, 0x08, 0, 0, 0, 1, 0, 0, 0, 0], &mut f), Ok(AppValue::Unsigned(1 << 32)));
        assert_eq!(v(&[0x25, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1], &mut f), Err("unsigned_bad_length"));
        assert_eq!(v(&[0xc3, 0x02, 0x00, 0x08], &mut f), Err("objectid_bad_length"));
        assert_eq!(v(&[0x70], &mut f), Err("charstring_empty"));
        // Date 2024-05-01 Wednesday, time 12:30:05.00.
        let AppValue::Date(d) = v(&[0xa4, 124, 5, 1, 3], &mut f).unwrap() else { panic!() };
        assert_eq!(d.to_string(), "2024-05-01");
        let AppValue::Time(t) = v(&[0xb4, 12, 30, 5, 0], &mut f).unwrap() else { panic!() };
        assert_eq!(t.to_string(), "12:30:05.00");
        assert_eq!(f, Flags::default());
    }

    #[test]
    fn soft_flags() {
        let mut f = Flags::default();
        fn v<'a>(d: &'a [u8], f: &mut Flags) -> Result<AppValue<'a>, &'static str> {
            decode_app_value(&parse_tag(d).unwrap().0, f)
        }
        // Boolean LVT 2.
        assert_eq!(v(&[0x12], &mut f), Ok(AppValue::Boolean(true)));
        assert!(f.has("boolean_lvt_gt_1"));
        // BitString with 9 unused bits.
        let _ = v(&[0x82, 0x09, 0xff], &mut f);
        assert!(f.has("bitstring_unused_bits_gt_7"));
        // UCS-2 of odd length, then invalid UTF-8, then charset 9.
        let _ = v(&[0x74, 0x04, 0x00, 0x41, 0x00], &mut f);
        let _ = v(&[0x73, 0x00, 0xc3, 0x28], &mut f);
        let _ = v(&[0x72, 0x09, 0x41], &mut f);
        for c in ["charstring_ucs2_odd_length", "charstring_invalid_utf8", "charstring_unknown_charset"] {
            assert!(f.has(c), "{c}");
        }
        assert!(f.malformed);
    }

    #[test]
    fn text() {
        let s = CharString { charset: charset::ISO_8859_1, bytes: b"Caf\xe9" };
        assert_eq!(s.to_text(64).as_deref(), Some("Café"));
        let s = CharString { charset: charset::UCS2, bytes: &[0x00, 0x41, 0x00, 0xe9] };
        assert_eq!(s.to_text(64).as_deref(), Some("Aé"));
        let s = CharString { charset: charset::UTF8, bytes: b"abcdef" };
        assert_eq!(s.to_text(3).as_deref(), Some("abc"));
        let s = CharString { charset: charset::UTF8, bytes: b"a\xffb" };
        assert_eq!(s.to_text(64).as_deref(), Some("a\u{fffd}b"));
        assert_eq!(CharString { charset: charset::JIS_X_0208, bytes: b"x" }.to_text(64), None);
        assert_eq!(
            format!("{:?}", CharString { charset: 0, bytes: b"secret" }),
            "CharString { charset: 0, len: 6 }"
        );
    }

    #[test]
    fn structure() {
        let mut f = Flags::default();
        // [3] { Real 21.5 } : 3e 44 41ac0000 3f.
        assert_eq!(check_tags(&[0x3e, 0x44, 0x41, 0xac, 0, 0, 0x3f], &mut f), Ok(3));
        // Closing tag of the wrong number.
        assert_eq!(check_tags(&[0x3e, 0x4f], &mut f), Err(BacnetError::malformed(1, "tag_nesting_mismatch")));
        // Unclosed.
        assert_eq!(check_tags(&[0x3e, 0x00], &mut f), Err(BacnetError::malformed(2, "tag_unclosed")));
        // Nesting one deeper than the cap.
        let mut deep = vec![0x0e | 0x08; MAX_NESTING + 1];
        deep.extend(vec![0x0f | 0x08; MAX_NESTING + 1]);
        assert_eq!(
            check_tags(&deep, &mut f),
            Err(BacnetError::malformed(MAX_NESTING, "tag_nesting_too_deep"))
        );
        // Exactly the cap is fine.
        let mut ok = vec![0x0e; MAX_NESTING];
        ok.extend(vec![0x0f; MAX_NESTING]);
        assert_eq!(check_tags(&ok, &mut f), Ok(2 * MAX_NESTING));
    }

    #[test]
    fn reader() {
        // [0] 5, [1] { 21 05 [2] { } }, [3] absent.
        let d = [0x09, 0x05, 0x1e, 0x21, 0x05, 0x2e, 0x2f, 0x1f];
        let mut r = TagReader::new(&d);
        assert_eq!(r.req_with(0, decode_unsigned), Ok(5));
        assert_eq!(r.ctx(3), Ok(None));
        assert!(r.opening(1).unwrap());
        assert_eq!(r.skip_to_closing(1), Ok(&d[3..7]));
        assert!(r.is_empty());
        assert_eq!(r.req_with(4, decode_unsigned), Err(BacnetError::Incomplete { needed: None }));
    }
}
