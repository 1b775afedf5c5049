//! BACnet/IP between the BMS server and the facility controllers: Who-Is / I-Am discovery,
//! device property reads (ReadPropertyMultiple or ReadProperty), SubscribeCOV and COV
//! notifications, present-value polling, occasional WriteProperty.

use super::bacnet as bn;
use super::fab::{Fab, HostId};
use super::rng::Rng;
use super::sched::{label, udp, Ctx, PlantId, Queue, SEC};

pub(crate) const PORT: u16 = 47808;

/// Device properties read for the inventory.
pub(crate) const DEVICE_PROPS: [u32; 6] = [
    bn::PROP_OBJECT_NAME,
    bn::PROP_VENDOR_NAME,
    bn::PROP_MODEL_NAME,
    bn::PROP_FIRMWARE_REVISION,
    bn::PROP_APP_SOFTWARE_VERSION,
    bn::PROP_LOCATION,
];

/// Periodic Who-Is from the BMS server, answered by an I-Am from every controller.
#[derive(Debug)]
pub(crate) struct BacnetDiscovery {
    rng: Rng,
}

impl BacnetDiscovery {
    pub(crate) fn new(seed: u64) -> Self {
        BacnetDiscovery { rng: Rng::new(seed, 0x3000) }
    }

    pub(crate) fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        let s = q.buf.len();
        bn::who_is(&mut q.buf, None, false);
        let bms = fab.host(fab.bms);
        udp(
            q,
            now,
            fab.bms,
            fab.bms_bcast,
            PORT,
            PORT,
            bms.encap,
            q.since(s),
            label::bacnet(bn::PDU_UNCONFIRMED, bn::SVC_WHO_IS),
        );
        i_am_replies(q, &mut self.rng, now, fab, |_| true);
        now + ctx.period(&mut self.rng, 20 * 60 * SEC)
    }
}

/// I-Am broadcasts from the controllers selected by `answer`, 2-300 ms after `now`.
pub(crate) fn i_am_replies(q: &mut Queue, rng: &mut Rng, now: i64, fab: &Fab, answer: impl Fn(u32) -> bool) {
    let mut replies: Vec<(i64, usize)> = fab
        .bacnet
        .iter()
        .enumerate()
        .filter(|(_, n)| answer(fab.ids.bacnet[n.ident].device_instance))
        .map(|(i, _)| (now + rng.range(2_000_000, 300_000_000) as i64, i))
        .collect();
    replies.sort_unstable();
    for (t, i) in replies {
        let node = &fab.bacnet[i];
        let id = &fab.ids.bacnet[node.ident];
        let s = q.buf.len();
        let segmentation = if id.supports_rpm { 0 } else { 3 };
        bn::i_am(&mut q.buf, id.device_instance, segmentation, id.vendor_id);
        let h = fab.host(node.host);
        udp(
            q,
            t,
            node.host,
            fab.bms_bcast,
            PORT,
            PORT,
            h.encap,
            q.since(s),
            label::bacnet(bn::PDU_UNCONFIRMED, bn::SVC_I_AM),
        );
    }
}

/// The BMS server's conversation with one controller.
#[derive(Debug)]
pub(crate) struct BacnetCtl {
    ctl: usize,
    rng: Rng,
    invoke: u8,
    started: bool,
    points: Vec<(u16, u32)>,
    values: Vec<f32>,
    poll_idx: usize,
    t_poll: i64,
    t_cov: i64,
    t_write: i64,
    t_props: i64,
    subscribed: bool,
    process_id: u32,
    /// Requests left unanswered after a DeviceCommunicationControl disable.
    silent: u32,
    pub(crate) plant_dcc: Option<PlantId>,
    pub(crate) plant_wp: Option<PlantId>,
}

impl BacnetCtl {
    pub(crate) fn new(ctl: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed, 0x3100 + ctl as u64);
        let n = 3 + ctl % 4;
        let mut points: Vec<(u16, u32)> = (0..n as u32).map(|i| (bn::OBJ_ANALOG_INPUT, i + 1)).collect();
        points.push((bn::OBJ_ANALOG_VALUE, 1));
        points.push((bn::OBJ_BINARY_INPUT, 1));
        let values = points.iter().map(|_| 15.0 + rng.below(1000) as f32 / 50.0).collect();
        BacnetCtl {
            ctl,
            invoke: rng.below(256) as u8,
            started: false,
            points,
            values,
            poll_idx: 0,
            t_poll: 0,
            t_cov: 0,
            t_write: 0,
            t_props: 0,
            subscribed: false,
            process_id: 1 + ctl as u32,
            silent: 0,
            plant_dcc: None,
            plant_wp: None,
            rng,
        }
    }

    pub(crate) fn start_time(&mut self) -> i64 {
        self.rng.range(SEC as u64, 5 * SEC as u64) as i64
    }

    fn invoke(&mut self) -> u8 {
        self.invoke = self.invoke.wrapping_add(1);
        self.invoke
    }

    fn ids(&self, fab: &Fab) -> (HostId, u32) {
        let node = &fab.bacnet[self.ctl];
        (node.host, fab.ids.bacnet[node.ident].device_instance)
    }

    /// A confirmed request from `client` and, unless the controller is silent, its answer.
    /// Returns the time the exchange ends.
    // Both builders of an exchange plus its addressing.
    #[allow(clippy::too_many_arguments)]
    fn confirmed(
        &mut self,
        q: &mut Queue,
        t: i64,
        fab: &Fab,
        client: HostId,
        service: u8,
        req: impl FnOnce(&mut Vec<u8>),
        ack: impl FnOnce(&mut Vec<u8>) -> u8,
    ) -> i64 {
        let (dev, _) = self.ids(fab);
        let encap = fab.encap(client, dev);
        let s = q.buf.len();
        req(&mut q.buf);
        udp(q, t, client, dev, PORT, PORT, encap, q.since(s), label::bacnet(bn::PDU_CONFIRMED, service));
        if self.silent > 0 {
            self.silent -= 1;
            return t;
        }
        let t2 = t + self.rng.range(4_000_000, 60_000_000) as i64;
        let s = q.buf.len();
        let ty = ack(&mut q.buf);
        udp(q, t2, dev, client, PORT, PORT, encap, q.since(s), label::bacnet(ty, service));
        t2
    }

    fn read_device(&mut self, q: &mut Queue, now: i64, fab: &Fab) -> i64 {
        let (_, inst) = self.ids(fab);
        let id = fab.ids.bacnet[fab.bacnet[self.ctl].ident].clone();
        let texts = [
            id.name.as_str(),
            id.vendor_name.as_str(),
            id.model_name.as_str(),
            id.firmware_revision.as_str(),
            id.application_software_version.as_str(),
            id.location.as_str(),
        ];
        if id.supports_rpm {
            let inv = self.invoke();
            let vals: Vec<(u32, bn::Value<'_>)> =
                DEVICE_PROPS.iter().zip(texts).map(|(p, v)| (*p, bn::Value::Text(v))).collect();
            self.confirmed(
                q,
                now,
                fab,
                fab.bms,
                bn::SVC_READ_PROPERTY_MULTIPLE,
                |b| bn::rpm(b, inv, bn::OBJ_DEVICE, inst, &DEVICE_PROPS),
                |b| {
                    bn::rpm_ack(b, inv, bn::OBJ_DEVICE, inst, &vals);
                    bn::PDU_COMPLEX_ACK
                },
            )
        } else {
            let mut t = now;
            for (p, v) in DEVICE_PROPS.iter().zip(texts) {
                let inv = self.invoke();
                t = self.confirmed(
                    q,
                    t,
                    fab,
                    fab.bms,
                    bn::SVC_READ_PROPERTY,
                    |b| bn::read_property(b, inv, bn::OBJ_DEVICE, inst, *p),
                    |b| {
                        bn::read_property_ack(b, inv, bn::OBJ_DEVICE, inst, *p, bn::Value::Text(v));
                        bn::PDU_COMPLEX_ACK
                    },
                ) + self.rng.range(1_000_000, 10_000_000) as i64;
            }
            t
        }
    }

    fn next_due(&self) -> i64 {
        self.t_poll.min(self.t_cov).min(self.t_write).min(self.t_props)
    }

    pub(crate) fn step(&mut self, now: i64, q: &mut Queue, ctx: &mut Ctx, fab: &Fab) -> i64 {
        if !self.started {
            self.started = true;
            let mut t = self.read_device(q, now, fab);
            if self.ctl % 2 == 0 {
                let inv = self.invoke();
                let (ty, inst) = self.points[0];
                let pid = self.process_id;
                t = self.confirmed(
                    q,
                    t + 5_000_000,
                    fab,
                    fab.bms,
                    bn::SVC_SUBSCRIBE_COV,
                    |b| bn::subscribe_cov(b, inv, pid, ty, inst, 3600),
                    |b| {
                        bn::simple_ack_frame(b, inv, bn::SVC_SUBSCRIBE_COV);
                        bn::PDU_SIMPLE_ACK
                    },
                );
                self.subscribed = true;
            }
            self.t_poll = t + ctx.period(&mut self.rng, 5 * SEC);
            self.t_cov = if self.subscribed { t + ctx.think(&mut self.rng, 30 * SEC) } else { i64::MAX };
            self.t_write = t + ctx.think(&mut self.rng, 30 * 60 * SEC);
            self.t_props = t + ctx.think(&mut self.rng, 3 * 3600 * SEC);
            return self.next_due();
        }
        if ctx.due(self.plant_dcc) || ctx.due(self.plant_wp) {
            self.planted(q, now, ctx, fab);
            return self.next_due();
        }
        let due = self.next_due();
        if now < due {
            return due;
        }
        let (dev, inst) = self.ids(fab);
        if due == self.t_poll {
            let i = self.poll_idx % self.points.len();
            self.poll_idx += 1;
            let (ty, oi) = self.points[i];
            self.values[i] += (self.rng.unit() as f32 - 0.5) * 0.4;
            let v = if ty == bn::OBJ_BINARY_INPUT {
                bn::Value::Enumerated(1)
            } else {
                bn::Value::Real(self.values[i])
            };
            let inv = self.invoke();
            self.confirmed(
                q,
                now,
                fab,
                fab.bms,
                bn::SVC_READ_PROPERTY,
                |b| bn::read_property(b, inv, ty, oi, bn::PROP_PRESENT_VALUE),
                |b| {
                    bn::read_property_ack(b, inv, ty, oi, bn::PROP_PRESENT_VALUE, v);
                    bn::PDU_COMPLEX_ACK
                },
            );
            self.t_poll = now + ctx.period(&mut self.rng, 5 * SEC);
        } else if due == self.t_cov {
            if self.silent == 0 {
                let (ty, oi) = self.points[0];
                self.values[0] += (self.rng.unit() as f32 - 0.5) * 1.5;
                let s = q.buf.len();
                bn::cov_notification(&mut q.buf, self.process_id, inst, ty, oi, 1800, self.values[0]);
                let encap = fab.encap(dev, fab.bms);
                let lbl = label::bacnet(bn::PDU_UNCONFIRMED, bn::SVC_UNCONFIRMED_COV);
                udp(q, now, dev, fab.bms, PORT, PORT, encap, q.since(s), lbl);
            }
            self.t_cov = now + ctx.think(&mut self.rng, 30 * SEC);
        } else if due == self.t_write {
            let inv = self.invoke();
            let v = 18.0 + self.rng.below(80) as f32 / 10.0;
            let prio = if self.rng.chance(0.8) { 8 } else { 10 };
            self.confirmed(
                q,
                now,
                fab,
                fab.bms,
                bn::SVC_WRITE_PROPERTY,
                |b| {
                    bn::write_property(
                        b,
                        inv,
                        bn::OBJ_ANALOG_VALUE,
                        1,
                        bn::PROP_PRESENT_VALUE,
                        bn::Value::Real(v),
                        prio,
                    )
                },
                |b| {
                    bn::simple_ack_frame(b, inv, bn::SVC_WRITE_PROPERTY);
                    bn::PDU_SIMPLE_ACK
                },
            );
            self.t_write = now + ctx.think(&mut self.rng, 30 * 60 * SEC);
        } else {
            self.read_device(q, now, fab);
            self.t_props = now + ctx.think(&mut self.rng, 3 * 3600 * SEC);
        }
        self.next_due()
    }

    /// Planted: an unknown host disables the controller's communication (DCC with a cleartext
    /// password), or writes a present-value.
    fn planted(&mut self, q: &mut Queue, now: i64, ctx: &mut Ctx, fab: &Fab) {
        let intruder = fab.facility_laptop;
        if ctx.due(self.plant_wp) {
            if let Some(p) = self.plant_wp {
                q.mark = Ctx::mark(p);
                let inv = self.rng.below(256) as u8;
                self.confirmed(
                    q,
                    now,
                    fab,
                    intruder,
                    bn::SVC_WRITE_PROPERTY,
                    |b| {
                        bn::write_property(
                            b,
                            inv,
                            bn::OBJ_ANALOG_VALUE,
                            1,
                            bn::PROP_PRESENT_VALUE,
                            bn::Value::Real(55.0),
                            8,
                        )
                    },
                    |b| {
                        bn::simple_ack_frame(b, inv, bn::SVC_WRITE_PROPERTY);
                        bn::PDU_SIMPLE_ACK
                    },
                );
                q.mark = 0;
                ctx.set_generated(p);
            }
        } else if let Some(p) = self.plant_dcc {
            q.mark = Ctx::mark(p);
            let inv = self.rng.below(256) as u8;
            self.confirmed(
                q,
                now,
                fab,
                intruder,
                bn::SVC_DCC,
                |b| bn::dcc(b, inv, Some(30), 1, Some("Fac1l1ty!")),
                |b| {
                    bn::simple_ack_frame(b, inv, bn::SVC_DCC);
                    bn::PDU_SIMPLE_ACK
                },
            );
            q.mark = 0;
            ctx.set_generated(p);
            self.silent = 6;
        }
    }
}
