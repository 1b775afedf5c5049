//! The synthetic fab: device identities (configurable), hosts with addresses per Purdue level,
//! and who talks to whom.
//!
//! Addressing: L3 fab systems (EAP hosts, MES, SCADA/HMI, servers) in 10.30.0.x; L2 tool PCs in
//! 10.20.<area>.x; L1 facility PLCs in 10.10.<area>.x; facility BACnet controllers in
//! 10.40.<building>.x with the BMS server at 10.40.0.10; the IT/OT DMZ in 10.35.0.x; the
//! enterprise network in 10.50.x.x.

use serde::{Deserialize, Serialize};

use super::net::Encap;

/// Index into [`Fab::hosts`].
pub(crate) type HostId = u16;

/// Identity of one process tool, as its SECS/GEM interface reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolIdentity {
    /// Host name of the tool PC, e.g. `ETCH-03`.
    pub name: String,
    /// Fab area (process module group), e.g. `etch`.
    pub area: String,
    /// MDLN (SECS-II ASCII, at most 20 characters).
    pub mdln: String,
    /// SOFTREV reported at the start of the capture (at most 20 characters).
    pub softrev: String,
    /// SOFTREV after the planted software update (`softrev_changed`).
    pub softrev_upgrade: String,
    /// HSMS session (device) ID.
    pub device_id: u16,
    /// TCP port the tool listens on for HSMS.
    pub hsms_port: u16,
}

/// Identity of one facility PLC, as Modbus FC 43/14 (Read Device Identification) reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlcIdentity {
    pub name: String,
    /// Facility system, e.g. `gas`, `upw`, `exhaust`.
    pub area: String,
    pub unit_id: u8,
    /// Object 0x00 VendorName.
    pub vendor_name: String,
    /// Object 0x01 ProductCode.
    pub product_code: String,
    /// Object 0x02 MajorMinorRevision (the firmware version).
    pub revision: String,
    /// Object 0x03 VendorUrl (empty: not reported).
    pub vendor_url: String,
    /// Object 0x04 ProductName.
    pub product_name: String,
    /// Object 0x05 ModelName.
    pub model_name: String,
    /// Object 0x06 UserApplicationName (empty: not reported).
    pub user_application_name: String,
}

/// Identity of one BACnet controller: its Device object's properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacnetIdentity {
    /// object-name (77).
    pub name: String,
    /// Building or facility system, e.g. `fab1-hvac`.
    pub area: String,
    pub device_instance: u32,
    /// vendor-identifier (120), also in I-Am.
    pub vendor_id: u16,
    /// vendor-name (121).
    pub vendor_name: String,
    /// model-name (70).
    pub model_name: String,
    /// firmware-revision (44).
    pub firmware_revision: String,
    /// application-software-version (12).
    pub application_software_version: String,
    /// location (58).
    pub location: String,
    /// Answers ReadPropertyMultiple (otherwise the BMS reads the properties one by one).
    pub supports_rpm: bool,
}

/// All device identities of the synthetic fab. The topology follows the tables: one tool PC per
/// tool entry, one PLC per PLC entry, one controller per BACnet entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthIdentities {
    pub tools: Vec<ToolIdentity>,
    pub plcs: Vec<PlcIdentity>,
    pub bacnet: Vec<BacnetIdentity>,
}

/// Tool family: (area, host name prefix, MDLN, SOFTREV, upgraded SOFTREV, HSMS port base).
type ToolFamily = (&'static str, &'static str, &'static str, &'static str, &'static str, u16);

/// Tool families per area. Vendors and models are fictional.
#[rustfmt::skip]
const TOOL_FAMILIES: &[ToolFamily] = &[
    ("litho", "LITHO", "ORIX-S620i", "7.4.2", "7.5.0", 5000),
    ("litho", "TRACK", "CTD-8800", "12.1.0-b77", "12.2.0-b12", 5100),
    ("etch", "ETCH", "PLASMAX-4K", "4.10.3", "4.11.0", 5010),
    ("etch", "CRYO", "CRYO-E300", "2.8.15", "2.9.1", 6001),
    ("depo", "CVD", "VAPORA-CVD9", "9.2.1", "9.3.0", 5200),
    ("depo", "PVD", "SPUTRA-P5", "5.0.44", "5.1.2", 5201),
    ("thermal", "FURN", "THERMA-VF12", "3.3.7", "3.4.0", 5300),
    ("thermal", "RTP", "RTP-QX7", "1.9.9", "2.0.1", 5301),
    ("cmp", "CMP", "PLANAR-M8", "6.6.0", "6.7.2", 5400),
    ("metrology", "METRO", "OPTIMET-OX3", "11.0.5", "11.1.0", 7000),
    ("metrology", "CDSEM", "CDSEM-V9", "8.2.30", "8.3.1", 5500),
    ("wet", "WET", "AQUACLEAN-W6", "2.2.2", "2.3.0", 4000),
    ("implant", "IMP", "IONEX-HC2", "15.4.1", "15.5.0", 5600),
    ("implant", "ANNEAL", "LASERA-A2", "1.2.0", "1.3.0", 10010),
];

/// PLC family: (area, name prefix, vendor, product code, revision, url, product name, model).
type PlcFamily = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Facility PLC families. Vendors and models are fictional.
#[rustfmt::skip]
const PLC_FAMILIES: &[PlcFamily] = &[
    ("gas", "GASCAB", "Norvik Automation", "NX-520-CPU", "V2.14", "http://www.norvik-automation.example", "NX-520 Controller", "NX-520"),
    ("gas", "VMB", "Norvik Automation", "NX-310-CPU", "V1.08", "http://www.norvik-automation.example", "NX-310 Compact", "NX-310"),
    ("chemical", "CDS", "Kestrel Controls", "KC3000-E", "3.2.1", "", "KC-3000 Process Controller", "KC-3000E"),
    ("upw", "UPW", "Kestrel Controls", "KC3100-E", "3.4.0", "", "KC-3100 Process Controller", "KC-3100E"),
    ("exhaust", "SCRUB", "Brightwater Systems", "BW-SCR-200", "5.1", "http://www.brightwater.example", "Scrubber Controller", "SCR-200"),
    ("hvac", "CHILL", "Polar Dynamics", "PD-CH7-PLC", "7.0.3", "", "Chiller Plant PLC", "CH7"),
    ("power", "PDU", "Aurum Power", "AP-M70", "2.0.9", "http://www.aurum-power.example", "Power Meter M70", "M70-3P"),
    ("exhaust", "ABATE", "Brightwater Systems", "BW-ABT-90", "4.7", "http://www.brightwater.example", "Abatement Controller", "ABT-90"),
];

/// BACnet controller family: (area, name prefix, vendor id, vendor name, model, firmware,
/// application version, RPM support).
type BacnetFamily =
    (&'static str, &'static str, u16, &'static str, &'static str, &'static str, &'static str, bool);

/// Facility BACnet controller families. Vendors are fictional; their vendor ids are placed
/// above the range the ASHRAE registry has assigned so far.
#[rustfmt::skip]
const BACNET_FAMILIES: &[BacnetFamily] = &[
    ("fab1-hvac", "AHU", 4101, "Halvard Building Controls", "HBC-DDC-640", "4.2.17", "AHU-SEQ 2.3", true),
    ("fab1-hvac", "FFU", 4101, "Halvard Building Controls", "HBC-FCU-220", "4.2.17", "FFU-ZONE 1.9", true),
    ("fab1-cleanroom", "CRM", 4102, "Stratum Controls", "SC-Edge 8", "2.11.0", "CR-PRESS 5.0", true),
    ("fab1-utilities", "CDA", 4103, "Veloxa", "VX-BC12", "1.4.6", "UTIL-STD 1.1", false),
    ("fab2-hvac", "MAU", 4101, "Halvard Building Controls", "HBC-DDC-640", "4.1.9", "MAU-SEQ 2.0", true),
    ("fab2-utilities", "PCW", 4103, "Veloxa", "VX-BC12", "1.4.2", "PCW-LOOP 3.2", false),
];

impl Default for SynthIdentities {
    /// 48 tools in 8 areas, 24 facility PLCs, 20 BACnet controllers, all fictional.
    fn default() -> Self {
        let mut tools = Vec::new();
        // Six tools per area, alternating between the families of the area.
        let areas = ["litho", "etch", "depo", "thermal", "cmp", "metrology", "wet", "implant"];
        for area in areas {
            let fams: Vec<_> = TOOL_FAMILIES.iter().filter(|f| f.0 == area).collect();
            for k in 0..6u16 {
                let f = fams[usize::from(k) % fams.len()];
                let n = k / fams.len() as u16 + 1;
                tools.push(ToolIdentity {
                    name: format!("{}-{:02}", f.1, n),
                    area: area.to_string(),
                    mdln: f.2.to_string(),
                    softrev: f.3.to_string(),
                    softrev_upgrade: f.4.to_string(),
                    // Most tools use device ID 0 or 1; some are numbered per tool.
                    device_id: match f.5 % 3 {
                        0 => 0,
                        1 => 1,
                        _ => 100 + k,
                    },
                    // Some families listen on one port for all tools, others one port each.
                    hsms_port: if f.5 % 2 == 0 { f.5 } else { f.5 + k },
                });
            }
        }
        let mut plcs = Vec::new();
        for (i, f) in PLC_FAMILIES.iter().cycle().take(24).enumerate() {
            plcs.push(PlcIdentity {
                name: format!("{}-{:02}", f.1, i / PLC_FAMILIES.len() + 1),
                area: f.0.to_string(),
                unit_id: if i % 4 == 3 { 255 } else { 1 },
                vendor_name: f.2.to_string(),
                product_code: f.3.to_string(),
                revision: f.4.to_string(),
                vendor_url: f.5.to_string(),
                product_name: f.6.to_string(),
                model_name: f.7.to_string(),
                user_application_name: if i % 3 == 0 {
                    format!("{}_CTRL_V{}", f.1, 3 + i % 5)
                } else {
                    String::new()
                },
            });
        }
        let mut bacnet = Vec::new();
        for (i, f) in BACNET_FAMILIES.iter().cycle().take(20).enumerate() {
            let n = i / BACNET_FAMILIES.len() + 1;
            let building = if f.0.starts_with("fab2") { 2 } else { 1 };
            bacnet.push(BacnetIdentity {
                name: format!("{}-{}-{:02}", f.1, if building == 1 { "F1" } else { "F2" }, n),
                area: f.0.to_string(),
                device_instance: building * 100_000 + 1000 + i as u32,
                vendor_id: f.2,
                vendor_name: f.3.to_string(),
                model_name: f.4.to_string(),
                firmware_revision: f.5.to_string(),
                application_software_version: f.6.to_string(),
                location: format!(
                    "Fab {building} {} level {}",
                    if i % 2 == 0 { "sub-fab" } else { "mechanical" },
                    1 + i % 3
                ),
                supports_rpm: f.7,
            });
        }
        SynthIdentities { tools, plcs, bacnet }
    }
}

/// Real ICS product identities that published advisories name, for testing the vulnerability
/// matcher. Each entry replaces the identity at its index. Extend the tables to add more.
pub mod advisory_matches {
    /// A PLC identity: (index into `plcs`, vendor, product code, revision, url, product
    /// name, model).
    pub type PlcMatch =
        (usize, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str);
    /// A BACnet identity: (index into `bacnet`, vendor id, vendor name, model, firmware,
    /// application version).
    pub type BacnetMatch = (usize, u16, &'static str, &'static str, &'static str, &'static str);

    /// Modicon M340 and M221 PLCs and a PowerLogic PM5560 meter (Modbus FC 43/14).
    #[rustfmt::skip]
    pub const PLCS: &[PlcMatch] = &[
        (0, "Schneider Electric", "BMX P34 2020", "v3.20", "http://www.schneider-electric.com", "Modicon M340", "BMX P34 2020"),
        (1, "Schneider Electric", "TM221CE16R", "1.5.1.0", "http://www.schneider-electric.com", "Modicon M221", "TM221CE16R"),
        (6, "Schneider Electric", "METSEPM5560", "2.4.0", "http://www.schneider-electric.com", "PowerLogic PM5560", "PM5560"),
    ];
    /// Siemens Desigo PXC, Delta Controls enteliBUS and Johnson Controls Metasys NAE
    /// controllers (BACnet device properties).
    #[rustfmt::skip]
    pub const BACNET: &[BacnetMatch] = &[
        (0, 7, "Siemens Building Technologies", "PXC22.D", "V5.00.150", "V5.00.150"),
        (1, 8, "Delta Controls", "eBCON", "3.40 R5 build 571848", "3.40"),
        (2, 5, "Johnson Controls, Inc.", "MS-NAE5510-2", "8.0.0.0", "8.0"),
    ];
}

impl SynthIdentities {
    /// The default identities with a few real ICS products swapped in (see
    /// [`advisory_matches`]): a Schneider Electric Modicon M340 "BMX P34 2020" firmware
    /// "v3.20" and other PLCs over Modbus 43/14, and Siemens, Delta Controls and Johnson
    /// Controls BACnet controllers.
    pub fn with_advisory_matches() -> Self {
        let mut ids = Self::default();
        for &(i, vendor, code, rev, url, product, model) in advisory_matches::PLCS {
            if let Some(p) = ids.plcs.get_mut(i) {
                p.vendor_name = vendor.to_string();
                p.product_code = code.to_string();
                p.revision = rev.to_string();
                p.vendor_url = url.to_string();
                p.product_name = product.to_string();
                p.model_name = model.to_string();
            }
        }
        for &(i, vid, vendor, model, fw, app) in advisory_matches::BACNET {
            if let Some(b) = ids.bacnet.get_mut(i) {
                b.vendor_id = vid;
                b.vendor_name = vendor.to_string();
                b.model_name = model.to_string();
                b.firmware_revision = fw.to_string();
                b.application_software_version = app.to_string();
            }
        }
        ids
    }
}

/// One addressable host of the fab.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub ip: [u8; 4],
    pub mac: [u8; 6],
    /// Initial TTL of the host's stack.
    pub ttl: u8,
    pub name: String,
    pub role: &'static str,
    pub level: &'static str,
    pub area: String,
    /// Tagging of the access segment the host sits on.
    pub encap: Encap,
    /// Listed in the summary's assets (broadcast addresses and plant-only hosts are not, or
    /// only when used).
    pub listed: bool,
    /// Takes part only in planted deviations.
    pub plant_only: bool,
}

impl Host {
    pub(crate) fn ip_string(&self) -> String {
        let [a, b, c, d] = self.ip;
        format!("{a}.{b}.{c}.{d}")
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ToolNode {
    pub host: HostId,
    pub eap: HostId,
    pub ident: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct PlcNode {
    pub host: HostId,
    pub client: HostId,
    pub ident: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct BacnetNode {
    pub host: HostId,
    pub ident: usize,
}

/// The whole topology.
#[derive(Clone, Debug)]
pub(crate) struct Fab {
    pub hosts: Vec<Host>,
    pub ids: SynthIdentities,
    pub tools: Vec<ToolNode>,
    pub plcs: Vec<PlcNode>,
    pub bacnet: Vec<BacnetNode>,
    pub eaps: Vec<HostId>,
    pub mes: HostId,
    pub rms: HostId,
    pub dns: HostId,
    pub ntp: HostId,
    pub syslog: HostId,
    pub scada: Vec<HostId>,
    pub bms: HostId,
    pub bms_bcast: HostId,
    pub dmz_patch: HostId,
    pub dmz_filegw: HostId,
    pub dmz_hist: HostId,
    pub enterprise_ws: Vec<HostId>,
    /// Hosts of the planted deviations.
    pub rogue: HostId,
    pub eng_ws: HostId,
    pub contractor: HostId,
    pub facility_laptop: HostId,
    pub enterprise_intruder: HostId,
}

/// VMware's OUI: L3 servers run as virtual machines.
const OUI_VM: [u8; 3] = [0x00, 0x50, 0x56];

struct Builder {
    hosts: Vec<Host>,
}

impl Builder {
    // One argument per host attribute.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        ip: [u8; 4],
        name: &str,
        role: &'static str,
        level: &'static str,
        area: &str,
        ttl: u8,
        encap: Encap,
        kind: u8,
    ) -> HostId {
        // Distinct MACs: VMware OUI for virtual servers, locally administered addresses with a
        // per-class byte for the rest (derived from the IP, so unique per host).
        let mac = if kind == 0 {
            [OUI_VM[0], OUI_VM[1], OUI_VM[2], ip[1] & 0x3F, ip[2], ip[3]]
        } else {
            [0x02, kind, ip[0], ip[1], ip[2], ip[3]]
        };
        self.hosts.push(Host {
            ip,
            mac,
            ttl,
            name: name.to_string(),
            role,
            level,
            area: area.to_string(),
            encap,
            listed: true,
            plant_only: false,
        });
        (self.hosts.len() - 1) as HostId
    }
}

fn area_numbers<'a>(areas: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for a in areas {
        if !seen.iter().any(|s| s == a) {
            seen.push(a.to_string());
        }
    }
    seen
}

impl Fab {
    pub(crate) fn build(ids: &SynthIdentities) -> Fab {
        let mut b = Builder { hosts: Vec::new() };
        let l3 = |n: u8| [10, 30, 0, n];
        let dns = b.add(l3(2), "DNS01", "dns server", "L3", "fab-systems", 64, Encap::Untagged, 0);
        let ntp = b.add(l3(3), "NTP01", "ntp server", "L3", "fab-systems", 64, Encap::Untagged, 0);
        let syslog =
            b.add(l3(5), "SIEM-COLL01", "syslog collector", "L3", "fab-systems", 64, Encap::Untagged, 0);
        let mes = b.add(l3(20), "MES01", "mes", "L3", "fab-systems", 64, Encap::Untagged, 0);
        let rms =
            b.add(l3(30), "RMS01", "recipe and file server", "L3", "fab-systems", 128, Encap::Untagged, 0);
        let tool_areas = area_numbers(ids.tools.iter().map(|t| t.area.as_str()));
        let mut eaps = Vec::new();
        for (i, a) in tool_areas.iter().enumerate() {
            let name = format!("EAP-{}", a.to_uppercase());
            eaps.push(b.add(
                [10, 30, (i / 100) as u8, 100 + (i % 100) as u8],
                &name,
                "eap host",
                "L3",
                a,
                64,
                Encap::Untagged,
                0,
            ));
        }
        let scada = vec![
            b.add(l3(40), "FMCS-SCADA01", "scada", "L3", "facility", 128, Encap::Untagged, 0),
            b.add(l3(41), "FMCS-HMI02", "hmi", "L3", "facility", 128, Encap::Untagged, 0),
            b.add(l3(42), "FMCS-HIST01", "historian", "L3", "facility", 128, Encap::Untagged, 0),
        ];
        let bms = b.add([10, 40, 0, 10], "BMS01", "bms server", "L3", "facility", 128, Encap::Dot1q(140), 0);
        let bms_bcast =
            b.add([10, 40, 255, 255], "broadcast", "broadcast", "-", "facility", 0, Encap::Dot1q(140), 0xFF);
        b.hosts[usize::from(bms_bcast)].mac = [0xFF; 6];
        b.hosts[usize::from(bms_bcast)].listed = false;

        let mut tools = Vec::new();
        let mut per_area = vec![0u32; tool_areas.len()];
        for (i, t) in ids.tools.iter().enumerate() {
            let a = tool_areas.iter().position(|x| *x == t.area).unwrap_or(0);
            let k = per_area[a];
            per_area[a] += 1;
            let ip = [10, 20, (1 + a as u32 + 16 * (k / 240)) as u8, (10 + k % 240) as u8];
            // Even areas reach the SPAN over a tagged trunk, odd ones from an access port.
            let encap = if a % 2 == 0 { Encap::Dot1q(100 + a as u16) } else { Encap::Untagged };
            let host = b.add(ip, &t.name, "tool pc", "L2", &t.area, 128, encap, 0x20);
            tools.push(ToolNode { host, eap: eaps[a], ident: i });
        }
        let plc_areas = area_numbers(ids.plcs.iter().map(|p| p.area.as_str()));
        let mut plcs = Vec::new();
        let mut per_area = vec![0u32; plc_areas.len()];
        for (i, p) in ids.plcs.iter().enumerate() {
            let a = plc_areas.iter().position(|x| *x == p.area).unwrap_or(0);
            let k = per_area[a];
            per_area[a] += 1;
            let ip = [10, 10, (1 + a as u32 + 16 * (k / 240)) as u8, (10 + k % 240) as u8];
            let host = b.add(
                ip,
                &p.name,
                "plc",
                "L1",
                &p.area,
                64,
                // Half of the facility areas reach the SPAN over a tagged trunk.
                if a % 2 == 0 { Encap::Dot1q(110 + a as u16) } else { Encap::Untagged },
                0x10,
            );
            plcs.push(PlcNode { host, client: scada[a % scada.len()], ident: i });
        }
        let mut bacnet = Vec::new();
        let mut per_bldg = [0u32; 2];
        for (i, c) in ids.bacnet.iter().enumerate() {
            let bldg = usize::from(c.area.starts_with("fab2"));
            let k = per_bldg[bldg];
            per_bldg[bldg] += 1;
            let ip = [10, 40, (1 + bldg as u32 + 16 * (k / 240)) as u8, (10 + k % 240) as u8];
            // The second building's facility network reaches the core through a provider
            // bridge: its frames carry an 802.1ad service tag over the customer tag.
            let encap = if bldg == 0 { Encap::Dot1q(140) } else { Encap::QinQ { outer: 3001, inner: 141 } };
            let host = b.add(ip, &c.name, "bacnet controller", "L2", &c.area, 255, encap, 0x40);
            bacnet.push(BacnetNode { host, ident: i });
        }
        let dmz = |n: u8| [10, 35, 0, n];
        let dmz_patch = b.add(dmz(20), "DMZ-WSUS01", "patch relay", "L3.5", "dmz", 128, Encap::Untagged, 0);
        let dmz_filegw =
            b.add(dmz(30), "DMZ-FILEGW01", "file transfer gateway", "L3.5", "dmz", 64, Encap::Untagged, 0);
        let dmz_hist =
            b.add(dmz(40), "DMZ-HIST01", "historian replica", "L3.5", "dmz", 128, Encap::Untagged, 0);
        let mut enterprise_ws = Vec::new();
        for k in 0..12u8 {
            let name = format!("WS-{:04}", 1200 + u16::from(k) * 7);
            enterprise_ws.push(b.add(
                [10, 50, 20, 10 + k],
                &name,
                "workstation",
                "L4",
                "enterprise",
                128,
                Encap::Untagged,
                0x50,
            ));
        }
        let rogue = b.add(
            [10, 99, 0, 66],
            "unknown-10.99.0.66",
            "unknown",
            "unknown",
            "unknown",
            64,
            Encap::Untagged,
            0x99,
        );
        let eng_ws = b.add(
            l3(77),
            "ENG-WS07",
            "engineering workstation",
            "L3",
            "fab-systems",
            128,
            Encap::Untagged,
            0x30,
        );
        let contractor = b.add(
            [10, 10, 9, 23],
            "unknown-10.10.9.23",
            "unknown",
            "unknown",
            "facility",
            128,
            Encap::Untagged,
            0x11,
        );
        let facility_laptop = b.add(
            [10, 40, 9, 50],
            "unknown-10.40.9.50",
            "unknown",
            "unknown",
            "facility",
            128,
            Encap::Dot1q(140),
            0x41,
        );
        let enterprise_intruder =
            b.add([10, 50, 20, 37], "WS-1377", "workstation", "L4", "enterprise", 128, Encap::Untagged, 0x50);
        for h in [rogue, eng_ws, contractor, facility_laptop, enterprise_intruder] {
            b.hosts[usize::from(h)].plant_only = true;
        }
        Fab {
            hosts: b.hosts,
            ids: ids.clone(),
            tools,
            plcs,
            bacnet,
            eaps,
            mes,
            rms,
            dns,
            ntp,
            syslog,
            scada,
            bms,
            bms_bcast,
            dmz_patch,
            dmz_filegw,
            dmz_hist,
            enterprise_ws,
            rogue,
            eng_ws,
            contractor,
            facility_laptop,
            enterprise_intruder,
        }
    }

    pub(crate) fn host(&self, id: HostId) -> &Host {
        // Every HostId handed out indexes `hosts`.
        &self.hosts[usize::from(id)]
    }

    pub(crate) fn ip(&self, id: HostId) -> String {
        self.host(id).ip_string()
    }

    /// The tagging of a flow between two hosts: that of the lower-level (access) end.
    pub(crate) fn encap(&self, a: HostId, b: HostId) -> Encap {
        let (ha, hb) = (self.host(a), self.host(b));
        if ha.encap != Encap::Untagged && (hb.encap == Encap::Untagged || ha.level <= hb.level) {
            ha.encap
        } else {
            hb.encap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_consistent() {
        let ids = SynthIdentities::default();
        assert_eq!(ids.tools.len(), 48);
        assert_eq!(ids.plcs.len(), 24);
        assert_eq!(ids.bacnet.len(), 20);
        for t in &ids.tools {
            assert!(t.mdln.len() <= 20 && t.softrev.len() <= 20 && t.softrev_upgrade.len() <= 20);
            assert_ne!(t.softrev, t.softrev_upgrade);
        }
        let fab = Fab::build(&ids);
        let mut ips: Vec<_> = fab.hosts.iter().map(|h| h.ip).collect();
        let mut macs: Vec<_> = fab.hosts.iter().map(|h| h.mac).collect();
        ips.sort_unstable();
        ips.dedup();
        macs.sort_unstable();
        macs.dedup();
        assert_eq!(ips.len(), fab.hosts.len());
        assert_eq!(macs.len(), fab.hosts.len());
        // Ports mostly in 5000-5999, some elsewhere.
        let inside = ids.tools.iter().filter(|t| (5000..6000).contains(&t.hsms_port)).count();
        assert!(inside > ids.tools.len() / 2 && inside < ids.tools.len());
    }

    #[test]
    fn advisory_identities_swap_in() {
        let ids = SynthIdentities::with_advisory_matches();
        assert_eq!(ids.plcs[0].vendor_name, "Schneider Electric");
        assert_eq!(ids.plcs[0].product_code, "BMX P34 2020");
        assert_eq!(ids.plcs[0].revision, "v3.20");
        assert_eq!(ids.bacnet[0].vendor_id, 7);
        assert_eq!(ids.tools, SynthIdentities::default().tools);
    }
}
