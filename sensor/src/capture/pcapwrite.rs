//! A small classic-pcap writer (nanosecond timestamps), used by `fabmon synth` and by tests that
//! build captures on the fly.
//!
//! Format: the 24-byte global header with magic `0xa1b23c4d` (nanosecond resolution), version
//! 2.4, then one 16-byte record header per packet (seconds, nanoseconds, captured length,
//! original length) followed by the packet bytes. All fields are written little-endian, so
//! readers see the magic as `4d 3c b2 a1`.

use std::io::{self, Write};

use super::LinkType;

/// Magic number of a pcap file with nanosecond timestamps.
pub const PCAP_NSEC_MAGIC: u32 = 0xa1b2_3c4d;

/// Default snap length written to the global header.
pub const DEFAULT_SNAPLEN: u32 = 65_535;

/// Streams packets into a classic pcap file. Memory use is constant: nothing is buffered here
/// beyond what the wrapped writer buffers (wrap files in a `BufWriter`).
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header and returns the writer.
    pub fn new(out: W, link: LinkType) -> io::Result<Self> {
        Self::with_snaplen(out, link, DEFAULT_SNAPLEN)
    }

    /// As [`PcapWriter::new`] with an explicit snap length; longer packets are cut to it (the
    /// record keeps the original length).
    pub fn with_snaplen(mut out: W, link: LinkType, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&PCAP_NSEC_MAGIC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone (4) and sigfigs (4) stay zero.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&link.0.to_le_bytes());
        out.write_all(&h)?;
        Ok(Self { out, snaplen, packets: 0, bytes: 24 })
    }

    /// Appends one packet. `ts_ns` is nanoseconds since the Unix epoch; times before the epoch
    /// or after 2106 do not fit the format and are rejected.
    pub fn write_packet(&mut self, ts_ns: i64, data: &[u8]) -> io::Result<()> {
        let secs = ts_ns.div_euclid(1_000_000_000);
        let nanos = ts_ns.rem_euclid(1_000_000_000);
        let secs = u32::try_from(secs).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("timestamp {ts_ns} ns outside the pcap range"),
            )
        })?;
        let orig = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet longer than 4 GiB"))?;
        let incl = orig.min(self.snaplen);
        let mut rh = [0u8; 16];
        rh[0..4].copy_from_slice(&secs.to_le_bytes());
        // rem_euclid of a positive modulus is in 0..1e9, which fits u32.
        rh[4..8].copy_from_slice(&(nanos as u32).to_le_bytes());
        rh[8..12].copy_from_slice(&incl.to_le_bytes());
        rh[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&rh)?;
        self.out.write_all(&data[..incl as usize])?;
        self.packets += 1;
        self.bytes += 16 + u64::from(incl);
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Bytes written so far, global header included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the wrapped writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// Flushes the wrapped writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        w.write_packet(1_794_816_000_123_456_789, &[1, 2, 3]).unwrap();
        assert_eq!(w.packets(), 1);
        assert_eq!(w.bytes(), 24 + 16 + 3);
        let b = w.into_inner().unwrap();
        assert_eq!(&b[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&b[4..8], &[2, 0, 4, 0]);
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(b[24..28].try_into().unwrap()), 1_794_816_000);
        assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 123_456_789);
        assert_eq!(u32::from_le_bytes(b[32..36].try_into().unwrap()), 3);
        assert_eq!(&b[40..], &[1, 2, 3]);
    }

    #[test]
    fn reads_back_with_pcap_parser() {
        use pcap_parser::traits::PcapReaderIterator;
        use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        for i in 0..5u8 {
            w.write_packet(1_000_000_000 + i64::from(i), &[i; 60]).unwrap();
        }
        let b = w.into_inner().unwrap();
        let mut r = LegacyPcapReader::new(65536, &b[..]).unwrap();
        let mut n = 0;
        loop {
            match r.next() {
                Ok((off, block)) => {
                    if let PcapBlockOwned::Legacy(p) = block {
                        assert_eq!(p.caplen, 60);
                        assert_eq!(p.ts_usec, n);
                        n += 1;
                    }
                    r.consume(off);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => r.refill().unwrap(),
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(n, 5);
    }

    #[test]
    fn rejects_negative_time() {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).unwrap();
        assert!(w.write_packet(-1, &[0]).is_err());
    }
}
