//! pcap and pcapng file sources.
//!
//! A regular file is memory-mapped and packets are lent straight from the mapping (zero copy).
//! A pipe or standard input (`-`) is read through a constant-memory buffer that grows only to
//! hold the largest record seen (bounded by [`MAX_RECORD_BYTES`]); packets are lent from it.
//!
//! Formats: classic pcap (µs and ns timestamps, either byte order, and the "modified" variant
//! with 24-byte record headers) and pcapng (any number of sections and interfaces, enhanced and
//! simple packet blocks; every other block type is skipped and counted).
//!
//! A truncated last record is reported in [`SourceStats::truncated_at`] and everything before
//! it is delivered. A record header that cannot be right (a length beyond the bound) stops the
//! source with [`CaptureError::Corrupt`] naming the offset, after everything before it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use pcap_parser::pcapng::{Block, SectionHeaderBlock};
use pcap_parser::{parse_block_be, parse_block_le, parse_sectionheaderblock};

use super::{CaptureError, LinkType, Next, Packet, PacketSource, SourceStats};

/// The largest record (pcap record or pcapng block) accepted. Snap lengths are at most 256 KiB
/// in libpcap; pcapng blocks from other tools may carry a little more.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Initial size of the streaming buffer.
const STREAM_BUF_BYTES: usize = 1 << 20;

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAP_MAGIC_MODIFIED: u32 = 0xa1b2_cd34;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;

/// Bytes read past before mapped pages behind the read position are released.
const RELEASE_STEP: usize = 16 << 20;

enum Input {
    Map {
        map: memmap2::Mmap,
        pos: usize,
        /// Pages below this offset were handed back (see `release_behind`).
        released: usize,
    },
    Stream {
        reader: Box<dyn Read + Send>,
        buf: Vec<u8>,
        start: usize,
        end: usize,
        eof: bool,
        /// Bytes moved out of the buffer by compaction (for offsets in messages).
        dropped: u64,
    },
}

impl Input {
    fn avail(&self) -> &[u8] {
        match self {
            Input::Map { map, pos, .. } => map.get(*pos..).unwrap_or(&[]),
            Input::Stream { buf, start, end, .. } => buf.get(*start..*end).unwrap_or(&[]),
        }
    }

    /// Advances past `n` bytes and returns the range they occupied in the backing buffer.
    fn consume(&mut self, n: usize) -> std::ops::Range<usize> {
        match self {
            Input::Map { pos, .. } => {
                let r = *pos..*pos + n;
                *pos += n;
                r
            }
            Input::Stream { start, .. } => {
                let r = *start..*start + n;
                *start += n;
                r
            }
        }
    }

    fn slice(&self, r: std::ops::Range<usize>) -> &[u8] {
        match self {
            Input::Map { map, .. } => map.get(r).unwrap_or(&[]),
            Input::Stream { buf, .. } => buf.get(r).unwrap_or(&[]),
        }
    }

    /// Makes at least `want` bytes available if the input has them. Returns false at the end
    /// of the input with fewer bytes available.
    fn fill(&mut self, want: usize) -> std::io::Result<bool> {
        match self {
            Input::Map { map, pos, .. } => Ok(map.len().saturating_sub(*pos) >= want),
            Input::Stream { reader, buf, start, end, eof, dropped } => {
                while *end - *start < want {
                    if *eof {
                        return Ok(false);
                    }
                    // Keep the unread tail at the front, then grow only if one record needs it.
                    if *start > 0 {
                        *dropped += *start as u64;
                        buf.copy_within(*start..*end, 0);
                        *end -= *start;
                        *start = 0;
                    }
                    if buf.len() < want {
                        buf.resize(want.next_power_of_two().min(MAX_RECORD_BYTES.max(want)), 0);
                    }
                    let n = match reader.read(&mut buf[*end..]) {
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    if n == 0 {
                        *eof = true;
                    }
                    *end += n;
                }
                Ok(true)
            }
        }
    }

    /// Releases mapped pages entirely below `upto`: they were read and no packet lent from
    /// them is alive (lending borrows the source mutably). Without this the resident set would
    /// grow to the size of the file.
    fn release_behind(&mut self, upto: usize) {
        if let Input::Map { map, released, .. } = self {
            if upto >= *released + RELEASE_STEP {
                let page = 4096;
                let end = upto / page * page;
                release_pages(map, *released, end - *released);
                *released = end;
            }
        }
    }

    /// Offset in the input of the next unread byte.
    fn offset(&self) -> u64 {
        match self {
            Input::Map { pos, .. } => *pos as u64,
            Input::Stream { start, dropped, .. } => dropped + *start as u64,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct PcapFormat {
    big_endian: bool,
    nanos: bool,
    modified: bool,
    link: LinkType,
}

#[derive(Clone, Copy, Debug)]
struct NgInterface {
    link: LinkType,
    /// Timestamp units per second (if_tsresol).
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_s: i64,
    snaplen: u32,
}

enum Format {
    Pcap(PcapFormat),
    PcapNg { big_endian: bool, ifaces: Vec<NgInterface> },
}

/// A pcap or pcapng file, or a stream of one.
pub struct FileSource {
    name: String,
    input: Input,
    format: Format,
    stats: SourceStats,
    done: bool,
}

impl FileSource {
    /// Opens `path`; `-` reads standard input. Regular files are memory-mapped.
    pub fn open(path: &str) -> Result<FileSource, CaptureError> {
        let io = |source| CaptureError::Io { path: path.to_string(), source };
        if path == "-" {
            return FileSource::from_reader("-", Box::new(std::io::stdin()));
        }
        let file = File::open(Path::new(path)).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return FileSource::from_reader(path, Box::new(file));
        }
        let map = map_file(&file).map_err(io)?;
        FileSource::new(path, Input::Map { map, pos: 0, released: 0 })
    }

    /// Reads a capture from any byte stream through a bounded buffer.
    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>) -> Result<FileSource, CaptureError> {
        let input = Input::Stream {
            reader,
            buf: vec![0; STREAM_BUF_BYTES],
            start: 0,
            end: 0,
            eof: false,
            dropped: 0,
        };
        FileSource::new(name, input)
    }

    fn new(name: &str, mut input: Input) -> Result<FileSource, CaptureError> {
        let io = |source| CaptureError::Io { path: name.to_string(), source };
        input.fill(24).map_err(io)?;
        let head = input.avail();
        let bad_magic = || CaptureError::BadMagic {
            path: name.to_string(),
            magic: head.iter().take(4).copied().collect(),
        };
        if head.len() < 4 {
            return Err(bad_magic());
        }
        let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let format = if le == PCAPNG_SHB {
            // The byte-order magic of the first section decides; parsing the section header
            // block below records it.
            Format::PcapNg { big_endian: false, ifaces: Vec::new() }
        } else {
            let (magic, big_endian) = if [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED].contains(&le) {
                (le, false)
            } else if [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_MODIFIED].contains(&be) {
                (be, true)
            } else {
                return Err(bad_magic());
            };
            if head.len() < 24 {
                return Err(CaptureError::Corrupt {
                    path: name.to_string(),
                    offset: head.len() as u64,
                    reason: "file ends inside the 24-byte pcap header".into(),
                });
            }
            let link = read_u32(&head[20..24], big_endian);
            input.consume(24);
            Format::Pcap(PcapFormat {
                big_endian,
                nanos: magic == PCAP_MAGIC_NS,
                modified: magic == PCAP_MAGIC_MODIFIED,
                // The upper 16 bits carry FCS/class flags in some writers.
                link: LinkType(link & 0xffff),
            })
        };
        Ok(FileSource { name: name.to_string(), input, format, stats: SourceStats::default(), done: false })
    }

    fn offset(&self) -> u64 {
        self.input.offset()
    }

    fn io_err(&self, source: std::io::Error) -> CaptureError {
        CaptureError::Io { path: self.name.clone(), source }
    }

    fn corrupt(&self, reason: String) -> CaptureError {
        CaptureError::Corrupt { path: self.name.clone(), offset: self.offset(), reason }
    }

    /// Ensures `want` bytes; on a short input marks the record at the current offset as
    /// truncated and returns false.
    fn need(&mut self, want: usize) -> Result<bool, CaptureError> {
        let ok = self.input.fill(want).map_err(|e| self.io_err(e))?;
        if !ok {
            // Bytes left that do not make a whole record: the last record is truncated.
            self.done = true;
            if !self.input.avail().is_empty() {
                self.stats.truncated_at = Some(self.offset());
            }
        }
        Ok(ok)
    }

    /// The next record of a mapped file when it is whole and within bounds: (timestamp, data
    /// range, original length). Anything else (end of input, a bad length, a stream) is left to
    /// the general path of [`FileSource::next_pcap`], which reports it.
    #[inline]
    fn next_pcap_mapped(
        &mut self,
        f: PcapFormat,
        hdr_len: usize,
    ) -> Option<(i64, std::ops::Range<usize>, u32)> {
        let Input::Map { map, pos, released } = &mut self.input else { return None };
        let start = *pos;
        let h = map.get(start..start.checked_add(16)?)?;
        let caplen = read_u32(&h[8..12], f.big_endian) as usize;
        if caplen > MAX_RECORD_BYTES {
            return None;
        }
        let end = start + hdr_len + caplen;
        if end > map.len() {
            return None;
        }
        let ts_sec = read_u32(&h[0..4], f.big_endian);
        let ts_frac = read_u32(&h[4..8], f.big_endian);
        let orig_len = read_u32(&h[12..16], f.big_endian);
        *pos = end;
        if start >= *released + RELEASE_STEP {
            let page = 4096;
            let upto = start / page * page;
            release_pages(map, *released, upto - *released);
            *released = upto;
        }
        self.stats.records += 1;
        self.stats.bytes += (hdr_len + caplen) as u64;
        let ts_ns = i64::from(ts_sec) * 1_000_000_000 + i64::from(ts_frac) * if f.nanos { 1 } else { 1000 };
        Some((ts_ns, start + hdr_len..end, orig_len))
    }

    fn next_pcap(&mut self, f: PcapFormat) -> Result<Next<'_>, CaptureError> {
        let hdr_len = if f.modified { 24 } else { 16 };
        if let Some((ts_ns, range, orig_len)) = self.next_pcap_mapped(f, hdr_len) {
            let data = self.input.slice(range);
            return Ok(Next::Packet(Packet { ts_ns, link: f.link, data, orig_len }));
        }
        if !self.need(hdr_len)? {
            return Ok(Next::End);
        }
        let h = self.input.avail();
        let ts_sec = read_u32(&h[0..4], f.big_endian);
        let ts_frac = read_u32(&h[4..8], f.big_endian);
        let caplen = read_u32(&h[8..12], f.big_endian) as usize;
        let orig_len = read_u32(&h[12..16], f.big_endian);
        if caplen > MAX_RECORD_BYTES {
            return Err(
                self.corrupt(format!("record length {caplen} exceeds the {MAX_RECORD_BYTES}-byte bound"))
            );
        }
        if !self.need(hdr_len + caplen)? {
            return Ok(Next::End);
        }
        let range = self.input.consume(hdr_len + caplen);
        self.input.release_behind(range.start);
        self.stats.records += 1;
        self.stats.bytes += (hdr_len + caplen) as u64;
        let ts_ns = i64::from(ts_sec) * 1_000_000_000 + i64::from(ts_frac) * if f.nanos { 1 } else { 1000 };
        let data = self.input.slice(range.start + hdr_len..range.end);
        Ok(Next::Packet(Packet { ts_ns, link: f.link, data, orig_len }))
    }

    fn next_pcapng(&mut self) -> Result<Next<'_>, CaptureError> {
        loop {
            if !self.need(12)? {
                return Ok(Next::End);
            }
            let Format::PcapNg { big_endian, .. } = &self.format else {
                return Ok(Next::End);
            };
            let mut big_endian = *big_endian;
            let h = self.input.avail();
            let block_type_le = read_u32(&h[0..4], false);
            if block_type_le == PCAPNG_SHB {
                // A new section may switch byte order: the byte-order magic follows the length.
                let bom = read_u32(&h[8..12], false);
                big_endian = bom != 0x1a2b_3c4d;
            }
            let block_len = read_u32(&h[4..8], big_endian) as usize;
            let block_type = read_u32(&h[0..4], big_endian);
            if block_len < 12 || block_len % 4 != 0 || block_len > MAX_RECORD_BYTES {
                return Err(self.corrupt(format!("pcapng block length {block_len} is not valid")));
            }
            if !self.need(block_len)? {
                return Ok(Next::End);
            }
            // Only section headers, interface descriptions and packet blocks matter; every
            // other block (statistics, name resolution, custom, unknown) is skipped unparsed.
            if block_type_le != PCAPNG_SHB && ![1, 3, 6].contains(&block_type) {
                self.input.consume(block_len);
                self.stats.bytes += block_len as u64;
                self.stats.skipped_blocks += 1;
                continue;
            }
            let window = self.input.avail();
            let block = match &window[..block_len] {
                b if block_type_le == PCAPNG_SHB => {
                    parse_sectionheaderblock(b).map(|(_, shb)| Block::SectionHeader(shb))
                }
                b if big_endian => parse_block_be(b).map(|(_, blk)| blk),
                b => parse_block_le(b).map(|(_, blk)| blk),
            };
            let block = match block {
                Ok(b) => b,
                Err(_) => {
                    return Err(self.corrupt(format!(
                        "pcapng block of type {block_type_le:#010x} and length {block_len} cannot be parsed"
                    )));
                }
            };
            let base = window.as_ptr() as usize;
            // What the block means for us: a packet (with its data range), a state change, or
            // nothing.
            enum Step {
                Packet { ts_ns: i64, link: LinkType, data: std::ops::Range<usize>, orig_len: u32 },
                Section(SectionHeaderBlockInfo),
                Interface(NgInterface),
                Skip,
                BadInterface(u32),
            }
            let ifaces = match &self.format {
                Format::PcapNg { ifaces, .. } => ifaces.as_slice(),
                Format::Pcap(_) => &[],
            };
            let step = match block {
                Block::SectionHeader(shb) => Step::Section(SectionHeaderBlockInfo::from(&shb)),
                Block::InterfaceDescription(idb) => Step::Interface(NgInterface {
                    link: LinkType(u32::from(idb.linktype.0 as u16)),
                    units_per_sec: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_s: idb.ts_offset(),
                    snaplen: idb.snaplen,
                }),
                Block::EnhancedPacket(epb) => match ifaces.get(epb.if_id as usize) {
                    Some(ifc) => {
                        let start = epb.data.as_ptr() as usize - base;
                        let len = (epb.caplen as usize).min(epb.data.len());
                        let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        Step::Packet {
                            ts_ns: ts_to_ns(ts, ifc.units_per_sec, ifc.offset_s),
                            link: ifc.link,
                            data: start..start + len,
                            orig_len: epb.origlen,
                        }
                    }
                    None => Step::BadInterface(epb.if_id),
                },
                Block::SimplePacket(spb) => match ifaces.first() {
                    Some(ifc) => {
                        let start = spb.data.as_ptr() as usize - base;
                        let mut len = (spb.origlen as usize).min(spb.data.len());
                        if ifc.snaplen > 0 {
                            len = len.min(ifc.snaplen as usize);
                        }
                        // A simple packet block has no timestamp.
                        Step::Packet {
                            ts_ns: 0,
                            link: ifc.link,
                            data: start..start + len,
                            orig_len: spb.origlen,
                        }
                    }
                    None => Step::BadInterface(0),
                },
                _ => Step::Skip,
            };
            let range = self.input.consume(block_len);
            self.input.release_behind(range.start);
            self.stats.bytes += block_len as u64;
            match step {
                Step::Packet { ts_ns, link, data, orig_len } => {
                    self.stats.records += 1;
                    let data = self.input.slice(range.start + data.start..range.start + data.end);
                    return Ok(Next::Packet(Packet { ts_ns, link, data, orig_len }));
                }
                Step::Section(info) => {
                    self.format = Format::PcapNg { big_endian: info.big_endian, ifaces: Vec::new() };
                }
                Step::Interface(ifc) => {
                    if let Format::PcapNg { ifaces, .. } = &mut self.format {
                        // Bound the table: a file with absurd numbers of interfaces is corrupt.
                        if ifaces.len() < 65_536 {
                            ifaces.push(ifc);
                        }
                    }
                }
                Step::Skip => self.stats.skipped_blocks += 1,
                Step::BadInterface(id) => {
                    self.stats.skipped_blocks += 1;
                    tracing::warn!(file = %self.name, interface = id, "packet block names an interface that was never described; skipped");
                }
            }
        }
    }
}

/// What fabmon keeps of a section header block.
struct SectionHeaderBlockInfo {
    big_endian: bool,
}

impl From<&SectionHeaderBlock<'_>> for SectionHeaderBlockInfo {
    fn from(shb: &SectionHeaderBlock<'_>) -> Self {
        SectionHeaderBlockInfo { big_endian: shb.big_endian() }
    }
}

impl PacketSource for FileSource {
    fn next_packet(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.done {
            return Ok(Next::End);
        }
        match &self.format {
            Format::Pcap(f) => {
                let f = *f;
                self.next_pcap(f)
            }
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn stats(&self) -> SourceStats {
        self.stats.clone()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

fn read_u32(b: &[u8], big_endian: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if big_endian {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn ts_to_ns(ts: u64, units_per_sec: u64, offset_s: i64) -> i64 {
    let units = u128::from(units_per_sec.max(1));
    let ns = u128::from(ts) * 1_000_000_000 / units;
    i64::try_from(ns).unwrap_or(i64::MAX).saturating_add(offset_s.saturating_mul(1_000_000_000))
}

#[allow(unsafe_code)]
fn map_file(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only and private to this process. If another process
    // truncates the file while it is mapped, reads past the new end fault (SIGBUS); fabmon reads
    // finished captures, and the documentation says not to point it at a file being written
    // (use `-` and a pipe for that).
    let map = unsafe { memmap2::Mmap::map(file)? };
    // Sequential access: let the kernel read ahead and drop pages behind us.
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

#[allow(unsafe_code)]
fn release_pages(map: &memmap2::Mmap, offset: usize, len: usize) {
    // SAFETY: the mapping is read-only and file-backed. MADV_DONTNEED drops these pages from
    // the process's page tables; a later access would fault them in again from the file, with
    // the same contents, so no view of memory changes. The range lies inside the mapping
    // (offset + len <= position read so far <= map.len()) and no slice into it is alive: packets
    // are lent by `next_packet(&mut self)`, so every earlier borrow has ended.
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(magic: u32, link: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_le_bytes()); // magic
        v.extend_from_slice(&2u16.to_le_bytes()); // version major
        v.extend_from_slice(&4u16.to_le_bytes()); // version minor
        v.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        v.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        v.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        v.extend_from_slice(&link.to_le_bytes()); // link type
        v
    }

    fn pcap_record(v: &mut Vec<u8>, sec: u32, frac: u32, data: &[u8]) {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes()); // caplen
        v.extend_from_slice(&(data.len() as u32 + 4).to_le_bytes()); // orig len
        v.extend_from_slice(data);
    }

    fn collect(src: &mut FileSource) -> Vec<(i64, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            match src.next_packet() {
                Ok(Next::Packet(p)) => out.push((p.ts_ns, p.data.to_vec())),
                Ok(_) => break,
                Err(e) => {
                    println!("stopped: {e}");
                    break;
                }
            }
        }
        out
    }

    fn stream(bytes: Vec<u8>) -> FileSource {
        FileSource::from_reader("test", Box::new(std::io::Cursor::new(bytes))).unwrap()
    }

    #[test]
    fn pcap_microseconds_and_nanoseconds() {
        let mut us = pcap_header(PCAP_MAGIC_US, 1);
        pcap_record(&mut us, 10, 500, b"abc");
        let pk = collect(&mut stream(us));
        assert_eq!(pk, vec![(10_000_500_000, b"abc".to_vec())]);

        let mut ns = pcap_header(PCAP_MAGIC_NS, 1);
        pcap_record(&mut ns, 10, 500, b"abcd");
        let pk = collect(&mut stream(ns));
        assert_eq!(pk, vec![(10_000_000_500, b"abcd".to_vec())]);
    }

    #[test]
    fn truncated_last_record_is_reported_and_the_rest_delivered() {
        let mut v = pcap_header(PCAP_MAGIC_US, 1);
        pcap_record(&mut v, 1, 0, b"first");
        let good_len = v.len();
        pcap_record(&mut v, 2, 0, b"second record");
        v.truncate(v.len() - 3);
        let mut src = stream(v);
        let pk = collect(&mut src);
        assert_eq!(pk.len(), 1);
        assert_eq!(src.stats().truncated_at, Some(good_len as u64));
    }

    #[test]
    fn bad_magic_names_the_bytes() {
        let err = FileSource::from_reader(
            "x.pcap",
            Box::new(std::io::Cursor::new(b"GET / HTTP/1.1\r\n\r\nxxxxxxxx".to_vec())),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("x.pcap: not a pcap or pcapng file"), "{err}");
    }

    #[test]
    fn absurd_record_length_is_corrupt_with_offset() {
        let mut v = pcap_header(PCAP_MAGIC_US, 1);
        pcap_record(&mut v, 1, 0, b"ok");
        let off = v.len();
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        let mut src = stream(v);
        assert!(matches!(src.next_packet(), Ok(Next::Packet(_))));
        match src.next_packet() {
            Err(CaptureError::Corrupt { offset, .. }) => assert_eq!(offset, off as u64),
            other => panic!("{other:?}"),
        }
    }

    /// A pcapng file: SHB, IDB (ns resolution), an unknown block, an EPB and an SPB.
    #[test]
    fn pcapng_blocks() {
        let mut v = Vec::new();
        // Section header block: type, length 28, byte-order magic, version 1.0, section length -1.
        v.extend_from_slice(&PCAPNG_SHB.to_le_bytes());
        v.extend_from_slice(&28u32.to_le_bytes());
        v.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&(-1i64).to_le_bytes());
        v.extend_from_slice(&28u32.to_le_bytes());
        // Interface description block: link type 1, snaplen 0, option if_tsresol = 9, end.
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&32u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol: 10^-9
        v.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        v.extend_from_slice(&32u32.to_le_bytes());
        // An unknown block type 0x0bad (12 bytes, empty body).
        v.extend_from_slice(&0x0badu32.to_le_bytes());
        v.extend_from_slice(&12u32.to_le_bytes());
        v.extend_from_slice(&12u32.to_le_bytes());
        // Enhanced packet block: interface 0, ts = 5_000_000_123 ns, caplen 5, orig 5, data padded.
        v.extend_from_slice(&6u32.to_le_bytes());
        v.extend_from_slice(&40u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        let ts: u64 = 5_000_000_123;
        v.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        v.extend_from_slice(&(ts as u32).to_le_bytes());
        v.extend_from_slice(&5u32.to_le_bytes());
        v.extend_from_slice(&5u32.to_le_bytes());
        v.extend_from_slice(b"hello\0\0\0");
        v.extend_from_slice(&40u32.to_le_bytes());
        // Simple packet block: orig len 3, data padded.
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&20u32.to_le_bytes());
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(b"abc\0");
        v.extend_from_slice(&20u32.to_le_bytes());

        let mut src = stream(v.clone());
        let pk = collect(&mut src);
        assert_eq!(pk, vec![(5_000_000_123, b"hello".to_vec()), (0, b"abc".to_vec())]);
        assert_eq!(src.stats().skipped_blocks, 1);

        // Same bytes through a file mapping.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.pcapng");
        std::fs::write(&p, &v).unwrap();
        let mut src = FileSource::open(p.to_str().unwrap()).unwrap();
        assert_eq!(collect(&mut src).len(), 2);
    }

    /// A reader that returns one byte at a time exercises buffer refills at every boundary.
    struct Trickle(std::io::Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn stream_refills_at_every_byte_boundary() {
        let mut v = pcap_header(PCAP_MAGIC_US, 1);
        for i in 0..50u32 {
            pcap_record(&mut v, i, 0, &vec![i as u8; (i * 37 % 300) as usize]);
        }
        let mut src = FileSource::from_reader("t", Box::new(Trickle(std::io::Cursor::new(v)))).unwrap();
        let pk = collect(&mut src);
        assert_eq!(pk.len(), 50);
        for (i, (_, d)) in pk.iter().enumerate() {
            assert_eq!(d.len(), i * 37 % 300);
        }
        assert_eq!(src.stats().truncated_at, None);
    }
}
