//! A synthetic shop for tenure's demo, tests and scale benchmarks: [`generate`] writes customers,
//! products, orders, order items, events, reviews, support tickets and the ground truth behind them as
//! CSV files named and laid out like tenure's store tables, streaming one customer at a time so memory
//! stays flat at any size, and byte-identical for the same [`SimParams`].
//!
//! # Files
//!
//! All CSV files have a header row, commas, RFC 4180 quoting, `\n` line ends, timestamps as
//! `YYYY-MM-DDTHH:MM:SSZ` (UTC) within the period (`start` 00:00:00 to `end` 23:59:59), money with two
//! decimals in `currency`, booleans as `true`/`false`, and empty fields for missing values.
//!
//! | file | columns |
//! |---|---|
//! | `customers.csv` | customer_id, created_at, country, region, city, email, phone (empty for 25%) |
//! | `products.csv` | product_id, title, description, category, brand, price |
//! | `orders.csv` | order_id, customer_id, ordered_at, amount, currency, status, channel |
//! | `order_items.csv` | order_id, line, product_id, quantity, unit_price |
//! | `events.csv` | event_id, customer_id, event_type, occurred_at, product_id, session_id |
//! | `reviews.csv` | review_id, customer_id, product_id, rating, text, created_at, language |
//! | `tickets.csv` | ticket_id, customer_id, text, created_at, channel, resolved |
//! | `ground_truth.csv` | customer_id, prospect, alive_at_end, dropout_at, churned_in_last_90d, purchase_rate_per_week, dropout_prob, base_dropout_prob, mean_spend, satisfaction, orders, first_order_at, last_order_at, expected_orders_next_90d |
//!
//! plus `simulation.json` with the parameters and the [`SimSummary`]. Ids are zero-padded with a
//! prefix: `C00000001`, `P000001`, `O000000001`, `E00000000001`, `R000000001`, `T000000001`,
//! `S0000000001` (sessions). Rows are grouped by customer; a customer's events are in time order.
//!
//! - `status` is `completed`, `cancelled` or `returned`. Every order keeps its positive lines and
//!   `amount` is exactly Σ quantity × unit_price for every status; a return is marked by
//!   `status = returned` only (no negative lines), a cancellation by `cancelled`.
//! - `unit_price` is the product's `price`, or 15% off it on one line in ten (a promotion).
//! - `channel` of orders is `web`, `app` or `marketplace`; of tickets `email`, `chat`, `phone` or `wechat`.
//! - `event_type` is `view`, `add_to_cart`, `checkout`, `email_open` or `email_click`;
//!   `email_open` has no product or session, `checkout` no product.
//! - `language` of a review is `en` or `zh`; 30% of products have Chinese titles and descriptions.
//!
//! # The process
//!
//! Time runs in days from `start`. Each customer draws, from its own stream:
//!
//! 1. a place (Chinese-writing with probability `zh_customer_share`), which fixes the language of
//!    everything the customer writes;
//! 2. a latent **satisfaction** s ~ N(0, 1);
//! 3. a purchase rate λ ~ Gamma(shape `r`, rate `alpha`) per week and a base dropout probability
//!    p ~ Beta(`a`, `b`) (BG/NBD, Fader, Hardie & Lee 2005), and the effective dropout probability
//!    **p' = logistic(logit(p) − `satisfaction_effect` · s)**;
//! 4. a spend rate ν ~ Gamma(shape `spend_q`, rate `spend_gamma`) (Gamma-Gamma, Fader & Hardie 2013);
//!    each order's target spend is Gamma(shape `spend_p`, rate ν), so the true mean is `spend_p / ν`;
//! 5. a favourite category, a preferred order channel, and whether it is a **prospect** (with
//!    probability `prospect_share`: signs up, browses, never orders);
//! 6. the day of its first purchase from the acquisition curve: a linear ramp from 1 to
//!    `acquisition_growth` over the period, times (1 + `holiday_boost`) from 15 November to 31 December;
//!    sign-up (`created_at`) is minutes to days earlier.
//!
//! Then, for non-prospects, the BG/NBD story: the first purchase on that day; while alive, further
//! purchases after exponential gaps with rate λ; **after each repeat purchase** (not the first, as in
//! BG/NBD) the customer drops out for good with probability p', and `dropout_at` is that purchase's
//! timestamp. Purchases past the end are not written. Every order in `orders.csv`, whatever its status,
//! is one transaction of this process. Its basket has 1 + Geometric(0.45) lines (at most 6) that split
//! the target spend at random; each line takes, of four products (70% from the favourite category,
//! popular ones more often), the one priced closest to its share, so `amount` tracks the Gamma-Gamma
//! target up to whole items. The time of day follows an evening-peaked daily profile.
//!
//! Events: each order is preceded by its session (0–3 extra views, a view and an add-to-cart per line,
//! a checkout, all within 40 minutes before). While alive, browsing sessions without purchase come at
//! `browse_sessions_per_week + browse_sessions_per_purchase · λ` per week (1–4 views, an abandoned cart
//! one time in five) and marketing e-mails are opened at `email_opens_per_week` (a quarter of them
//! clicked, starting a session). After dropout browsing stops and only e-mail opens continue, at
//! `email_opens_after_dropout_per_week` (5% clicked). Prospects browse for about 60 days after sign-up.
//!
//! # The planted text signal
//!
//! Satisfaction s is the only latent draw shared by what customers write and whether they leave
//! (λ, p and ν are drawn independently of it). It works as follows, so that a test can rely on it:
//!
//! - **Dropout**: p' above; with the default β = 1, one standard deviation less satisfaction multiplies
//!   the odds of dropping out after a purchase by e^β ≈ 2.7. `satisfaction_effect = 0` removes the
//!   link (with `leave_after_issue = 0` as well, text then says nothing about dropout).
//! - **Experience** of each non-cancelled order: e = s + q + 0.6·N(0, 1), where q ~ N(0, 0.4) is the
//!   quality of the order's first product.
//! - **Issues**: with probability logistic(−2.8 − 1.5·e) (5.7% at e = 0, 21% at e = −1) the order has
//!   an issue: late delivery (50%), broken item (30%) or wrong item (20%). A broken or wrong item is returned with probability 0.6,
//!   any other order with 0.02; cancellations (2.5%) happen before any experience.
//! - **Reviews**: a completed or returned order is reviewed with probability `review_prob`, 2–20 days
//!   later, about one of its products: rating = clamp(round(4.1 + 0.9·e − 1.2·I + 0.5·N(0, 1)), 1, 5)
//!   with I = 1 when the order had an issue, else 0; reviews dated past the end are not written.
//!   The text is assembled from phrase lists by tone: ratings 4–5 praise, 3 is lukewarm, 1–2 complain;
//!   an issue is described (strongly at 1–2, mildly at 3–5), e.g. "Very disappointed with this
//!   electric kettle. The electric kettle arrived broken. Support never answered." or
//!   "很失望，物流太慢，等了快三周。已申请退款。".
//! - **Tickets**: an issue leads to a ticket about it (late delivery, broken item, wrong item) with
//!   probability 0.7; a return to a refund ticket with probability 0.6; an order without an issue to a
//!   question with probability 0.02 or, when e > 1, to praise with probability 0.04. Complaints add an
//!   angry sentence when s + 0.5·N(0, 1) < −0.8, and are resolved 75% of the time (others 97%).
//!   Tickets come 0–25 days after the order depending on the topic; those past the end are not written.
//!
//! - **Resolving to leave** (`leave_after_issue`, default 0.5): after an order with an issue the
//!   customer resolves to leave with probability logistic(logit(`leave_after_issue`) − β·s) (0.5 at
//!   s = 0, 0.73 at s = −1) and then drops out right after that order — first order or not, so
//!   `dropout_at` is that order's timestamp. The order's review and ticket, when written, then add
//!   a sentence saying so ("This was my last order here.", "I'll buy elsewhere from now on.",
//!   "这是我最后一次在这里买东西了。") with probability 0.9 each. The rating, the issue, the
//!   return and whether a ticket is written follow the same rules as for customers who stay, so the
//!   structured columns (ratings, ticket counts, returns) cannot tell the leavers from the stayers
//!   among customers with the same bad order: only the words do. This is the signal a language
//!   model can add beyond purchase timing; `leave_after_issue = 0` switches it off and reproduces
//!   the shop without it byte for byte.
//!
//! Hence customers who dropped out have lower mean ratings, more complaint tickets and more angry
//! wording than those alive at the end, beyond what purchase timing shows. `ground_truth.csv` records
//! λ (`purchase_rate_per_week`), p' (`dropout_prob`), p (`base_dropout_prob`), `spend_p / ν`
//! (`mean_spend`), s (`satisfaction`), the state at the end (`alive_at_end` is false for dropouts and
//! prospects; `dropout_at` is empty for both alive customers and prospects), `churned_in_last_90d`
//! (dropout within the last 90 days) and `expected_orders_next_90d` = (1 − e^(−λp't))/p' for t = 90/7
//! weeks if alive, else 0.
//!
//! # Determinism and scale
//!
//! The catalogue comes from ChaCha8 stream 0 and customer i (0-based) from stream i + 1 of a generator
//! keyed by `seed`, so a customer's rows do not depend on how many customers come before or after it;
//! ids are counters in customer order. Only the catalogue is held in memory; all files are written
//! through buffers reused across rows.

mod error;
mod histories;
mod out;
mod params;
mod sim;
mod text;

pub use error::{Error, Result};
pub use histories::{purchase_histories, HistoryParams, PurchaseHistories};
pub use params::{SimParams, SimSummary};
pub use sim::generate;
