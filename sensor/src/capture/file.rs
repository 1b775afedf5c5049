//! pcap and pcapng file sources.
