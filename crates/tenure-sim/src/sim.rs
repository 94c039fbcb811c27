//! The generator: the catalogue first, then one customer at a time, each from its own random stream.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp1, Gamma, StandardNormal};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::out::{civil_from_days, push_id, Table};
use crate::params::{SimParams, SimSummary};
use crate::text::{self, Issue, Topic, CATEGORIES};

const DAY: i64 = 86_400;
const WEEK: f64 = 7.0 * 86_400.0;

/// Relative order and browsing activity by hour of day (UTC): quiet nights, a lunch bump, evening peak.
const HOUR_WEIGHTS: [f64; 24] = [
    1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.2, 3.8, 4.3, 5.0, 4.6, 4.0, 3.9, 4.1, 4.5, 5.0,
    6.0, 6.6, 6.2, 4.6, 2.6,
];

/// Churn window of `churned_in_last_90d`, and the horizon of `expected_orders_next_90d`.
const HORIZON_DAYS: i64 = 90;

/// Chance an order is cancelled before it ships (no experience, no review, no ticket follows).
const CANCEL_PROB: f64 = 0.025;
/// Intercept of the chance of an issue, logistic(ISSUE_INTERCEPT − 1.5·experience): 5.7% at e = 0.
const ISSUE_INTERCEPT: f64 = -2.8;
/// Chance that a review or ticket of an order after which the customer resolved to leave says so.
const SAYS_LEAVING_PROB: f64 = 0.9;
/// Chance a completed order without a damaged or wrong item is returned anyway.
const BASE_RETURN_PROB: f64 = 0.02;
/// Chance an order with a broken or wrong item is returned.
const ISSUE_RETURN_PROB: f64 = 0.6;

/// Event kinds, in the order of `EVENT_NAMES`.
const VIEW: u8 = 0;
const ADD_TO_CART: u8 = 1;
const CHECKOUT: u8 = 2;
const EMAIL_OPEN: u8 = 3;
const EMAIL_CLICK: u8 = 4;
const EVENT_NAMES: [&str; 5] = [
    "view",
    "add_to_cart",
    "checkout",
    "email_open",
    "email_click",
];
const NO_PRODUCT: u32 = u32::MAX;

const ORDER_CHANNELS: [(&str, f64); 3] = [("web", 0.55), ("app", 0.30), ("marketplace", 0.15)];

struct Product {
    category: u8,
    item: u16,
    price_cents: i64,
    quality: f64,
}

/// One event of the current customer, buffered so that the customer's events are written in time order.
#[derive(Clone, Copy)]
struct Event {
    at: i64,
    kind: u8,
    product: u32,
    session: u64,
}

/// One line of the current order.
#[derive(Clone, Copy)]
struct Line {
    product: u32,
    quantity: u32,
    unit_cents: i64,
}

struct Tables {
    customers: Table,
    orders: Table,
    items: Table,
    events: Table,
    reviews: Table,
    tickets: Table,
    truth: Table,
}

impl Tables {
    fn create(dir: &Path) -> Result<Tables> {
        Ok(Tables {
            customers: Table::create(
                dir,
                "customers.csv",
                &[
                    "customer_id",
                    "created_at",
                    "country",
                    "region",
                    "city",
                    "email",
                    "phone",
                ],
            )?,
            orders: Table::create(
                dir,
                "orders.csv",
                &[
                    "order_id",
                    "customer_id",
                    "ordered_at",
                    "amount",
                    "currency",
                    "status",
                    "channel",
                ],
            )?,
            items: Table::create(
                dir,
                "order_items.csv",
                &["order_id", "line", "product_id", "quantity", "unit_price"],
            )?,
            events: Table::create(
                dir,
                "events.csv",
                &[
                    "event_id",
                    "customer_id",
                    "event_type",
                    "occurred_at",
                    "product_id",
                    "session_id",
                ],
            )?,
            reviews: Table::create(
                dir,
                "reviews.csv",
                &[
                    "review_id",
                    "customer_id",
                    "product_id",
                    "rating",
                    "text",
                    "created_at",
                    "language",
                ],
            )?,
            tickets: Table::create(
                dir,
                "tickets.csv",
                &[
                    "ticket_id",
                    "customer_id",
                    "text",
                    "created_at",
                    "channel",
                    "resolved",
                ],
            )?,
            truth: Table::create(
                dir,
                "ground_truth.csv",
                &[
                    "customer_id",
                    "prospect",
                    "alive_at_end",
                    "dropout_at",
                    "churned_in_last_90d",
                    "purchase_rate_per_week",
                    "dropout_prob",
                    "base_dropout_prob",
                    "mean_spend",
                    "satisfaction",
                    "orders",
                    "first_order_at",
                    "last_order_at",
                    "expected_orders_next_90d",
                ],
            )?,
        })
    }

    fn finish(self) -> Result<()> {
        for t in [
            self.customers,
            self.orders,
            self.items,
            self.events,
            self.reviews,
            self.tickets,
            self.truth,
        ] {
            t.finish()?;
        }
        Ok(())
    }
}

/// The latent draws of one customer.
struct Latent {
    zh: bool,
    place: &'static text::Place,
    satisfaction: f64,
    /// Purchase rate per week.
    lambda: f64,
    base_p: f64,
    p: f64,
    /// Chance that an order issue makes this customer leave after that order (0 when switched off).
    leave_prob: f64,
    /// Gamma-Gamma ν: the customer's orders have target spend Gamma(spend_p, rate ν).
    nu: f64,
    favourite: usize,
    channel: usize,
    prospect: bool,
    created_at: i64,
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn product_id(buf: &mut String, index: u32) {
    push_id(buf, 'P', u64::from(index) + 1, 6);
}

/// Generator state: the catalogue, the distributions, the open tables, id counters and reused buffers.
struct Gen<'a> {
    params: &'a SimParams,
    base_rng: ChaCha8Rng,
    start_secs: i64,
    end_secs: i64,
    start_days: i64,
    span_days: f64,
    hour_cdf: [f64; 24],
    lambda_dist: Gamma<f64>,
    p_dist: Beta<f64>,
    nu_dist: Gamma<f64>,
    spend_dist: Gamma<f64>,
    products: Vec<Product>,
    by_category: Vec<Vec<u32>>,
    tables: Tables,
    summary: SimSummary,
    sessions: u64,
    cid: String,
    oid: String,
    pid: String,
    text: String,
    events: Vec<Event>,
    lines: Vec<Line>,
}

fn dist_error(name: &'static str, e: impl ToString) -> Error {
    Error::Param {
        name,
        value: e.to_string(),
        expected: "pass parameters that give a valid distribution",
    }
}

impl<'a> Gen<'a> {
    fn new(params: &'a SimParams, out_dir: &Path) -> Result<Gen<'a>> {
        let midnight = |d: chrono::NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp())
        };
        let start_secs = midnight(params.start);
        let end_secs = midnight(params.end) + DAY;
        let mut hour_cdf = [0.0; 24];
        let total: f64 = HOUR_WEIGHTS.iter().sum();
        let mut acc = 0.0;
        for (c, w) in hour_cdf.iter_mut().zip(HOUR_WEIGHTS) {
            acc += w / total;
            *c = acc;
        }
        let tables = Tables::create(out_dir)?;
        Ok(Gen {
            params,
            base_rng: ChaCha8Rng::seed_from_u64(params.seed),
            start_secs,
            end_secs,
            start_days: start_secs.div_euclid(DAY),
            span_days: ((end_secs - start_secs) / DAY) as f64,
            hour_cdf,
            lambda_dist: Gamma::new(params.r, 1.0 / params.alpha)
                .map_err(|e| dist_error("r", e))?,
            p_dist: Beta::new(params.a, params.b).map_err(|e| dist_error("a", e))?,
            nu_dist: Gamma::new(params.spend_q, 1.0 / params.spend_gamma)
                .map_err(|e| dist_error("spend_q", e))?,
            spend_dist: Gamma::new(params.spend_p, 1.0).map_err(|e| dist_error("spend_p", e))?,
            products: Vec::with_capacity(params.products as usize),
            by_category: vec![Vec::new(); CATEGORIES.len()],
            tables,
            summary: SimSummary::default(),
            sessions: 0,
            cid: String::with_capacity(16),
            oid: String::with_capacity(16),
            pid: String::with_capacity(16),
            text: String::with_capacity(512),
            events: Vec::with_capacity(256),
            lines: Vec::with_capacity(8),
        })
    }

    /// The customer's own stream: order-independent, so any customer can be regenerated alone.
    fn rng_for(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = self.base_rng.clone();
        rng.set_stream(stream);
        rng
    }

    /// Writes `products.csv` from stream 0 and keeps the catalogue in memory.
    fn catalogue(&mut self, dir: &Path) -> Result<()> {
        let mut rng = self.rng_for(0);
        let mut table = Table::create(
            dir,
            "products.csv",
            &[
                "product_id",
                "title",
                "description",
                "category",
                "brand",
                "price",
            ],
        )?;
        for i in 0..self.params.products {
            let category = if (i as usize) < CATEGORIES.len() {
                i as usize
            } else {
                rng.random_range(0..CATEGORIES.len())
            };
            let cat = &CATEGORIES[category];
            let item = rng.random_range(0..cat.items.len());
            let zh = rng.random::<f64>() < self.params.zh_product_share;
            let (title, description, brand) = text::product(&mut rng, cat, &cat.items[item], zh);
            let z: f64 = rng.sample(StandardNormal);
            let price = cat.price * (0.45 * z).exp();
            // Shop prices end in .99 (or .49/.99 below 10).
            let price_cents = if price < 10.0 {
                ((price * 2.0).round().max(2.0) * 50.0) as i64 - 1
            } else {
                (price.round() * 100.0) as i64 - 1
            };
            let quality = 0.4 * rng.sample::<f64, _>(StandardNormal);
            self.pid.clear();
            product_id(&mut self.pid, i);
            table.field(&self.pid)?;
            table.field(&title)?;
            table.field(&description)?;
            table.field(cat.name)?;
            table.field(brand)?;
            table.field_cents(price_cents)?;
            table.end()?;
            self.by_category[category].push(i);
            self.products.push(Product {
                category: category as u8,
                item: item as u16,
                price_cents,
                quality,
            });
        }
        table.finish()?;
        self.summary.products = self.products.len() as u64;
        Ok(())
    }

    /// A product of `category`, popular ones (early in the list) more often: index = ⌊n·u²⌋.
    fn draw_product(&self, rng: &mut ChaCha8Rng, category: usize) -> u32 {
        let pool = &self.by_category[category];
        if pool.is_empty() {
            return rng.random_range(0..self.products.len() as u32);
        }
        let u: f64 = rng.random();
        pool[((u * u * pool.len() as f64) as usize).min(pool.len() - 1)]
    }

    /// A product from the favourite category 60% of the time, else from any category.
    fn browse_product(&self, rng: &mut ChaCha8Rng, favourite: usize) -> u32 {
        let category = if rng.random::<f64>() < 0.6 {
            favourite
        } else {
            rng.random_range(0..CATEGORIES.len())
        };
        self.draw_product(rng, category)
    }

    /// Seconds into a day, following `HOUR_WEIGHTS`.
    fn time_of_day(&self, rng: &mut ChaCha8Rng) -> i64 {
        let u: f64 = rng.random();
        let hour = self.hour_cdf.iter().position(|&c| u < c).unwrap_or(23) as i64;
        hour * 3600 + rng.random_range(0..3600)
    }

    /// Day of first purchase (or sign-up of a prospect), in days since start: a linear ramp from 1 to
    /// `acquisition_growth` times a holiday bump, sampled by rejection.
    fn acquisition_day(&self, rng: &mut ChaCha8Rng) -> f64 {
        let g = self.params.acquisition_growth;
        let boost = self.params.holiday_boost;
        let bound = g.max(1.0) * (1.0 + boost);
        for _ in 0..1000 {
            let t = rng.random::<f64>() * self.span_days;
            let (_, month, day) = civil_from_days(self.start_days + t as i64);
            let holiday = month == 12 || (month == 11 && day >= 15);
            let density =
                (1.0 + (g - 1.0) * t / self.span_days) * if holiday { 1.0 + boost } else { 1.0 };
            if rng.random::<f64>() * bound < density {
                return t;
            }
        }
        rng.random::<f64>() * self.span_days
    }

    fn latent(&self, rng: &mut ChaCha8Rng) -> (Latent, f64, i64) {
        let params = self.params;
        let zh = rng.random::<f64>() < params.zh_customer_share;
        let place = text::place(rng, if zh { text::PLACES_ZH } else { text::PLACES_EN });
        let satisfaction: f64 = rng.sample(StandardNormal);
        let lambda = self.lambda_dist.sample(rng).max(1e-12);
        let base_p = self.p_dist.sample(rng).clamp(1e-9, 1.0 - 1e-9);
        let p =
            logistic((base_p / (1.0 - base_p)).ln() - params.satisfaction_effect * satisfaction);
        let leave_prob = if params.leave_after_issue > 0.0 {
            let l = params.leave_after_issue;
            logistic((l / (1.0 - l)).ln() - params.satisfaction_effect * satisfaction)
        } else {
            0.0
        };
        let nu = self.nu_dist.sample(rng).max(1e-12);
        let favourite = rng.random_range(0..CATEGORIES.len());
        let mut u = rng.random::<f64>();
        let mut channel = ORDER_CHANNELS.len() - 1;
        for (i, (_, w)) in ORDER_CHANNELS.iter().enumerate() {
            if u < *w {
                channel = i;
                break;
            }
            u -= w;
        }
        let prospect = rng.random::<f64>() < params.prospect_share;
        let first_day = self.acquisition_day(rng);
        let first_at = self.start_secs + first_day as i64 * DAY + self.time_of_day(rng);
        let lag = if rng.random_bool(0.5) {
            rng.random_range(300..3600)
        } else {
            (rng.sample::<f64, _>(Exp1) * 4.0 * DAY as f64) as i64
        };
        let created_at = if prospect {
            first_at
        } else {
            (first_at - lag).max(self.start_secs)
        };
        let latent = Latent {
            zh,
            place,
            satisfaction,
            lambda,
            base_p,
            p,
            leave_prob,
            nu,
            favourite,
            channel,
            prospect,
            created_at,
        };
        (latent, first_day, first_at)
    }

    fn push_event(&mut self, at: i64, kind: u8, product: u32, session: u64) {
        if at < self.end_secs {
            self.events.push(Event {
                at,
                kind,
                product,
                session,
            });
        }
    }

    fn new_session(&mut self) -> u64 {
        self.sessions += 1;
        self.sessions
    }

    fn customer(&mut self, index: u64) -> Result<()> {
        let mut rng = self.rng_for(index.wrapping_add(1));
        let (c, first_day, first_purchase) = self.latent(&mut rng);
        self.cid.clear();
        push_id(&mut self.cid, 'C', index + 1, 8);
        self.events.clear();

        let t = &mut self.tables.customers;
        t.field(&self.cid)?;
        t.field_ts(c.created_at)?;
        t.field(c.place.country)?;
        t.field(c.place.region)?;
        t.field(c.place.city)?;
        self.text.clear();
        text::push_email(&mut self.text, &mut rng, c.zh, index + 1);
        t.field(&self.text)?;
        self.text.clear();
        if rng.random::<f64>() < 0.75 {
            text::push_phone(&mut self.text, &mut rng, c.place.country);
        }
        t.field(&self.text)?;
        t.end()?;

        // Purchases: BG/NBD with exponential gaps while alive, dropout after repeat purchases.
        let mut orders = 0u64;
        let mut first_at = None;
        let mut last_at = None;
        let mut dropout_at = None;
        if !c.prospect {
            let mut day = first_day;
            let mut prev = i64::MIN;
            loop {
                let mut at = if orders == 0 {
                    first_purchase
                } else {
                    self.start_secs + day as i64 * DAY + self.time_of_day(&mut rng)
                };
                if at <= prev {
                    at = prev + rng.random_range(600..7200);
                }
                if at >= self.end_secs {
                    break;
                }
                let leaving = self.order(&mut rng, &c, at)?;
                orders += 1;
                first_at.get_or_insert(at);
                last_at = Some(at);
                prev = at;
                // A customer who resolved to leave after a bad order drops out then, first order
                // or not; otherwise BG/NBD's coin after each repeat purchase.
                if leaving || (orders > 1 && rng.random::<f64>() < c.p) {
                    dropout_at = Some(at);
                    break;
                }
                day += rng.sample::<f64, _>(Exp1) * 7.0 / c.lambda;
                if day.is_nan() || day >= self.span_days {
                    break;
                }
            }
        }

        // Browsing and e-mail: busy while alive, a trickle of e-mail opens afterwards.
        let browse_rate = (self.params.browse_sessions_per_week
            + self.params.browse_sessions_per_purchase * c.lambda)
            / WEEK;
        let alive_until = if c.prospect {
            (c.created_at + (rng.sample::<f64, _>(Exp1) * 60.0 * DAY as f64) as i64)
                .min(self.end_secs)
        } else {
            dropout_at.unwrap_or(self.end_secs)
        };
        self.browse(&mut rng, &c, c.created_at, alive_until, browse_rate);
        let (open_rate, after_rate) = (
            self.params.email_opens_per_week / WEEK,
            self.params.email_opens_after_dropout_per_week / WEEK,
        );
        if c.prospect {
            self.emails(&mut rng, &c, c.created_at, self.end_secs, after_rate, 0.05);
        } else {
            self.emails(&mut rng, &c, c.created_at, alive_until, open_rate, 0.25);
            if alive_until < self.end_secs {
                self.emails(&mut rng, &c, alive_until, self.end_secs, after_rate, 0.05);
            }
        }
        self.write_events()?;

        // Ground truth.
        let alive = !c.prospect && dropout_at.is_none();
        let t = &mut self.tables.truth;
        t.field(&self.cid)?;
        t.field(if c.prospect { "true" } else { "false" })?;
        t.field(if alive { "true" } else { "false" })?;
        match dropout_at {
            Some(d) => t.field_ts(d)?,
            None => t.field("")?,
        }
        let churned_recently = dropout_at.is_some_and(|d| d >= self.end_secs - HORIZON_DAYS * DAY);
        t.field(if churned_recently { "true" } else { "false" })?;
        // Full precision: tiny rates must not round to zero.
        t.field_fmt(format_args!("{}", c.lambda))?;
        t.field_fmt(format_args!("{}", c.p))?;
        t.field_fmt(format_args!("{}", c.base_p))?;
        t.field_fmt(format_args!("{:.2}", self.params.spend_p / c.nu))?;
        t.field_fmt(format_args!("{:.4}", c.satisfaction))?;
        t.field_fmt(format_args!("{orders}"))?;
        match first_at {
            Some(a) => t.field_ts(a)?,
            None => t.field("")?,
        }
        match last_at {
            Some(a) => t.field_ts(a)?,
            None => t.field("")?,
        }
        // Fader, Hardie & Lee (2005), E[X(t) | λ, p] = (1 − e^(−λpt)) / p for a customer alive now.
        let weeks = HORIZON_DAYS as f64 / 7.0;
        let expected = if alive {
            (1.0 - (-c.lambda * c.p * weeks).exp()) / c.p
        } else {
            0.0
        };
        t.field_fmt(format_args!("{expected:.4}"))?;
        t.end()?;
        self.summary.customers += 1;
        Ok(())
    }

    /// One order at `at`: the session before it, its lines, and what follows (review, ticket).
    /// Returns whether the order's issue made the customer resolve to leave after it.
    fn order(&mut self, rng: &mut ChaCha8Rng, c: &Latent, at: i64) -> Result<bool> {
        self.summary.orders += 1;
        self.oid.clear();
        push_id(&mut self.oid, 'O', self.summary.orders, 9);

        // Basket: up to 1 + Geometric(0.45) lines (at most 6) sharing the Gamma-Gamma target at random;
        // each line takes the best-priced of four products for its share of what is left.
        let target_cents = self.spend_dist.sample(rng) / c.nu * 100.0;
        let mut n_lines = 1;
        while n_lines < 6 && rng.random::<f64>() < 0.45 {
            n_lines += 1;
        }
        let mut weights = [0.0f64; 6];
        for w in &mut weights[..n_lines] {
            *w = rng.sample::<f64, _>(Exp1);
        }
        let mut weight_left: f64 = weights[..n_lines].iter().sum();
        let mut remaining = target_cents;
        self.lines.clear();
        for (i, w) in weights[..n_lines].iter().enumerate() {
            // What is left of the target is shared by the lines still to come.
            if i > 0 && remaining <= 0.0 {
                break;
            }
            let share = remaining * w / weight_left.max(f64::MIN_POSITIVE);
            weight_left -= w;
            let category = if rng.random::<f64>() < 0.7 {
                c.favourite
            } else {
                rng.random_range(0..CATEGORIES.len())
            };
            let mut best = self.draw_product(rng, category);
            for _ in 0..3 {
                let other = self.draw_product(rng, category);
                let gap = |p: u32| (self.products[p as usize].price_cents as f64 - share).abs();
                if gap(other) < gap(best) {
                    best = other;
                }
            }
            let list = self.products[best as usize].price_cents;
            // One line in ten is on promotion at 15% off.
            let unit_cents = if rng.random::<f64>() < 0.1 {
                (list as f64 * 0.85).round() as i64
            } else {
                list
            };
            let quantity = (share / unit_cents.max(1) as f64).round().clamp(1.0, 4.0) as u32;
            if let Some(l) = self
                .lines
                .iter_mut()
                .find(|l| l.product == best && l.unit_cents == unit_cents)
            {
                l.quantity += quantity;
            } else {
                self.lines.push(Line {
                    product: best,
                    quantity,
                    unit_cents,
                });
            }
            remaining -= f64::from(quantity) * unit_cents as f64;
        }

        // The session that led to the order: views, add-to-cart per line, checkout.
        let floor = c.created_at.max(self.start_secs);
        let session = self.new_session();
        for _ in 0..rng.random_range(0..4u32) {
            let p = self.browse_product(rng, c.favourite);
            self.push_event(
                (at - rng.random_range(300..2400)).max(floor),
                VIEW,
                p,
                session,
            );
        }
        for i in 0..self.lines.len() {
            let p = self.lines[i].product;
            self.push_event(
                (at - rng.random_range(200..1200)).max(floor),
                VIEW,
                p,
                session,
            );
            self.push_event(
                (at - rng.random_range(60..200)).max(floor),
                ADD_TO_CART,
                p,
                session,
            );
        }
        self.push_event(
            (at - rng.random_range(10..60)).max(floor),
            CHECKOUT,
            NO_PRODUCT,
            session,
        );

        // What the customer experiences: satisfaction, the product's quality, and luck.
        let first = self.lines[0].product as usize;
        let experience = c.satisfaction
            + self.products[first].quality
            + 0.6 * rng.sample::<f64, _>(StandardNormal);
        let cancelled = rng.random::<f64>() < CANCEL_PROB;
        let issue =
            if cancelled || rng.random::<f64>() >= logistic(ISSUE_INTERCEPT - 1.5 * experience) {
                Issue::None
            } else {
                match rng.random::<f64>() {
                    u if u < 0.5 => Issue::LateDelivery,
                    u if u < 0.8 => Issue::BrokenItem,
                    _ => Issue::WrongItem,
                }
            };
        // An issue may make the customer resolve to leave (no draw when switched off, so the
        // shop without it is reproduced exactly).
        let leaving =
            issue != Issue::None && c.leave_prob > 0.0 && rng.random::<f64>() < c.leave_prob;
        let returned = !cancelled
            && rng.random::<f64>()
                < if matches!(issue, Issue::BrokenItem | Issue::WrongItem) {
                    ISSUE_RETURN_PROB
                } else {
                    BASE_RETURN_PROB
                };
        let status = if cancelled {
            "cancelled"
        } else if returned {
            "returned"
        } else {
            "completed"
        };
        let channel = if rng.random::<f64>() < 0.8 {
            c.channel
        } else {
            rng.random_range(0..ORDER_CHANNELS.len())
        };

        let amount: i64 = self
            .lines
            .iter()
            .map(|l| i64::from(l.quantity) * l.unit_cents)
            .sum();
        let t = &mut self.tables.orders;
        t.field(&self.oid)?;
        t.field(&self.cid)?;
        t.field_ts(at)?;
        t.field_cents(amount)?;
        t.field(&self.params.currency)?;
        t.field(status)?;
        t.field(ORDER_CHANNELS[channel].0)?;
        t.end()?;
        for (i, l) in self.lines.iter().enumerate() {
            let t = &mut self.tables.items;
            t.field(&self.oid)?;
            t.field_fmt(format_args!("{}", i + 1))?;
            self.pid.clear();
            product_id(&mut self.pid, l.product);
            t.field(&self.pid)?;
            t.field_fmt(format_args!("{}", l.quantity))?;
            t.field_cents(l.unit_cents)?;
            t.end()?;
        }
        self.summary.order_items += self.lines.len() as u64;
        if cancelled {
            return Ok(false);
        }

        // Review of one of the order's products; rating and wording follow the experience.
        if rng.random::<f64>() < self.params.review_prob {
            let line = self.lines[rng.random_range(0..self.lines.len())];
            let noise: f64 = rng.sample(StandardNormal);
            let hit = if issue == Issue::None { 0.0 } else { 1.2 };
            let rating = (4.1 + 0.9 * experience - hit + 0.5 * noise)
                .round()
                .clamp(1.0, 5.0) as u8;
            let when = at + rng.random_range(2 * DAY..20 * DAY);
            if when < self.end_secs {
                let noun = self.noun(line.product, c.zh);
                self.text.clear();
                text::push_review(&mut self.text, rng, rating, issue, c.zh, noun);
                if leaving && rng.random::<f64>() < SAYS_LEAVING_PROB {
                    text::push_leaving(&mut self.text, rng, c.zh);
                }
                self.summary.reviews += 1;
                self.pid.clear();
                product_id(&mut self.pid, line.product);
                let t = &mut self.tables.reviews;
                t.field_id('R', self.summary.reviews, 9)?;
                t.field(&self.cid)?;
                t.field(&self.pid)?;
                t.field_fmt(format_args!("{rating}"))?;
                t.field(&self.text)?;
                t.field_ts(when)?;
                t.field(if c.zh { "zh" } else { "en" })?;
                t.end()?;
            }
        }

        // Tickets: about the issue, about the refund of a return, or a question or praise.
        let mut topics = [None, None];
        if issue != Issue::None && rng.random::<f64>() < 0.7 {
            topics[0] = Some(match issue {
                Issue::LateDelivery => Topic::LateDelivery,
                Issue::BrokenItem => Topic::BrokenItem,
                _ => Topic::WrongItem,
            });
        } else if issue == Issue::None && rng.random::<f64>() < 0.02 {
            topics[0] = Some(Topic::Question);
        } else if issue == Issue::None && experience > 1.0 && rng.random::<f64>() < 0.04 {
            topics[0] = Some(Topic::Praise);
        }
        if returned && rng.random::<f64>() < 0.6 {
            topics[1] = Some(Topic::Refund);
        }
        for topic in topics.into_iter().flatten() {
            self.ticket(rng, c, topic, at, first as u32, leaving)?;
        }
        Ok(leaving)
    }

    fn noun(&self, product: u32, zh: bool) -> &'static str {
        let p = &self.products[product as usize];
        let item = &CATEGORIES[p.category as usize].items[p.item as usize];
        if zh {
            item.zh
        } else {
            item.en
        }
    }

    fn ticket(
        &mut self,
        rng: &mut ChaCha8Rng,
        c: &Latent,
        topic: Topic,
        at: i64,
        product: u32,
        leaving: bool,
    ) -> Result<()> {
        let (lo, hi) = match topic {
            Topic::LateDelivery => (4, 14),
            Topic::BrokenItem | Topic::WrongItem => (2, 7),
            Topic::Refund => (10, 25),
            Topic::Question => (0, 2),
            Topic::Praise => (3, 10),
        };
        let when = at + rng.random_range(lo * DAY..hi * DAY + DAY);
        if when >= self.end_secs {
            return Ok(());
        }
        let angry = c.satisfaction + 0.5 * rng.sample::<f64, _>(StandardNormal) < -0.8;
        let noun = self.noun(product, c.zh);
        let city = if c.zh { c.place.city_zh } else { c.place.city };
        self.text.clear();
        let fill = text::Fill {
            noun,
            order: &self.oid,
            city,
        };
        text::push_ticket(&mut self.text, rng, topic, c.zh, angry, fill);
        if leaving && rng.random::<f64>() < SAYS_LEAVING_PROB {
            text::push_leaving(&mut self.text, rng, c.zh);
        }
        let negative = matches!(
            topic,
            Topic::LateDelivery | Topic::BrokenItem | Topic::WrongItem | Topic::Refund
        );
        let resolved = rng.random::<f64>() < if negative { 0.75 } else { 0.97 };
        let u: f64 = rng.random();
        let channel = match (c.zh, u) {
            (true, u) if u < 0.5 => "wechat",
            (true, u) if u < 0.8 => "chat",
            (false, u) if u < 0.5 => "email",
            (false, u) if u < 0.85 => "chat",
            (false, _) => "phone",
            (true, _) => "email",
        };
        self.summary.tickets += 1;
        let t = &mut self.tables.tickets;
        t.field_id('T', self.summary.tickets, 9)?;
        t.field(&self.cid)?;
        t.field(&self.text)?;
        t.field_ts(when)?;
        t.field(channel)?;
        t.field(if resolved { "true" } else { "false" })?;
        t.end()
    }

    /// Browsing sessions in [from, until) at `rate` per second: a few views, sometimes an abandoned cart.
    fn browse(&mut self, rng: &mut ChaCha8Rng, c: &Latent, from: i64, until: i64, rate: f64) {
        if rate <= 0.0 {
            return;
        }
        let mut x = from as f64 + rng.sample::<f64, _>(Exp1) / rate;
        while x < until as f64 {
            let session = self.new_session();
            let mut at = x as i64;
            let mut last = NO_PRODUCT;
            for _ in 0..rng.random_range(1..=4u32) {
                last = self.browse_product(rng, c.favourite);
                self.push_event(at, VIEW, last, session);
                at += rng.random_range(20..180);
            }
            if rng.random::<f64>() < 0.2 {
                self.push_event(at, ADD_TO_CART, last, session);
            }
            x += rng.sample::<f64, _>(Exp1) / rate;
        }
    }

    /// Marketing e-mail opens in [from, until) at `rate` per second; a click starts a session.
    fn emails(
        &mut self,
        rng: &mut ChaCha8Rng,
        c: &Latent,
        from: i64,
        until: i64,
        rate: f64,
        click_prob: f64,
    ) {
        if rate <= 0.0 {
            return;
        }
        let mut x = from as f64 + rng.sample::<f64, _>(Exp1) / rate;
        while x < until as f64 {
            let at = x as i64;
            self.push_event(at, EMAIL_OPEN, NO_PRODUCT, 0);
            if rng.random::<f64>() < click_prob {
                let session = self.new_session();
                let p = self.browse_product(rng, c.favourite);
                let click = at + rng.random_range(5..300);
                self.push_event(click, EMAIL_CLICK, p, session);
                self.push_event(click + rng.random_range(2..60), VIEW, p, session);
            }
            x += rng.sample::<f64, _>(Exp1) / rate;
        }
    }

    /// Writes the customer's buffered events in time order (stable: ties keep their order).
    fn write_events(&mut self) -> Result<()> {
        self.events.sort_by_key(|e| e.at);
        for i in 0..self.events.len() {
            let e = self.events[i];
            self.summary.events += 1;
            let t = &mut self.tables.events;
            t.field_id('E', self.summary.events, 11)?;
            t.field(&self.cid)?;
            t.field(EVENT_NAMES[e.kind as usize])?;
            t.field_ts(e.at)?;
            if e.product == NO_PRODUCT {
                t.field("")?;
            } else {
                self.pid.clear();
                product_id(&mut self.pid, e.product);
                t.field(&self.pid)?;
            }
            if e.session == 0 {
                t.field("")?;
            } else {
                t.field_id('S', e.session, 10)?;
            }
            t.end()?;
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Manifest<'a> {
    generator: &'static str,
    params: &'a SimParams,
    summary: &'a SimSummary,
}

/// Generates the shop described by `params` into `out_dir` (created if missing): the CSV files listed in
/// the crate docs and `simulation.json` (the parameters and row counts). `progress` is called with the
/// number of customers done, every 1,000 customers and once at the end.
///
/// # Errors
///
/// [`Error::Period`] or [`Error::Param`] for parameters out of range (nothing is written then),
/// [`Error::OutDir`] when `out_dir` cannot be created, [`Error::Write`] when a file cannot be written.
pub fn generate(
    params: &SimParams,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<SimSummary> {
    params.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|source| Error::OutDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut g = Gen::new(params, out_dir)?;
    g.catalogue(out_dir)?;
    for index in 0..params.customers {
        g.customer(index)?;
        if (index + 1) % 1000 == 0 {
            progress(index + 1);
        }
    }
    if !params.customers.is_multiple_of(1000) || params.customers == 0 {
        progress(params.customers);
    }
    let Gen {
        tables, summary, ..
    } = g;
    tables.finish()?;
    let path = out_dir.join("simulation.json");
    let manifest = Manifest {
        generator: concat!("tenure-sim ", env!("CARGO_PKG_VERSION")),
        params,
        summary: &summary,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Write {
        path: path.clone(),
        source: e.into(),
    })?;
    std::fs::write(&path, json).map_err(|source| Error::Write { path, source })?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(params: &SimParams) -> (tempfile::TempDir, SimSummary) {
        let dir = tempfile::tempdir().expect("tempdir");
        let summary = generate(params, dir.path(), &mut |_| {}).expect("generates");
        (dir, summary)
    }

    #[test]
    fn zero_customers_writes_headers_only() {
        let (dir, s) = run(&SimParams {
            customers: 0,
            products: 3,
            ..SimParams::default()
        });
        assert_eq!(
            s,
            SimSummary {
                products: 3,
                ..SimSummary::default()
            }
        );
        for name in [
            "customers",
            "orders",
            "order_items",
            "events",
            "reviews",
            "tickets",
            "ground_truth",
        ] {
            let text =
                std::fs::read_to_string(dir.path().join(format!("{name}.csv"))).expect("file");
            assert_eq!(text.lines().count(), 1, "{name} has only its header");
        }
    }

    #[test]
    fn refuses_bad_params_before_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("shop");
        let d = SimParams::default();
        let e = generate(&SimParams { end: d.start, ..d }, &out, &mut |_| {}).expect_err("refused");
        assert!(matches!(e, Error::Period { .. }), "{e}");
        assert!(!out.exists(), "nothing written for bad parameters");
    }

    #[test]
    fn unwritable_out_dir_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").expect("write");
        let e = generate(
            &SimParams {
                customers: 1,
                ..SimParams::default()
            },
            &file.join("shop"),
            &mut |_| {},
        )
        .expect_err("refused");
        assert!(matches!(e, Error::OutDir { .. }), "{e}");
        assert!(
            e.to_string().contains("writable") || e.to_string().contains("write to"),
            "{e}"
        );
    }

    #[test]
    fn one_product_and_extreme_rates_do_not_panic() {
        let params = SimParams {
            customers: 50,
            products: 1,
            r: 5.0,
            alpha: 0.5,
            a: 0.01,
            b: 100.0,
            ..SimParams::default()
        };
        let (_dir, s) = run(&params);
        assert_eq!(s.customers, 50);
        let params = SimParams {
            customers: 50,
            r: 1e-6,
            holiday_boost: 0.0,
            acquisition_growth: 1e-3,
            ..SimParams::default()
        };
        run(&params);
    }

    #[test]
    fn customers_do_not_depend_on_how_many_come_after() {
        let (small, _) = run(&SimParams {
            customers: 20,
            ..SimParams::default()
        });
        let (large, _) = run(&SimParams {
            customers: 40,
            ..SimParams::default()
        });
        let read = |d: &tempfile::TempDir, name: &str| {
            std::fs::read_to_string(d.path().join(name)).expect("file")
        };
        for name in ["customers.csv", "ground_truth.csv", "orders.csv"] {
            let (a, b) = (read(&small, name), read(&large, name));
            assert!(
                b.starts_with(&a),
                "{name}: the first 20 customers are the same in a run of 40"
            );
        }
    }

    #[test]
    fn progress_reports_every_thousand_and_the_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut seen = Vec::new();
        generate(
            &SimParams {
                customers: 2500,
                products: 20,
                ..SimParams::default()
            },
            dir.path(),
            &mut |n| seen.push(n),
        )
        .expect("generates");
        assert_eq!(seen, vec![1000, 2000, 2500]);
    }
}
